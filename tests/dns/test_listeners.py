import asyncio
import socket

import pytest

from netwarden.dns.listeners import Endpoint, Listeners, NameserverError


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
                writer.write(b"\x00\x02hi")
                assert await reader.readexactly(4) == b"\x00\x02hi"
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
