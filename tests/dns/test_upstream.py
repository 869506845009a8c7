import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import pytest
from support import eventually
from test_unbound_upstream import CATCH_ALL_V4, unbound  # noqa: F401 (a fixture)

from netwarden.dns import tls_connection
from netwarden.dns.resolver_url import ResolverURL
from netwarden.dns.testing import FakeUpstream, tls_server_context
from netwarden.dns.upstream import (
    TlsTransport,
    UpstreamError,
    Upstreams,
    make_tls_context,
)

RECORDS = {("example.com", "A"): ["192.0.2.1"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_url(scheme: str) -> ResolverURL:
    verify = "dns.test" if scheme == "dot" else None
    return ResolverURL(scheme, ip_address("127.0.0.1"), free_port(), verify)


def ask(upstreams: Upstreams, name: str = "example.com") -> dns.message.Message:
    return asyncio.run(upstreams.resolve(dns.message.make_query(name, "A")))


def with_upstream(
    scenario: Callable[[FakeUpstream], Awaitable[None]], **options: object
) -> None:
    async def run() -> None:
        async with FakeUpstream(RECORDS, **options) as upstream:  # type: ignore[arg-type]
            await scenario(upstream)

    asyncio.run(run())


def addresses(response: dns.message.Message) -> list[str]:
    return [rdata.address for rrset in response.answer for rdata in rrset]


def test_dot_checks_the_verify_name_against_the_certificate(pki) -> None:
    tls = tls_server_context(pki.cert_pem, pki.key_pem)

    async def scenario(upstream: FakeUpstream) -> None:
        good = Upstreams([upstream.url("dot", "dns.test")], pki.ca_file, timeout=2)
        assert addresses(
            await good.resolve(dns.message.make_query("example.com", "A"))
        ) == ["192.0.2.1"]
        wrong = Upstreams([upstream.url("dot", "other.test")], pki.ca_file, timeout=2)
        with pytest.raises(UpstreamError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            await wrong.resolve(dns.message.make_query("example.com", "A"))
        untrusted = Upstreams([upstream.url("dot", "dns.test")], None, timeout=2)
        with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusted.resolve(dns.message.make_query("example.com", "A"))
        assert [q[0] for q in upstream.queries] == ["tls"]

    with_upstream(scenario, tls=tls)


def test_truncated_udp_answer_is_asked_again_over_tcp() -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstreams = Upstreams([upstream.url("dns")], None)
        response = await upstreams.resolve(dns.message.make_query("example.com", "A"))
        assert addresses(response) == ["192.0.2.1"]
        assert [q[0] for q in upstream.queries] == ["udp", "tcp"]

    with_upstream(scenario, truncate_udp=True)


def test_plain_tcp_scheme() -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstreams = Upstreams([upstream.url("tcp")], None)
        response = await upstreams.resolve(dns.message.make_query("nope.example", "A"))
        assert response.rcode() == dns.rcode.NXDOMAIN  # an answer, not a failure
        assert [q[0] for q in upstream.queries] == ["tcp"]

    with_upstream(scenario)


def test_failover_in_order_past_dead_and_servfail_upstreams() -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        async with FakeUpstream(RECORDS, rcode=dns.rcode.SERVFAIL) as failing:
            urls = [dead_url("tcp"), failing.url("dns"), upstream.url("dns")]
            response = await Upstreams(urls, None, timeout=2).resolve(
                dns.message.make_query("example.com", "A")
            )
        assert addresses(response) == ["192.0.2.1"]
        assert len(failing.queries) == 1

    with_upstream(scenario)


def test_all_failing_raises_upstream_error_naming_each() -> None:
    urls = [dead_url("dns"), dead_url("dot")]
    with pytest.raises(UpstreamError) as caught:
        ask(Upstreams(urls, None, timeout=0.5))
    for url in urls:
        assert url.label in str(caught.value)


def test_slow_upstream_times_out_within_the_timeout() -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstreams = Upstreams([upstream.url("dns")], None, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(UpstreamError, match=r"no answer within 0\.3 s"):
            await upstreams.resolve(dns.message.make_query("example.com", "A"))
        assert time.monotonic() - started < 1.8  # not the 2 s answer

    with_upstream(scenario, delay=2.0)


def test_no_upstreams_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Upstreams([], Path("/nonexistent"))


def dot_scenario(
    pki, scenario: Callable[[FakeUpstream], Awaitable[None]], **options: object
) -> None:
    with_upstream(
        scenario, tls=tls_server_context(pki.cert_pem, pki.key_pem), **options
    )


def tls_transport(upstreams: Upstreams, index: int = 0) -> TlsTransport:
    transport = upstreams.transports[index]
    assert isinstance(transport, TlsTransport)
    return transport


def test_concurrent_dot_queries_share_one_connection(pki) -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstream.delay = 0.1  # all 250 overlap, beyond the in-flight bound
        upstreams = Upstreams([upstream.url("dot", "dns.test")], pki.ca_file)
        queries = [dns.message.make_query("example.com", "A") for _ in range(250)]
        answers = await asyncio.gather(*map(upstreams.resolve, queries))
        assert [addresses(a) for a in answers] == [["192.0.2.1"]] * 250
        assert all(q.is_response(a) for q, a in zip(queries, answers, strict=True))
        assert upstream.tls_connections == 1
        assert tls_transport(upstreams).connections_opened == 1
        await upstreams.close()

    dot_scenario(pki, scenario)


def test_concurrent_first_queries_wait_for_one_failing_connect(
    pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str | None] = []
    real_open = tls_connection.open_tls_connection

    async def counting_open(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[3])
        return await real_open(*args, **kwargs)

    monkeypatch.setattr(tls_connection, "open_tls_connection", counting_open)

    async def scenario(upstream: FakeUpstream) -> None:
        wrong = Upstreams([upstream.url("dot", "other.test")], pki.ca_file, timeout=2)
        results = await asyncio.gather(
            *(
                wrong.resolve(dns.message.make_query("example.com", "A"))
                for _ in range(20)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, UpstreamError) for r in results)
        assert "CERTIFICATE_VERIFY_FAILED" in str(results[0])
        assert attempts == ["other.test"]
        assert upstream.queries == []

    dot_scenario(pki, scenario)


def test_a_connection_closed_between_queries_is_reopened(pki) -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstream.tls_close_after = 1
        upstreams = Upstreams([upstream.url("dot", "dns.test")], pki.ca_file)
        for _ in range(3):
            response = await upstreams.resolve(
                dns.message.make_query("example.com", "A")
            )
            assert addresses(response) == ["192.0.2.1"]
        assert upstream.tls_connections == 3
        await upstreams.close()

    dot_scenario(pki, scenario)


def test_a_close_mid_flight_fails_fast_over_to_the_next_upstream(pki) -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        async with FakeUpstream({("example.com", "A"): ["198.51.100.7"]}) as second:
            urls = [upstream.url("dot", "dns.test"), second.url("dns")]
            upstreams = Upstreams(urls, pki.ca_file, timeout=5)
            first = await upstreams.resolve(dns.message.make_query("example.com", "A"))
            assert addresses(first) == ["192.0.2.1"]
            upstream.tls_close_after = 0  # from now on: close on every query
            started = time.monotonic()
            answers = await asyncio.gather(
                *(
                    upstreams.resolve(dns.message.make_query("example.com", "A"))
                    for _ in range(5)
                )
            )
            assert time.monotonic() - started < 4.0  # not the 5 s timeout
            assert [addresses(a) for a in answers] == [["198.51.100.7"]] * 5
            # One retry on a new connection, which was closed too.
            assert upstream.tls_connections == 2
            await upstreams.close()

    dot_scenario(pki, scenario)


def test_an_idle_dot_connection_is_closed_and_reopened_on_use(pki) -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        url = upstream.url("dot", "dns.test")
        transport = TlsTransport(url, make_tls_context(pki.ca_file), idle_timeout=0.2)
        await transport.exchange(dns.message.make_query("example.com", "A"))
        await eventually(lambda: not upstream._tls_writers)  # the server saw it go
        assert upstream.tls_connections == 1
        response = await transport.exchange(dns.message.make_query("example.com", "A"))
        assert addresses(response) == ["192.0.2.1"]
        assert transport.connections_opened == 2
        await transport.close()

    dot_scenario(pki, scenario)


def test_one_dot_query_timing_out_does_not_disturb_the_others(pki) -> None:
    async def scenario(upstream: FakeUpstream) -> None:
        upstream.tls_delays["slow.example"] = 10.0
        upstreams = Upstreams([upstream.url("dot", "dns.test")], pki.ca_file, timeout=2)
        slow = asyncio.create_task(
            upstreams.resolve(dns.message.make_query("slow.example", "A"))
        )
        fast = [
            await upstreams.resolve(dns.message.make_query("example.com", "A"))
            for _ in range(3)
        ]
        with pytest.raises(UpstreamError, match="no answer within"):
            await slow
        assert [addresses(a) for a in fast] == [["192.0.2.1"]] * 3
        assert upstream.tls_connections == 1
        await upstreams.close()
        assert not tls_transport(upstreams)._connection

    dot_scenario(pki, scenario)


def test_real_unbound_answers_pipelined_queries_on_one_connection(pki, request) -> None:
    port = request.getfixturevalue("unbound")
    url = ResolverURL("dot", ip_address("127.0.0.1"), port, pki.server_name)

    async def scenario() -> None:
        upstreams = Upstreams([url], pki.ca_file, timeout=3)
        names = [f"host{i}.example" for i in range(60)]
        answers = await asyncio.gather(
            *(upstreams.resolve(dns.message.make_query(n, "A")) for n in names)
        )
        for name, answer in zip(names, answers, strict=True):
            assert answer.question[0].name.to_text() == name + "."
            assert addresses(answer) == [CATCH_ALL_V4]
        await upstreams.resolve(dns.message.make_query("again.example", "A"))
        assert tls_transport(upstreams).connections_opened == 1
        await upstreams.close()

    asyncio.run(scenario())
