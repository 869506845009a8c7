import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from ipaddress import ip_address

import dns.asyncquery
import dns.exception
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import eventually, require

from netwarden.attribution.process import Process
from netwarden.dns.name_map import NameMap
from netwarden.dns.nameserver import Nameserver, NameserverError, QueryRecord
from netwarden.dns.resolver_url import ResolverURL
from netwarden.dns.testing import FakeUpstream, tls_server_context
from netwarden.dns.upstream import Upstreams
from netwarden.network.connection import Decision, Reason, Verdict
from netwarden.network.packet import IPAddress

RECORDS = {
    ("allowed.example", "A"): ["192.0.2.10"],
    ("allowed.example", "AAAA"): ["2001:db8::10"],
    ("www.shop.example", "CNAME"): ["shop.cdn.example"],
    ("shop.cdn.example", "A"): ["198.51.100.7"],
}
CURL = Process(pid=4242, exe="/usr/bin/curl", cmdline=("curl",), uid=0, user="root")
LIST_REASON = Reason(
    "blocked by filter list", "filter/lists", "EasyPrivacy: ||tracker.example^"
)


def decide(domain: str, process: Process | None) -> Decision:
    if domain.startswith("tracker."):
        return Decision(Verdict.BLOCK, LIST_REASON)
    if domain.startswith("drop."):
        return Decision(Verdict.DROP, Reason("dropped"))
    return Decision(Verdict.ACCEPT, Reason("default permit"))


@dataclass
class Harness:
    nameserver: Nameserver
    upstream: FakeUpstream
    records: list[QueryRecord] = field(default_factory=list)
    attributions: list[tuple[int, IPAddress, int, IPAddress, int]] = field(
        default_factory=list
    )

    @property
    def port(self) -> int:
        return self.nameserver.addresses[0][1]

    async def udp(
        self, name: str, rdtype: str = "A", **kw: object
    ) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
        return await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=3)

    def attribute(
        self, protocol: int, ip: IPAddress, port: int, sip: IPAddress, sport: int
    ) -> Process | None:
        self.attributions.append((protocol, ip, port, sip, sport))
        return CURL


@contextlib.asynccontextmanager
async def serving(
    pki,
    *,
    urls: Callable[[FakeUpstream], list[ResolverURL]] | None = None,
    decide_query: Callable[[str, Process | None], Decision] = decide,
    timeout: float = 2.0,
    listen: tuple[tuple[str, int], ...] = (("127.0.0.1", 0),),
) -> AsyncIterator[Harness]:
    tls = tls_server_context(pki.cert_pem, pki.key_pem)
    async with FakeUpstream(RECORDS, tls=tls) as upstream:
        chosen = urls(upstream) if urls else [upstream.url("dot", "dns.test")]
        upstreams = Upstreams(chosen, pki.ca_file, timeout=timeout)
        harness = Harness(None, upstream)  # type: ignore[arg-type]
        harness.nameserver = Nameserver(
            upstreams,
            decide_query,
            harness.attribute,
            harness.records.append,
            NameMap(),
            listen,
        )
        await harness.nameserver.start()
        try:
            yield harness
        finally:
            await harness.nameserver.stop()


def run_with(pki, scenario, **options) -> None:
    async def main() -> None:
        async with serving(pki, **options) as harness:
            await scenario(harness)

    asyncio.run(main())


def addresses(response: dns.message.Message) -> list[str]:
    return [
        rdata.address
        for rrset in response.answer
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
        for rdata in rrset
    ]


