import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from netwarden.dns.resolver_url import ResolverURL
from netwarden.dns.testing import FakeUpstream, tls_server_context
from netwarden.dns.upstream import UpstreamError, Upstreams

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
        assert time.monotonic() - started < 1.0

    with_upstream(scenario, delay=2.0)


def test_no_upstreams_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Upstreams([], Path("/nonexistent"))
