"""Asking the upstream resolvers, in order, over DoT, TCP or UDP.

Each resolver URL becomes one :class:`Transport`; :class:`Upstreams` tries
them in the configured order and returns the first usable answer
(Portmaster's sequential strategy). An upstream that times out, cannot be
reached, fails its TLS check or answers SERVFAIL or REFUSED counts as
failed and the next one is asked (RFC 1035 section 7.2 lets a resolver
move on to another server); NXDOMAIN and NOERROR are answers and returned.

Plain UDP and TCP open a fresh socket per query. DoT keeps one TLS
connection per upstream and pipelines queries on it (RFC 7858 section
3.4, see :mod:`netwarden.dns.tls_connection`): a handshake costs some
hundred times the query. A broken connection fails its queries as any
transport failure does, so the next upstream is asked.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import dns.exception
import dns.message
import dns.rcode

from netwarden.dns import plain, tls_connection
from netwarden.dns.resolver_url import ResolverURL
from netwarden.dns.tls_connection import ConnectionClosed, DnsStreamConnection
from netwarden.errors import NetwardenError

log = logging.getLogger(__name__)

# Answers that say "this server could not do it", not "the name is so".
FAILED_RCODES = {dns.rcode.SERVFAIL, dns.rcode.REFUSED}


class UpstreamError(NetwardenError):
    """No upstream resolver gave a usable answer."""


class TransportError(NetwardenError):
    """One upstream failed one query (timeout, network, TLS, bad answer)."""


class Transport(Protocol):
    """One upstream resolver reached over one kind of connection."""

    url: ResolverURL

    async def exchange(self, query: dns.message.Message) -> dns.message.Message: ...

    async def close(self) -> None: ...


class UdpTransport:
    """Plain DNS over UDP, retried over TCP when the answer is truncated."""

    def __init__(self, url: ResolverURL, socket_mark: int | None = None) -> None:
        self.url = url
        self.socket_mark = socket_mark

    async def exchange(self, query: dns.message.Message) -> dns.message.Message:
        return await plain.exchange_with_fallback(
            query, self.url.ip, self.url.port, self.socket_mark
        )

    async def close(self) -> None:
        return None


class TcpTransport:
    """Plain DNS over TCP (RFC 7766)."""

    def __init__(self, url: ResolverURL, socket_mark: int | None = None) -> None:
        self.url = url
        self.socket_mark = socket_mark

    async def exchange(self, query: dns.message.Message) -> dns.message.Message:
        return await plain.tcp_exchange(
            query, self.url.ip, self.url.port, self.socket_mark
        )

    async def close(self) -> None:
        return None


class TlsTransport:
    """DNS over TLS (RFC 7858) with the certificate checked for verify_name.

    One connection is kept and shared by all queries (RFC 7858 section
    3.4), opened on first use and again on the first use after it closed.
    A query lost with a connection that had answered before is asked once
    more on a new connection; one lost with a new connection fails.
    Queries arriving while it is being opened wait for that one attempt
    instead of opening their own; when it fails, they all fail with it.
    """

    def __init__(
        self,
        url: ResolverURL,
        ssl_context: ssl.SSLContext,
        socket_mark: int | None = None,
        *,
        connect_timeout: float = 3.0,
        idle_timeout: float = tls_connection.DEFAULT_IDLE_TIMEOUT,
        max_in_flight: int = tls_connection.DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.url = url
        self.ssl_context = ssl_context
        self.socket_mark = socket_mark
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_in_flight = max_in_flight
        self.connections_opened = 0
        self._connection: DnsStreamConnection | None = None
        self._connecting: asyncio.Task[DnsStreamConnection] | None = None

    async def exchange(self, query: dns.message.Message) -> dns.message.Message:
        connection = await self._open_connection()
        was_used = connection.answered > 0
        try:
            return await connection.exchange(query)
        except ConnectionClosed:
            if not was_used:
                raise
        # A server may close an idle connection at any moment (RFC 7766
        # section 6.2.3), also just as a query goes out. Queries are
        # idempotent: ask once more on a new connection, which, being new,
        # is not retried again.
        log.debug("DoT connection to %s closed under a query", self.url.label)
        connection = await self._open_connection()
        return await connection.exchange(query)

    async def close(self) -> None:
        connecting = self._connecting
        if connecting is not None:
            connecting.cancel()
            # Wait for it: a connect that finished just before the cancel
            # hands over its connection, which is closed below, not leaked.
            await asyncio.gather(connecting, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _open_connection(self) -> DnsStreamConnection:
        if self._connection is not None and self._connection.is_open:
            return self._connection
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
            self._connecting.add_done_callback(self._connected)
        # Shielded: one query giving up (its timeout) must not cancel the
        # connect the others are waiting for.
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> DnsStreamConnection:
        async with asyncio.timeout(self.connect_timeout):
            return await tls_connection.open_tls_connection(
                self.url.ip,
                self.url.port,
                self.ssl_context,
                self.url.verify_name,
                label=self.url.label,
                socket_mark=self.socket_mark,
                idle_timeout=self.idle_timeout,
                max_in_flight=self.max_in_flight,
            )

    def _connected(self, attempt: asyncio.Task[DnsStreamConnection]) -> None:
        self._connecting = None
        if attempt.cancelled():
            return
        if (failure := attempt.exception()) is not None:
            log.debug("DoT connect to %s failed: %s", self.url.label, failure)
            return
        self.connections_opened += 1
        self._connection = attempt.result()
        log.debug(
            "DoT connection %d to %s open", self.connections_opened, self.url.label
        )


def make_tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context trusting ``ca_file``, or the system CAs without one.

    ``create_default_context`` checks the chain and the host name given as
    ``server_hostname``; RFC 7858 section 4.2 asks for exactly that in the
    strict privacy profile.
    """
    context = ssl.create_default_context(cafile=None if ca_file is None else ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8310 section 9
    context.set_alpn_protocols(["dot"])
    return context


def make_transport(
    url: ResolverURL,
    ssl_context: ssl.SSLContext,
    socket_mark: int | None = None,
    timeout: float = 3.0,
) -> Transport:
    if url.scheme == "dot":
        return TlsTransport(url, ssl_context, socket_mark, connect_timeout=timeout)
    if url.scheme == "tcp":
        return TcpTransport(url, socket_mark)
    return UdpTransport(url, socket_mark)


class Upstreams:
    """The configured resolvers, asked one after the other until one answers.

    ``timeout`` bounds each upstream's attempt (connect, TLS and answer);
    with every upstream down, :meth:`resolve` gives up after at most
    ``len(urls) * timeout`` seconds. ``socket_mark`` is set on every upstream
    socket (plain DNS and DoT) so that the firewall does not redirect it
    back to netwarden (see :mod:`netwarden.dns.plain`).
    """

    def __init__(
        self,
        urls: Sequence[ResolverURL],
        ca_file: Path | None,
        timeout: float = 3.0,
        *,
        socket_mark: int | None = None,
    ) -> None:
        if not urls:
            raise ValueError("Upstreams needs at least one resolver URL")
        ssl_context = make_tls_context(ca_file)
        self.transports: list[Transport] = [
            make_transport(u, ssl_context, socket_mark, timeout) for u in urls
        ]
        self.timeout = timeout

    async def resolve(self, query: dns.message.Message) -> dns.message.Message:
        """The first usable answer; :class:`UpstreamError` when none gives one."""
        failures: list[str] = []
        for transport in self.transports:
            try:
                return await self._ask(transport, query)
            except TransportError as err:
                log.debug("upstream %s failed: %s", transport.url.label, err)
                failures.append(f"{transport.url.label}: {err}")
        raise UpstreamError("all upstreams failed: " + "; ".join(failures))

    async def close(self) -> None:
        for transport in self.transports:
            await transport.close()

    async def _ask(
        self, transport: Transport, query: dns.message.Message
    ) -> dns.message.Message:
        try:
            async with asyncio.timeout(self.timeout):
                response = await transport.exchange(query)
        except TimeoutError as err:
            raise TransportError(f"no answer within {self.timeout:g} s") from err
        except (OSError, EOFError, dns.exception.DNSException) as err:
            # OSError covers refused connections and ssl.SSLError (a failed
            # certificate check); DNSException a reply that does not match.
            raise TransportError(f"{type(err).__name__}: {err}") from err
        if response.rcode() in FAILED_RCODES:
            raise TransportError(f"answered {dns.rcode.to_text(response.rcode())}")
        return response