def test_allowed_name_is_resolved_over_dot_and_remembered(pki) -> None:
    async def scenario(h: Harness) -> None:
        response = await h.udp("Allowed.Example")
        assert addresses(response) == ["192.0.2.10"]
        assert h.upstream.queries == [("tls", "allowed.example", "A")]

        (record,) = h.records
        assert (record.domain, record.qtype, record.rcode) == (
            "allowed.example",
            "A",
            "NOERROR",
        )
        assert record.decision.verdict == Verdict.ACCEPT
        assert record.process == CURL
        assert record.answer_ips == (ip_address("192.0.2.10"),)
        assert record.client.protocol == 17 and record.client.ip == ip_address(
            "127.0.0.1"
        )
        assert h.attributions == [
            (
                17,
                ip_address("127.0.0.1"),
                record.client.port,
                ip_address("127.0.0.1"),
                h.port,
            )
        ]
        assert record.server == (17, ip_address("127.0.0.1"), h.port)
        assert record.flow.remote_port == h.port
        assert record.flow.local_port == record.client.port
        assert h.nameserver.stats_dict()["queries"] == 1
        # Remembered for curl itself: a newer name for the same address,
        # from another program, does not replace it for curl.
        name_map, ip = h.nameserver.name_map, ip_address("192.0.2.10")
        name_map.remember(None, "other.example", [ip], 300, time.time())
        assert name_map.lookup(CURL.identity, ip, time.time()) == "allowed.example"

    run_with(pki, scenario)


def test_cname_chain_maps_final_ip_to_the_queried_name(pki) -> None:
    async def scenario(h: Harness) -> None:
        response = await h.udp("www.shop.example")
        assert addresses(response) == ["198.51.100.7"]
        assert h.records[0].cnames == ("shop.cdn.example",)
        lookup = h.nameserver.name_map.lookup(
            999, ip_address("198.51.100.7"), time.time()
        )
        assert lookup == "www.shop.example"

    run_with(pki, scenario)


def test_blocked_names_answer_addresses_that_lead_nowhere(pki) -> None:
    async def scenario(h: Harness) -> None:
        assert addresses(await h.udp("tracker.example", "A")) == ["0.0.0.17"]
        assert addresses(await h.udp("tracker.example", "AAAA")) == ["::17"]
        txt = await h.udp("tracker.example", "TXT", use_edns=0)
        assert txt.rcode() == dns.rcode.NOERROR and txt.answer == []
        assert txt.options[0].text == str(LIST_REASON)  # type: ignore[attr-defined]
        assert h.upstream.queries == []
        assert [r.decision.reason for r in h.records] == [LIST_REASON] * 3
        assert h.nameserver.stats.blocked == 3
        # The connection that follows a blocked answer carries its name.
        followed = h.nameserver.name_map.lookup(
            CURL.identity, ip_address("0.0.0.17"), time.time()
        )
        assert followed == "tracker.example"

    run_with(pki, scenario)


def test_listens_on_ipv6_loopback_over_udp_and_tcp(pki) -> None:
    require(socket.has_ipv6, "no IPv6 in this Python")

    async def scenario(h: Harness) -> None:
        host, port = h.nameserver.addresses[1]
        query = dns.message.make_query("allowed.example", "AAAA")
        udp = await dns.asyncquery.udp(query, host, port=port, timeout=2)
        tcp = await dns.asyncquery.tcp(query, host, port=port, timeout=2)
        assert addresses(udp) == addresses(tcp) == ["2001:db8::10"]
        assert [r.client.ip for r in h.records] == [ip_address("::1")] * 2
        assert h.attributions[0][3:] == (ip_address("::1"), port)

    listen = (("127.0.0.1", 0), ("::1", 0))
    run_with(pki, scenario, listen=listen)


def test_listening_on_a_taken_port_is_a_clear_error(pki) -> None:
    async def scenario(h: Harness) -> None:
        clash = Nameserver(
            _NoUpstream(),
            decide,
            lambda *a: None,
            lambda r: None,
            NameMap(),
            [("127.0.0.1", h.port)],
        )
        with pytest.raises(NameserverError, match="cannot listen"):
            await clash.start()
        assert addresses(await h.udp("allowed.example")) == ["192.0.2.10"]

    run_with(pki, scenario)


