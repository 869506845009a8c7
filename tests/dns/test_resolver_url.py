import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.dns.resolver_url import ResolverURL, parse_resolver_url
from netwarden.errors import ConfigError


def test_dot_with_verify_and_name() -> None:
    url = parse_resolver_url("dot://192.0.2.1:853?verify=dns.example&name=Example")
    assert url == ResolverURL(
        "dot", ipaddress.ip_address("192.0.2.1"), 853, "dns.example", "Example"
    )


def test_default_ports_and_ipv6_brackets() -> None:
    assert parse_resolver_url("dns://192.0.2.1").port == 53
    assert parse_resolver_url("tcp://[2001:db8::53]").port == 53
    url = parse_resolver_url("dot://[2001:db8::1]?verify=Dns.Example.")
    assert (url.ip, url.port, url.verify_name) == (
        ipaddress.ip_address("2001:db8::1"),
        853,
        "dns.example",
    )


def test_tls_alias_and_named_host_with_ip() -> None:
    url = parse_resolver_url("tls://cloudflare-dns.com?ip=1.1.1.2&name=Cloudflare")
    assert url.scheme == "dot"
    assert url.ip == ipaddress.ip_address("1.1.1.2")
    assert url.verify_name == "cloudflare-dns.com"
    assert url.render() == "dot://1.1.1.2:853?verify=cloudflare-dns.com&name=Cloudflare"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("doh://192.0.2.1/dns-query", "not supported yet"),
        ("https://dns.example/dns-query", "not supported yet"),
        ("udp://192.0.2.1", "unknown scheme 'udp'"),
        ("dot://192.0.2.1", "needs verify="),
        ("dot://dns.example", "needs ip="),
        ("dns://dns.example", "needs an IP address"),
        ("dns://192.0.2.1?verify=x.example", "only applies to dot://"),
        ("dns://192.0.2.1?colour=red", "unknown parameter 'colour'"),
        ("dot://192.0.2.1?verify=a.example&verify=b.example", "given twice"),
        ("dot://192.0.2.1?verify=", "is empty"),
        ("dot://192.0.2.1?verify=bad_name!", "not a valid host name"),
        ("dot://192.0.2.1?verify=x.example&blockedif=zeroip", "not supported yet"),
        ("dns://192.0.2.1:99999", "not a URL"),
        ("dns://192.0.2.1:0", "port 0"),
        ("dns://2001:db8::1", "IPv6 addresses go in brackets"),
        ("dns://[2001:db8::1]:", "port after ':' is missing"),
        ("dns://192.0.2.1?name=%ff%fe", "malformed parameters"),
        ("dns://192.0.2.1 # office", "comments go on their own line"),
        ("dot://192.0.2.1?verify=x.example&link-local", "not supported yet"),
        ("dot://192.0.2.1?search-only&verify=x.example", "'search-only' is not"),
        ("dns://192.0.2.1?name=a%0Ab", "control characters"),
        ("dns://192.0.2.1?name=" + "n" * 65, "longer than 64"),
        ("tcp://192.0.2.1/dns-query", "only meaningful for doh://"),
        ("dns://user@192.0.2.1", "user information"),
        ("dns://192.0.2.1#frag", "fragment"),
        ("dns://", "no server address"),
        ("dns://[fe80::1%25eth0]", "scoped IPv6"),
        ("dot://dns.example?ip=nope", "not an IP address"),
        ("dot://dns.example?ip=192.0.2.1&verify=other.example", "differs"),
        ("dns://192.0.2.1?ip=192.0.2.2", "only for a dot:// server given by name"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_resolver_url(text)
    assert caught.value.field == "dns/nameservers"
    assert fragment in str(caught.value)
    assert repr(text) in str(caught.value)


hostnames = st.lists(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
    min_size=1,
    max_size=4,
).map(".".join)
addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
display_names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=30,
)


@st.composite
def resolver_urls(draw: st.DrawFn) -> ResolverURL:
    scheme = draw(st.sampled_from(["dot", "dns", "tcp"]))
    verify = draw(hostnames) if scheme == "dot" else None
    return ResolverURL(
        scheme=scheme,
        ip=draw(addresses),
        port=draw(st.integers(1, 65535)),
        verify_name=verify,
        name=draw(st.none() | display_names),
    )


@given(resolver_urls())
def test_render_then_parse_gives_the_same_url(url: ResolverURL) -> None:
    assert parse_resolver_url(url.render()) == url


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    try:
        url = parse_resolver_url(text)
    except ConfigError:
        return
    assert parse_resolver_url(url.render()) == url
