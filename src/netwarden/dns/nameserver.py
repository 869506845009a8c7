"""The netwarden nameserver: every DNS query of the machine comes here.

For each query it asks the daemon who sent it (``attribute_client``) and
what that program may resolve (``decide_query``), then answers:

- ACCEPT: the upstreams' answer, under the client's query id; the
  addresses in it go into the :class:`NameMap` for the querying pid.
  Upstreams all failing (or timing out) gives SERVFAIL.
- BLOCK: 0.0.0.17 for A, ::17 for AAAA, empty NOERROR for other types
  (see :mod:`netwarden.dns.answers`), TTL 10 s, with an Extended DNS Error
  "Blocked" carrying the reason when the client uses EDNS.
- DROP: no answer at all, so the client sees a timeout, as the Verdict
  says. REFUSED would tell it to try the next server at once, which is
  what BLOCK is for.

Each answered or dropped query is reported through ``on_query`` as a
:class:`QueryRecord`. Malformed input never stops the server: it is
counted, answered FORMERR when its header can be read, dropped otherwise.
The sockets live in :mod:`netwarden.dns.listeners`; this module only turns
query bytes into answer bytes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import dns.entropy
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from netwarden.attribution.process import Process
from netwarden.dns import answers
from netwarden.dns.listeners import Endpoint, Listeners, NameserverError
from netwarden.dns.name_map import NameMap
from netwarden.dns.upstream import UpstreamError
from netwarden.network.connection import Decision, Verdict
from netwarden.network.packet import FlowKey, IPAddress
from netwarden.network.packet import Protocol as IPProtocol

__all__ = [
    "Endpoint",
    "Nameserver",
    "NameserverError",
    "NameserverStats",
    "QueryRecord",
]

log = logging.getLogger(__name__)


class Resolver(Protocol):
    """What the nameserver needs from upstreams (:class:`Upstreams` is one)."""

    async def resolve(self, query: dns.message.Message) -> dns.message.Message: ...


DecideQuery = Callable[[str, Process | None], Decision]
AttributeClient = Callable[[int, IPAddress, int, IPAddress, int], Process | None]
OnQuery = Callable[["QueryRecord"], None]


@dataclasses.dataclass(frozen=True, slots=True)
class QueryRecord:
    """One query the nameserver handled, as the connection table wants it.

    ``domain`` is lowercase without the trailing dot; ``server`` is the
    nameserver's own address the query reached; ``cnames`` is the CNAME
    chain the answer led through, in order; ``rcode`` is the answer's rcode
    as text, None when no answer was sent (DROP); ``started`` is read from
    the nameserver's clock and ``duration`` is seconds until the answer.
    """

    domain: str
    qtype: str
    client: Endpoint
    server: Endpoint
    process: Process | None
    decision: Decision
    answer_ips: tuple[IPAddress, ...]
    cnames: tuple[str, ...]
    rcode: str | None
    started: float
    duration: float

    @property
    def flow(self) -> FlowKey:
        """The query as a flow from the client to the nameserver."""
        return FlowKey(
            self.client.protocol,
            self.client.ip,
            self.client.port,
            self.server.ip,
            self.server.port,
        )


@dataclasses.dataclass(slots=True)
class NameserverStats:
    queries: int = 0  # messages received, malformed ones included
    blocked: int = 0
    dropped: int = 0
    upstream_failures: int = 0  # queries answered SERVFAIL for lack of upstream
    malformed: int = 0
    refused: int = 0  # opcode, class or question count we do not serve
    overloaded: int = 0  # queries dropped because too many were in flight
    callback_errors: int = 0  # daemon callbacks that raised
    own_queries: int = 0  # queries from netwarden itself: an upstream loops back


class Nameserver:
    """Answers DNS on UDP and TCP at each ``listen`` address.

    ``clock`` gives the ``now`` of :meth:`NameMap.remember` and the
    ``started`` of each record; look addresses up with the same clock.
    """

    def __init__(
        self,
        upstreams: Resolver,
        decide_query: DecideQuery,
        attribute_client: AttributeClient,
        on_query: OnQuery,
        name_map: NameMap,
        listen: Sequence[tuple[str, int]],
        *,
        clock: Callable[[], float] = time.time,
        own_pid: int | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.clock = clock
        self.own_pid = os.getpid() if own_pid is None else own_pid
        self.decide_query = decide_query
        self.attribute_client = attribute_client
        self.on_query = on_query
        self.name_map = name_map
        self.stats = NameserverStats()
        self.listeners = Listeners(self.answer, listen, self._count_overload)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs bound, with port 0 replaced by the real one."""
        return self.listeners.addresses

    def stats_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self.stats)

    async def start(self) -> None:
        await self.listeners.start()
        log.info("nameserver listening on %s", self.addresses)

    async def stop(self) -> None:
        await self.listeners.stop()
        log.info("nameserver stopped")

    async def answer(
        self, wire: bytes, client: Endpoint, server: Endpoint
    ) -> bytes | None:
        """The reply to one query message, or None to send nothing."""
        self.stats.queries += 1
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException as err:
            log.debug("malformed query from %s: %s", client, err)
            self.stats.malformed += 1
            return answers.error_from_header(wire, dns.rcode.FORMERR)
        if query.flags & dns.flags.QR:
            # A response sent to a server: answering or forwarding it could
            # start a loop, and upstreams close connections over it.
            log.debug("dropped a DNS response sent to us by %s", client)
            self.stats.malformed += 1
            return None
        refusal = self._refusal(query)
        if refusal is not None:
            return refusal
        response = await self._answer_query(query, client, server)
        if response is None:
            return None
        return answers.to_wire_for(response, query, client.protocol == IPProtocol.UDP)

    def _refusal(self, query: dns.message.Message) -> bytes | None:
        """An error reply for a message this server does not serve, else None."""
        rcode = None
        if query.opcode() != dns.opcode.QUERY:
            rcode = dns.rcode.NOTIMP
        elif len(query.question) != 1:
            rcode = dns.rcode.FORMERR  # RFC 9619: exactly one question
        elif query.question[0].rdclass != dns.rdataclass.IN:
            rcode = dns.rcode.REFUSED
        if rcode is None:
            return None
        self.stats.refused += 1
        return answers.error_response(query, rcode).to_wire()

    async def _answer_query(
        self, query: dns.message.Message, client: Endpoint, server: Endpoint
    ) -> dns.message.Message | None:
        started, clock_start = self.clock(), time.monotonic()
        question = query.question[0]
        domain = answers.domain_text(question.name)
        process = self._attribute(client, server)
        if process is not None and process.pid == self.own_pid:
            # Our own upstream query came back to us: an upstream address
            # leads to this nameserver. Forwarding it again would loop.
            log.warning("an upstream leads back to netwarden's nameserver (%s)", domain)
            self.stats.own_queries += 1
            return answers.error_response(query, dns.rcode.SERVFAIL)
        decision = self._decide(domain, process)
        if decision is None:
            return answers.error_response(query, dns.rcode.SERVFAIL)

        response, found = await self._respond(query, process, decision)
        record = QueryRecord(
            domain=domain,
            qtype=dns.rdatatype.to_text(question.rdtype),
            client=client,
            server=server,
            process=process,
            decision=decision,
            answer_ips=found.ips,
            cnames=found.cnames,
            rcode=None if response is None else dns.rcode.to_text(response.rcode()),
            started=started,
            duration=time.monotonic() - clock_start,
        )
        self._report(record)
        return response

    async def _respond(
        self, query: dns.message.Message, process: Process | None, decision: Decision
    ) -> tuple[dns.message.Message | None, answers.AnswerAddresses]:
        nothing = answers.AnswerAddresses((), (), 0)
        if decision.verdict == Verdict.DROP:
            self.stats.dropped += 1
            return None, nothing
        if decision.verdict == Verdict.BLOCK:
            self.stats.blocked += 1
            response = answers.blocked_response(query, str(decision.reason))
        else:
            response = await self._forward(query)
        found = answers.answer_addresses(response, query.question[0].name)
        if found.ips:
            # Blocked answers are remembered too: a program that connects to
            # 0.0.0.17 anyway then shows which name it was after, and the
            # connection is decided (and blocked) under that name.
            domain = answers.domain_text(query.question[0].name)
            owner = None if process is None else process.identity
            self.name_map.remember(owner, domain, found.ips, found.ttl, self.clock())
        return response, found

    async def _forward(self, query: dns.message.Message) -> dns.message.Message:
        # A fresh random id upstream: the client's id is chosen by a local
        # program and may be predictable (RFC 5452 section 9.2).
        client_id = query.id
        query.id = dns.entropy.random_16()
        try:
            response = await self.upstreams.resolve(query)
        except UpstreamError as err:
            log.warning("%s", err)
            self.stats.upstream_failures += 1
            query.id = client_id
            return answers.error_response(query, dns.rcode.SERVFAIL)
        query.id = client_id
        response.id = client_id
        return response

    def _count_overload(self) -> None:
        self.stats.overloaded += 1

    def _attribute(self, client: Endpoint, server: Endpoint) -> Process | None:
        try:
            return self.attribute_client(
                int(client.protocol), client.ip, client.port, server.ip, server.port
            )
        except Exception:  # a daemon callback: contain it, answer anyway
            log.exception("attributing DNS client %s failed", client)
            self.stats.callback_errors += 1
            return None

    def _decide(self, domain: str, process: Process | None) -> Decision | None:
        try:
            return self.decide_query(domain, process)
        except Exception:  # no decision: SERVFAIL, neither allow nor crash
            log.exception("deciding DNS query for %s failed", domain)
            self.stats.callback_errors += 1
            return None

    def _report(self, record: QueryRecord) -> None:
        try:
            self.on_query(record)
        except Exception:  # the table is optional to answering
            log.exception("recording DNS query for %s failed", record.domain)
            self.stats.callback_errors += 1