def test_the_injected_clock_times_records_and_name_map_entries(pki) -> None:
    async def scenario(h: Harness) -> None:
        h.nameserver.clock = lambda: 1000.0
        await h.udp("allowed.example")
        assert h.records[0].started == 1000.0
        name_map = h.nameserver.name_map
        assert name_map.lookup(CURL.identity, ip_address("192.0.2.10"), 1000.0 + 299)
        assert not name_map.lookup(
            CURL.identity, ip_address("192.0.2.10"), 1000.0 + 300
        )

    run_with(pki, scenario)


def test_dropped_query_gets_no_answer(pki) -> None:
    async def scenario(h: Harness) -> None:
        query = dns.message.make_query("drop.example", "A")
        with pytest.raises(dns.exception.Timeout):
            await dns.asyncquery.udp(query, "127.0.0.1", port=h.port, timeout=0.3)
        assert h.records[0].rcode is None
        assert h.nameserver.stats.dropped == 1

    run_with(pki, scenario)


def test_malformed_messages_are_counted_and_the_server_keeps_serving(pki) -> None:
    async def scenario(h: Harness) -> None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect(("127.0.0.1", h.port))
            sock.send(b"\x01\x02\x03")  # shorter than a header: dropped
            header = struct.pack("!HHHHHH", 0xABCD, 0x0100, 1, 0, 0, 0)
            sock.send(header + b"\x05abc")  # a question cut short: FORMERR
            reply = await asyncio.wait_for(loop.sock_recv(sock, 512), 2)
        assert reply[:2] == b"\xab\xcd"
        assert dns.message.from_wire(reply).rcode() == dns.rcode.FORMERR
        assert addresses(await h.udp("allowed.example")) == ["192.0.2.10"]
        assert h.nameserver.stats.malformed == 2
        assert h.nameserver.stats.queries == 3

    run_with(pki, scenario)


