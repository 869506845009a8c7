"""The nameserver's sockets: UDP and TCP on each listen address.

Bytes in, bytes out: each message goes to a handler coroutine, whose reply
(if any) is sent back the way the query came. Work is bounded everywhere
so a flood costs memory in proportion to these limits, not to the flood:
queries in flight over UDP, TCP connections, queries in flight on one TCP
connection, and the idle time of a TCP connection. At the TCP limit, the
connection idle the longest makes room for a new one, so no program can
keep others from DNS over TCP by holding connections open.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from netwarden.errors import NetwardenError
from netwarden.network.packet import IPAddress
from netwarden.network.packet import Protocol as IPProtocol

log = logging.getLogger(__name__)

MAX_UDP_IN_FLIGHT = 1024
MAX_TCP_CONNECTIONS = 128
# RFC 7766 section 6.2.1.1 asks servers to process pipelined queries
# concurrently; a few per connection keep one client from hogging us.
MAX_TCP_IN_FLIGHT = 16
MAX_TCP_QUERIES_IN_FLIGHT = 64  # over all connections
# RFC 7766 section 6.2.3 suggests idle timeouts of seconds, not minutes.
TCP_IDLE_TIMEOUT = 10.0
TCP_LENGTH_PREFIX = 2  # RFC 1035 section 4.2.2
DNS_HEADER_LENGTH = 12  # RFC 1035 section 4.1.1
PICK_PORT_ATTEMPTS = 16


class NameserverError(NetwardenError):
    """The nameserver could not listen where it was told to."""


class Endpoint(NamedTuple):
    """One end of a DNS exchange: transport protocol, address, port."""

    protocol: IPProtocol
    ip: IPAddress
    port: int


Handler = Callable[[bytes, Endpoint, Endpoint], Awaitable[bytes | None]]


def endpoint(protocol: IPProtocol, sockname: tuple[Any, ...]) -> Endpoint:
    # IPv6 socket names are (host, port, flowinfo, scope_id); keep two.
    return Endpoint(protocol, ipaddress.ip_address(sockname[0]), sockname[1])


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listeners: Listeners) -> None:
        self.listeners = listeners
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The loop's UDP transport class does not inherit DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if len(self.listeners.udp_tasks) >= MAX_UDP_IN_FLIGHT:
            self.listeners.on_overload()
            return
        self.listeners.spawn(self._answer(data, addr), self.listeners.udp_tasks)

    async def _answer(self, data: bytes, addr: tuple[Any, ...]) -> None:
        assert self.transport is not None
        client = endpoint(IPProtocol.UDP, addr)
        server = endpoint(IPProtocol.UDP, self.transport.get_extra_info("sockname"))
        reply = await self.listeners.handler(data, client, server)
        if reply is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


@dataclass(eq=False)
class _TcpClient:
    """One DNS-over-TCP connection and the answers it is waiting for."""

    writer: asyncio.StreamWriter
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)


class Listeners:
    """UDP endpoints and TCP servers for a list of (host, port) addresses."""

    def __init__(
        self,
        handler: Handler,
        listen: Sequence[tuple[str, int]],
        on_overload: Callable[[], None],
    ) -> None:
        self.handler = handler
        self.listen = list(listen)
        self.on_overload = on_overload
        self.addresses: list[tuple[str, int]] = []
        self.udp_tasks: set[asyncio.Task[None]] = set()
        self.tcp_tasks: set[asyncio.Task[None]] = set()
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Server] = []
        # Queries over all TCP connections being answered at once: bounds
        # the work one event loop turn may face (the packet queue shares it).
        self._tcp_slots = asyncio.Semaphore(MAX_TCP_QUERIES_IN_FLIGHT)
        # Open TCP connections, the one active the longest time ago first.
        self._tcp_clients: OrderedDict[asyncio.Task[None], _TcpClient] = OrderedDict()

    async def start(self) -> None:
        try:
            for host, port in self.listen:
                await self._listen(host, port)
        except OSError as err:
            await self.stop()
            raise NameserverError(f"cannot listen for DNS: {err}") from err

    async def stop(self) -> None:
        for transport in self._udp:
            transport.close()
        for server in self._tcp:
            server.close()
        answers = [t for c in self._tcp_clients.values() for t in c.in_flight]
        for task in [*self.udp_tasks, *self.tcp_tasks, *answers]:
            task.cancel()
        await asyncio.gather(*self.udp_tasks, *self.tcp_tasks, return_exceptions=True)
        for server in self._tcp:
            await server.wait_closed()
        self._udp, self._tcp, self.addresses = [], [], []

    def spawn(
        self, coroutine: Coroutine[Any, Any, None], tasks: set[asyncio.Task[None]]
    ) -> None:
        # The loop keeps only weak references to tasks; hold them here.
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _listen(self, host: str, port: int) -> None:
        # UDP first: with port 0 the kernel picks one, and TCP takes the same.
        # That number may be some TCP client's ephemeral port; then try
        # another, a few times, as the kernel would have on its own.
        attempts = PICK_PORT_ATTEMPTS if port == 0 else 1
        for attempt in range(1, attempts + 1):
            udp = await self._listen_udp(host, port)
            picked = udp.get_extra_info("sockname")[1]
            try:
                server = await asyncio.start_server(
                    self._serve_tcp_connection, host, picked
                )
            except OSError as err:
                udp.close()
                if err.errno != errno.EADDRINUSE or attempt == attempts:
                    raise
                log.debug("TCP port %d is taken, picking another", picked)
                continue
            self._udp.append(udp)
            self._tcp.append(server)
            self.addresses.append((host, picked))
            return

    async def _listen_udp(self, host: str, port: int) -> asyncio.DatagramTransport:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port)
        )
        return transport

    async def _serve_tcp_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if len(self._tcp_clients) >= MAX_TCP_CONNECTIONS:
            self._make_room()
        task = asyncio.current_task()
        assert task is not None
        connection = _TcpClient(writer)
        self.tcp_tasks.add(task)
        self._tcp_clients[task] = connection
        try:
            await self._serve_tcp_queries(reader, connection, task)
        finally:
            self.tcp_tasks.discard(task)
            self._tcp_clients.pop(task, None)
            writer.close()

    def _make_room(self) -> None:
        """Close the connection idle the longest, to make room for a new one.

        RFC 7766 section 6.2.3 lets a server close connections when short
        of resources; otherwise a program holding every slot would keep all
        others from DNS over TCP. When none is idle, the one active the
        longest time ago goes, its queries unanswered (counted as overload).
        """
        idle = (t for t, c in self._tcp_clients.items() if not c.in_flight)
        task = next(idle, None)
        if task is None:
            task = next(iter(self._tcp_clients))
            self.on_overload()
        connection = self._tcp_clients.pop(task)
        log.debug("DNS over TCP: closing a connection for a new one")
        connection.writer.transport.abort()
        for answer in connection.in_flight:
            answer.cancel()

    async def _serve_tcp_queries(
        self,
        reader: asyncio.StreamReader,
        connection: _TcpClient,
        task: asyncio.Task[None],
    ) -> None:
        writer, in_flight = connection.writer, connection.in_flight
        client = endpoint(IPProtocol.TCP, writer.get_extra_info("peername"))
        server = endpoint(IPProtocol.TCP, writer.get_extra_info("sockname"))
        try:
            while (wire := await read_message(reader)) is not None:
                if task in self._tcp_clients:  # the most recently active last
                    self._tcp_clients.move_to_end(task)
                if len(in_flight) >= MAX_TCP_IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                self.spawn(self._answer_tcp(wire, client, server, writer), in_flight)
                if len(wire) < DNS_HEADER_LENGTH:
                    break  # no DNS message: nothing more worth reading here
        finally:
            # Answers already asked for are still sent (or cancelled on stop).
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _answer_tcp(
        self,
        wire: bytes,
        client: Endpoint,
        server: Endpoint,
        writer: asyncio.StreamWriter,
    ) -> None:
        # Queries take turns for the shared slots, in the order they came.
        async with self._tcp_slots:
            reply = await self.handler(wire, client, server)
        if reply is None or writer.is_closing():
            return
        # One write per message, so pipelined answers never interleave.
        writer.write(len(reply).to_bytes(TCP_LENGTH_PREFIX, "big") + reply)
        try:
            # A client that does not read its answers is as good as idle.
            async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                await writer.drain()
        except ConnectionError:
            log.debug("DNS client %s went away before its answer", client)
        except TimeoutError:
            log.debug("DNS client %s reads no answers: closing", client)
            writer.transport.abort()


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """The next length-prefixed message, None at EOF, error or idle timeout."""
    try:
        async with asyncio.timeout(TCP_IDLE_TIMEOUT):
            prefix = await reader.readexactly(TCP_LENGTH_PREFIX)
            return await reader.readexactly(int.from_bytes(prefix, "big"))
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        return None
