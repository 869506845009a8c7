import asyncio
import socket
import time

import pytest
from support import eventually

from netwarden.dns import listeners as listeners_module
from netwarden.dns.listeners import Endpoint, Listeners, NameserverError

# As long as a DNS header: shorter messages end their TCP connection.
MESSAGE = b"sixteen bytes..."
FRAMED = len(MESSAGE).to_bytes(2, "big") + MESSAGE


async def echo(wire: bytes, client: Endpoint, server: Endpoint) -> bytes:
    return wire


class FirstPortTaken(Listeners):
    """Hands out, once, a UDP port whose TCP twin a client already holds."""

    def __init__(self, taken_port: int) -> None:
        super().__init__(echo, [("127.0.0.1", 0)], lambda: None)
        self.taken_port = taken_port
        self.udp_ports: list[int] = []

    async def _listen_udp(self, host: str, port: int) -> asyncio.DatagramTransport:
        transport = await super()._listen_udp(
            host, self.taken_port if not self.udp_ports else port
        )
        self.udp_ports.append(transport.get_extra_info("sockname")[1])
        return transport


def tcp_client_port() -> socket.socket:
    # Bound like a client's ephemeral port: no SO_REUSEADDR, so no server
    # may bind the same TCP port while it lives.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def test_a_picked_port_taken_over_tcp_is_replaced_by_another() -> None:
    async def run() -> None:
        with tcp_client_port() as held:
            taken = held.getsockname()[1]
            listeners = FirstPortTaken(taken)
            await listeners.start()
            try:
                ((_, port),) = listeners.addresses
                assert listeners.udp_ports[0] == taken
                assert port == listeners.udp_ports[-1] != taken
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(FRAMED)
                assert await reader.readexactly(len(FRAMED)) == FRAMED
                writer.close()
            finally:
                await listeners.stop()
        # The UDP socket of the refused port was closed, not leaked.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", taken))

    asyncio.run(run())


def test_a_fixed_port_in_use_is_an_error_naming_it() -> None:
    async def run() -> None:
        with tcp_client_port() as held:
            port = held.getsockname()[1]
            held.listen()
            listeners = Listeners(echo, [("127.0.0.1", port)], lambda: None)
            with pytest.raises(NameserverError, match="address already in use"):
                await listeners.start()
            assert listeners.addresses == []

    asyncio.run(run())


async def exchange(port: int, message: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(len(message).to_bytes(2, "big") + message)
    prefix = await reader.readexactly(2)
    answer = await reader.readexactly(int.from_bytes(prefix, "big"))
    writer.close()
    return answer


async def is_closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(10):
        return await reader.read(1) == b""


def test_at_the_tcp_limit_the_longest_idle_connection_makes_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listeners_module, "MAX_TCP_CONNECTIONS", 3)
    overloads: list[None] = []

    async def run() -> None:
        listeners = Listeners(echo, [("127.0.0.1", 0)], lambda: overloads.append(None))
        await listeners.start()
        port = listeners.addresses[0][1]
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            await eventually(lambda: len(listeners.tcp_tasks) == 3)
            # The first one asks something, so the second is now idle longest.
            first_reader, first_writer = held[0]
            first_writer.write(FRAMED)
            assert await first_reader.readexactly(len(FRAMED)) == FRAMED

            assert await exchange(port, MESSAGE) == MESSAGE
            assert await is_closed_by_server(held[1][0])
            assert not first_writer.is_closing()
            assert overloads == []
            for _, writer in held:
                writer.close()
        finally:
            await listeners.stop()

    asyncio.run(run())


def test_at_the_tcp_limit_with_none_idle_the_least_recent_busy_one_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listeners_module, "MAX_TCP_CONNECTIONS", 2)
    overloads: list[None] = []
    received: list[bytes] = []

    async def slow_unless_new(wire: bytes, client: Endpoint, server: Endpoint) -> bytes:
        received.append(wire)
        if wire != b"new" * 6:
            await asyncio.sleep(30)
        return wire

    async def run() -> None:
        listeners = Listeners(
            slow_unless_new, [("127.0.0.1", 0)], lambda: overloads.append(None)
        )
        await listeners.start()
        port = listeners.addresses[0][1]
        try:
            busy = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            for _, writer in busy:
                writer.write(FRAMED)  # answered only after 30 s
            await eventually(lambda: len(received) == 2)
            assert await exchange(port, b"new" * 6) == b"new" * 6
            assert await is_closed_by_server(busy[0][0])
            assert not busy[1][1].is_closing() and overloads == [None]
            # Stopping cancels answers in flight rather than waiting for them.
            started = time.monotonic()
            await listeners.stop()
            assert time.monotonic() - started < 10
            for _, held in busy:
                held.close()
        finally:
            await listeners.stop()

    asyncio.run(run())


def test_queries_over_all_tcp_connections_are_answered_a_bounded_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listeners_module, "MAX_TCP_QUERIES_IN_FLIGHT", 2)
    running: list[int] = [0]
    most: list[int] = [0]

    async def counting_echo(wire: bytes, client: Endpoint, server: Endpoint) -> bytes:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await asyncio.sleep(0.05)
        running[0] -= 1
        return wire

    async def run() -> None:
        listeners = Listeners(counting_echo, [("127.0.0.1", 0)], lambda: None)
        await listeners.start()
        port = listeners.addresses[0][1]
        try:
            answers = await asyncio.gather(*(exchange(port, MESSAGE) for _ in range(6)))
            assert answers == [MESSAGE] * 6
            assert most[0] == 2
        finally:
            await listeners.stop()

    asyncio.run(run())


def test_a_tcp_message_too_short_for_dns_ends_its_connection() -> None:
    # Empty messages every few seconds would otherwise hold a connection
    # open for ever, each one restarting the idle timeout.
    seen: list[bytes] = []

    async def record(wire: bytes, client: Endpoint, server: Endpoint) -> None:
        seen.append(wire)

    async def run() -> None:
        listeners = Listeners(record, [("127.0.0.1", 0)], lambda: None)
        await listeners.start()
        try:
            port = listeners.addresses[0][1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x00\x00")
            assert await is_closed_by_server(reader)
            assert seen == [b""]  # still handed over, to be counted
            writer.close()
        finally:
            await listeners.stop()

    asyncio.run(run())