def test_a_response_sent_to_us_is_dropped_never_forwarded(pki) -> None:
    async def scenario(h: Harness) -> None:
        response = dns.message.make_response(
            dns.message.make_query("allowed.example", "A")
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            sock.sendto(response.to_wire(), ("127.0.0.1", h.port))
            await eventually(lambda: h.nameserver.stats.malformed == 1)
            with pytest.raises(TimeoutError):
                await asyncio.get_running_loop().run_in_executor(None, sock.recv, 512)
        assert h.upstream.queries == [] and h.records == []
        assert addresses(await h.udp("allowed.example")) == ["192.0.2.10"]
        assert h.nameserver.stats.callback_errors == 0

    run_with(pki, scenario)


def test_a_query_from_netwarden_itself_is_never_forwarded(pki) -> None:
    async def scenario(h: Harness) -> None:
        h.nameserver.own_pid = CURL.pid  # as if curl were the daemon
        response = await h.udp("allowed.example")
        assert response.rcode() == dns.rcode.SERVFAIL
        assert h.upstream.queries == []
        assert h.nameserver.stats.own_queries == 1

    run_with(pki, scenario)


def test_other_classes_and_opcodes_are_refused(pki) -> None:
    async def scenario(h: Harness) -> None:
        chaos = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
        response = await dns.asyncquery.udp(chaos, "127.0.0.1", port=h.port, timeout=2)
        assert response.rcode() == dns.rcode.REFUSED
        notify = dns.message.make_query("allowed.example", "SOA")
        notify.set_opcode(dns.opcode.NOTIFY)
        response = await dns.asyncquery.udp(notify, "127.0.0.1", port=h.port, timeout=2)
        assert response.rcode() == dns.rcode.NOTIMP
        assert h.records == [] and h.upstream.queries == []

    run_with(pki, scenario)


def test_tcp_serves_several_pipelined_queries_on_one_connection(pki) -> None:
    async def scenario(h: Harness) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        names = ["allowed.example", "tracker.example", "www.shop.example"]
        queries = {q.id: q for q in (dns.message.make_query(n, "A") for n in names)}
        writer.write(b"".join(q.to_wire(prepend_length=True) for q in queries.values()))
        answers = {}
        for _ in names:
            length = int.from_bytes(
                await asyncio.wait_for(reader.readexactly(2), 3), "big"
            )
            response = dns.message.from_wire(await reader.readexactly(length))
            answers[queries[response.id].question[0].name.to_text()] = addresses(
                response
            )
        writer.close()
        assert answers == {
            "allowed.example.": ["192.0.2.10"],
            "tracker.example.": ["0.0.0.17"],
            "www.shop.example.": ["198.51.100.7"],
        }
        assert {r.client.protocol for r in h.records} == {6}

    run_with(pki, scenario)


def test_wrong_verify_name_gives_servfail(pki) -> None:
    async def scenario(h: Harness) -> None:
        response = await h.udp("allowed.example")
        assert response.rcode() == dns.rcode.SERVFAIL
        assert h.records[0].rcode == "SERVFAIL"
        assert h.nameserver.stats.upstream_failures == 1

    run_with(pki, scenario, urls=lambda up: [up.url("dot", "evil.test")])


def test_upstream_down_gives_servfail_within_the_timeout(pki) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole:
        blackhole.bind(("127.0.0.1", 0))  # bound, never answers
        url = ResolverURL("dns", ip_address("127.0.0.1"), blackhole.getsockname()[1])

        async def scenario(h: Harness) -> None:
            started = time.monotonic()
            response = await h.udp("allowed.example")
            assert response.rcode() == dns.rcode.SERVFAIL
            assert 0.4 <= time.monotonic() - started < 3  # the client waits 3 s

        run_with(pki, scenario, urls=lambda up: [url], timeout=0.5)


def test_failover_to_the_second_upstream(pki) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
        dead = ResolverURL(
            "dot", ip_address("127.0.0.1"), closed.getsockname()[1], "dns.test"
        )

        async def scenario(h: Harness) -> None:
            assert addresses(await h.udp("allowed.example")) == ["192.0.2.10"]
            assert h.upstream.queries == [("tls", "allowed.example", "A")]

        run_with(pki, scenario, urls=lambda up: [dead, up.url("dot", "dns.test")])


def test_a_failing_decider_gives_servfail_and_a_failing_recorder_is_contained(
    pki,
) -> None:
    def broken(domain: str, process: Process | None) -> Decision:
        raise KeyError(domain)

    async def scenario(h: Harness) -> None:
        assert (await h.udp("allowed.example")).rcode() == dns.rcode.SERVFAIL
        h.nameserver.decide_query = decide
        h.nameserver.on_query = lambda record: 1 / 0  # type: ignore[assignment,func-returns-value]
        h.nameserver.attribute_client = lambda *args: 1 / 0  # type: ignore[assignment,return-value]
        assert addresses(await h.udp("allowed.example")) == ["192.0.2.10"]
        assert h.nameserver.stats.callback_errors == 3

    run_with(pki, scenario, decide_query=broken)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_bytes_get_a_parseable_reply_or_none(wire: bytes) -> None:
    nameserver = Nameserver(
        _NoUpstream(), decide, lambda *a: None, lambda r: None, NameMap(), []
    )
    endpoint = _endpoint()
    reply = asyncio.run(nameserver.answer(wire, endpoint, endpoint))
    if reply is not None:
        assert dns.message.from_wire(reply).id == int.from_bytes(wire[:2], "big")


class _NoUpstream:
    async def resolve(self, query: dns.message.Message) -> dns.message.Message:
        from netwarden.dns.upstream import UpstreamError

        raise UpstreamError("no upstream in this test")


def _endpoint():
    from netwarden.dns.nameserver import Endpoint
    from netwarden.network.packet import Protocol

    return Endpoint(Protocol.UDP, ip_address("127.0.0.1"), 5353)
