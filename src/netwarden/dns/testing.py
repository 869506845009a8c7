"""An upstream DNS server for tests, in-process on loopback.

:class:`FakeUpstream` answers from a dict of records over UDP, TCP and,
given a server TLS context, DNS over TLS; it notes every query it got, and
can be made slow (``delay``), failing (``rcode``) or truncating its UDP
answers (``truncate_udp``) to exercise the nameserver's failure paths.
Its DoT side answers pipelined queries concurrently, counts connections
and can be told to close them or to send junk (see the ``tls_*`` fields).
Certificates for its TLS side come from :mod:`netwarden.lab.pki`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from netwarden.dns.answers import domain_text
from netwarden.dns.listeners import Endpoint, Listeners, read_message
from netwarden.dns.resolver_url import ResolverURL

RECORD_TTL = 300
Records = Mapping[tuple[str, str], Sequence[str]]


def tls_server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server-side TLS context for a PEM certificate and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # load_cert_chain reads files only; the key lives there for a moment.
    with tempfile.TemporaryDirectory(prefix="nwt-tls-") as directory:
        cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


class FakeUpstream:
    """A DNS server answering from ``records``: {(name, type): [rdata, ...]}.

    Names are lowercase without a trailing dot, types are text ("A",
    "AAAA", "CNAME"...). CNAMEs are followed inside the records; a name
    with no record at all is NXDOMAIN, one lacking the asked type NODATA.
    """

    def __init__(
        self,
        records: Records,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        delay: float = 0.0,
        rcode: dns.rcode.Rcode | None = None,
        truncate_udp: bool = False,
    ) -> None:
        self.records = records
        self.host = host
        self.tls = tls
        self.delay = delay
        self.rcode = rcode
        self.truncate_udp = truncate_udp
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type)
        self.tls_connections = 0  # TLS handshakes completed
        self._tls_writers: set[asyncio.StreamWriter] = set()
        self.tls_query_ids: list[int] = []  # message ids received over DoT
        # Tests set these while the server runs:
        self.tls_delays: dict[str, float] = {}  # per query name, over .delay
        self.tls_close_after: int | None = None  # answers per connection, then EOF
        self.tls_junk: bytes = b""  # a framed message sent before every answer
        self._plain = Listeners(self._answer_plain, [(host, 0)], lambda: None)
        self._tls_server: asyncio.Server | None = None
        self.port = 0
        self.tls_port = 0

    async def start(self) -> None:
        await self._plain.start()
        self.port = self._plain.addresses[0][1]
        if self.tls is not None:
            self._tls_server = await asyncio.start_server(
                self._serve_tls, self.host, 0, ssl=self.tls
            )
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._plain.stop()
        if self._tls_server is not None:
            self._tls_server.close()
            await self._tls_server.wait_closed()

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def url(self, scheme: str, verify_name: str | None = None) -> ResolverURL:
        """A resolver URL that reaches this server over ``scheme``."""
        port = self.tls_port if scheme == "dot" else self.port
        assert port, f"start the fake upstream (and give it TLS for {scheme})"
        return ResolverURL(scheme, ipaddress.ip_address(self.host), port, verify_name)

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The reply to one query message (the server's logic, no I/O)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, domain_text(question.name), qtype))
        response = dns.message.make_response(query, recursion_available=True)
        if self.rcode is not None:
            response.set_rcode(self.rcode)
        elif transport == "udp" and self.truncate_udp:
            response.flags |= dns.flags.TC
        else:
            self._fill(response, question.name, question.rdtype)
        return response.to_wire()

    def _fill(
        self,
        response: dns.message.Message,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
    ) -> None:
        qtype = dns.rdatatype.to_text(rdtype)
        known = {key[0] for key in self.records}
        if domain_text(name) not in known:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return
        for _ in range(16):
            text = domain_text(name)
            if (text, qtype) in self.records:
                response.answer.append(
                    self._rrset(name, qtype, self.records[text, qtype])
                )
                return
            targets = self.records.get((text, "CNAME"))
            if not targets:
                break
            response.answer.append(self._rrset(name, "CNAME", targets[:1]))
            name = dns.name.from_text(targets[0])

    @staticmethod
    def _rrset(
        name: dns.name.Name, qtype: str, rdatas: Sequence[str]
    ) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(
            name,
            RECORD_TTL,
            "IN",
            qtype,
            list(rdatas),
            origin=dns.name.root,
            relativize=False,
        )

    async def _answer_plain(
        self, wire: bytes, client: Endpoint, server: Endpoint
    ) -> bytes | None:
        await asyncio.sleep(self.delay)
        return self.answer(wire, client.protocol.label)

    async def _serve_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.tls_connections += 1
        self._tls_writers.add(writer)
        # RFC 7766 section 6.2.1.1: answer pipelined queries as they are
        # ready, not in order, so that clients must match them by id.
        answering: set[asyncio.Task[None]] = set()
        received = 0
        try:
            while (wire := await read_message(reader)) is not None:
                received += 1
                if self.tls_close_after is not None and received > self.tls_close_after:
                    break
                task = asyncio.create_task(self._answer_tls(wire, writer))
                answering.add(task)
                task.add_done_callback(answering.discard)
                if (
                    self.tls_close_after is not None
                    and received >= self.tls_close_after
                ):
                    await asyncio.gather(*answering)
                    break
        finally:
            for task in answering:
                task.cancel()
            self._tls_writers.discard(writer)
            writer.close()

    def drop_tls_connections(self) -> None:
        """Close every open DoT connection now, answered or not."""
        for writer in self._tls_writers:
            writer.close()

    async def _answer_tls(self, wire: bytes, writer: asyncio.StreamWriter) -> None:
        if len(wire) >= 2:
            self.tls_query_ids.append(int.from_bytes(wire[:2], "big"))
        await asyncio.sleep(self.delay + self._tls_delay(wire))
        reply = self.answer(wire, "tls")
        if reply is None or writer.is_closing():
            return
        if self.tls_junk:
            writer.write(len(self.tls_junk).to_bytes(2, "big") + self.tls_junk)
        writer.write(len(reply).to_bytes(2, "big") + reply)
        await writer.drain()

    def _tls_delay(self, wire: bytes) -> float:
        try:
            name = domain_text(dns.message.from_wire(wire).question[0].name)
        except (dns.exception.DNSException, IndexError):
            return 0.0
        return self.tls_delays.get(name, 0.0)
