"""One long-lived DNS-over-TLS connection carrying many queries at once.

A TLS handshake costs far more than the query it protects, so RFC 7858
section 3.4 asks DoT clients to keep the connection open and to pipeline
queries on it; RFC 7766 section 6.2.1.1 lets the answers come back in any
order, matched to their queries by message id. A :class:`DnsStreamConnection`
therefore gives every query an id of its own, unique among the queries in
flight on this connection, and one reader task hands each answer to the
query waiting for that id.

Either side may close the connection. EOF while nothing is in flight is
the server's idle timeout (RFC 7766 section 6.2.3) and no error; any break
with queries in flight fails them at once with :class:`ConnectionClosed`
(an ``OSError``, so the caller can move on to another upstream). The
connection closes itself after ``idle_timeout`` seconds without queries.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import struct
from collections.abc import Callable

import dns.exception
import dns.message

from netwarden.dns import plain
from netwarden.network.packet import IPAddress

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 10.0
DEFAULT_MAX_IN_FLIGHT = 100
_LENGTH = struct.Struct("!H")  # RFC 1035 section 4.2.2: two-byte length prefix
_ID_ATTEMPTS = 1000  # far above need: at most max_in_flight of 65536 ids are taken


def random_id() -> int:
    # Unpredictable ids make spoofed answers harder (RFC 5452 section 9.2).
    return secrets.randbelow(1 << 16)


class ConnectionClosed(ConnectionError):
    """The connection ended before the query was answered."""


class DnsStreamConnection:
    """Pipelined DNS over one TCP or TLS stream (RFC 7766 section 6.2.1).

    ``max_in_flight`` bounds the queries sent and not yet answered; more
    wait for a slot. ``new_id`` picks candidate message ids (tests make it
    predictable).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        label: str,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        new_id: Callable[[], int] = random_id,
    ) -> None:
        self.label = label
        self.idle_timeout = idle_timeout
        self.answered = 0
        self.unexpected_answers = 0
        self._reader = reader
        self._writer = writer
        self._new_id = new_id
        self._slots = asyncio.Semaphore(max_in_flight)
        self._waiting: dict[int, asyncio.Future[dns.message.Message]] = {}
        self._closed_because: str | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._reader_task = asyncio.create_task(self._read_answers())
        self._arm_idle_timer()

    @property
    def is_open(self) -> bool:
        return self._closed_because is None and not self._writer.is_closing()

    @property
    def in_flight(self) -> int:
        """Queries still waiting for their answer.

        An answered query keeps its waiter until its task runs again, and
        that may be after the server closed the connection: it is not lost.
        """
        return sum(not waiter.done() for waiter in self._waiting.values())

    async def exchange(self, query: dns.message.Message) -> dns.message.Message:
        """Send ``query`` under a fresh id; its answer, under the query's id."""
        async with self._slots:
            self._check_open()
            message_id = self._unused_id()
            answered = asyncio.get_running_loop().create_future()
            self._waiting[message_id] = answered
            self._cancel_idle_timer()
            try:
                await self._send(message_id, query.to_wire())
                response = await answered
            finally:
                self._forget(message_id)
        return _checked(query, response)

    async def close(self) -> None:
        self._shut("closed by netwarden")
        self._reader_task.cancel()
        await asyncio.wait([self._reader_task])  # not raising its CancelledError

    def _check_open(self) -> None:
        if not self.is_open:
            raise ConnectionClosed(f"{self.label}: {self._closed_because or 'closed'}")

    def _unused_id(self) -> int:
        for _ in range(_ID_ATTEMPTS):
            candidate = self._new_id()
            if candidate not in self._waiting:
                return candidate
        raise RuntimeError("no free DNS message id; the id source is not random")

    async def _send(self, message_id: int, wire: bytes) -> None:
        framed = _LENGTH.pack(len(wire)) + _LENGTH.pack(message_id) + wire[2:]
        self._writer.write(framed)
        # Python 3.10+ lets several tasks wait in drain() at once.
        await self._writer.drain()

    def _forget(self, message_id: int) -> None:
        # A query that timed out or was cancelled leaves no waiter behind.
        self._waiting.pop(message_id, None)
        if not self._waiting:
            self._arm_idle_timer()

    async def _read_answers(self) -> None:
        try:
            while True:
                (length,) = _LENGTH.unpack(await self._reader.readexactly(2))
                self._dispatch(await self._reader.readexactly(length))
        except asyncio.IncompleteReadError:
            self._lost("closed by the server")
        except OSError as err:  # resets and ssl.SSLError
            self._lost(f"{type(err).__name__}: {err}")

    def _dispatch(self, wire: bytes) -> None:
        message_id = _LENGTH.unpack(wire[:2])[0] if len(wire) >= 2 else None
        waiter = self._waiting.get(message_id) if message_id is not None else None
        if waiter is None or waiter.done():
            self.unexpected_answers += 1
            log.debug(
                "%s: ignored an answer with unknown id %s", self.label, message_id
            )
            return
        try:
            waiter.set_result(dns.message.from_wire(wire))
            self.answered += 1
        except (dns.exception.DNSException, ValueError) as err:
            # Only this query fails; the framing is intact, the stream usable.
            waiter.set_exception(dns.exception.FormError(f"malformed answer: {err}"))  # type: ignore[no-untyped-call]

    def _lost(self, why: str) -> None:
        if self.in_flight:
            log.info(
                "%s: %s with %d queries in flight", self.label, why, self.in_flight
            )
        else:
            log.debug("%s: %s while idle", self.label, why)
        self._shut(why)

    def _shut(self, why: str) -> None:
        if self._closed_because is None:
            self._closed_because = why
        self._cancel_idle_timer()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionClosed(f"{self.label}: {why}"))
        self._writer.close()

    def _arm_idle_timer(self) -> None:
        self._cancel_idle_timer()
        if self._closed_because is None:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self.idle_timeout, self._close_idle)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _close_idle(self) -> None:
        log.debug("%s: closing after %g s idle", self.label, self.idle_timeout)
        self._shut("closed after idling")
        self._reader_task.cancel()


def _checked(
    query: dns.message.Message, response: dns.message.Message
) -> dns.message.Message:
    response.id = query.id
    if not query.is_response(response):
        # dnspython leaves its exception classes untyped.
        raise dns.exception.FormError("the answer is not for this query")  # type: ignore[no-untyped-call]
    return response


async def open_tls_connection(
    ip: IPAddress,
    port: int,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
    *,
    label: str,
    socket_mark: int | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    new_id: Callable[[], int] = random_id,
) -> DnsStreamConnection:
    """Connect, check the certificate for ``server_hostname``, start reading."""
    loop = asyncio.get_running_loop()
    sock = plain.open_socket(ip, socket.SOCK_STREAM, socket_mark)
    try:
        await loop.sock_connect(sock, (str(ip), port))
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=ssl_context, server_hostname=server_hostname
        )
    except BaseException:
        sock.close()
        raise
    return DnsStreamConnection(
        reader,
        writer,
        label,
        idle_timeout=idle_timeout,
        max_in_flight=max_in_flight,
        new_id=new_id,
    )
