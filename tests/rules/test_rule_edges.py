"""Endpoint rules at their edges: odd spellings, port ranges, first match wins."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.errors import ConfigError
from netwarden.rules.endpoint import (
    PORTED_PROTOCOLS,
    PROTOCOL_NUMBERS,
    EndpointRule,
    PortRange,
    ProtocolMatch,
    RuleMatch,
)
from netwarden.rules.ruleset import EndpointRules

A = ipaddress.IPv4Address("192.0.2.10")


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("+\texample.com\ttcp", "+ example.com tcp"),
        ("  -   .Example.COM.  ", "- .example.com"),
        ("+ a.example#no space", "+ a.example # no space"),
        ("+ a.example #", "+ a.example"),
        ("+ * TCP/00080", "+ * tcp/80"),
        ("+ * 17/1-65535", "+ * udp/1-65535"),
        ("+ * 0", "+ * 0"),
        ("+ * ICMPv6", "+ * icmpv6"),
        ("+ * sctp/9-9", "+ * sctp/9"),
        ("- localhost", "- Localhost"),
        ("- AS", "- AS"),
        ("- as13335", "- as13335"),
        ("- EXAMPLE.*", "- example.*"),
        ("- ::/0", "- ::/0"),
    ],
)
def test_spellings_render_canonically(text: str, rendered: str) -> None:
    assert EndpointRule.parse(text).render() == rendered


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only a comment", "expected '+|- entity'"),
        ("+ # entity in comment", "expected '+|- entity'"),
        ("-- a.example", "action '--' at column 1"),
        ("+ .", "entity '.' at column 3"),
        ("+ ..example", "not a domain: empty label"),
        ("+ [2001:db8::1]", "not a valid IP address"),
        ("+ 192.0.2.1/33", "not a network"),
        ("+ 1.2.3", "not a valid IP address"),
        ("+ L:a,,b", "list IDs are"),
        ("+ lan,nowhere", "not a domain"),
        ("+ * -/80", "protocol '-' at column 5"),
        ("+ * tcp/80-", "port '80-' at column 9"),
        ("+ * tcp/-80", "port '-80' at column 9"),
        ("+ * udp/65536", "ports are 1-65535"),
        ("+ * tcp/123456", "expected PORT or PORT-PORT"),
        ("+ * 255/80", "255 has no ports"),
        ("+ * icmpv6/1", "icmpv6 has no ports"),
        ("+    a.example   tcp   x", "rule 'x' at column 24: unexpected text"),
    ],
)
def test_more_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EndpointRule.parse(text, source="r.conf", line=4)
    assert message in caught.value.message
    assert (caught.value.source, caught.value.line) == ("r.conf", 4)
    assert caught.value.field == "filter/endpoints"


def test_error_without_location_names_only_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        EndpointRule.parse("+ a..example")
    assert (caught.value.source, caught.value.line) == (None, None)
    assert str(caught.value).startswith("filter/endpoints: entity 'a..example'")


@pytest.mark.parametrize("protocol", ["²", "٦"])
def test_non_ascii_digits_are_not_protocol_numbers(protocol: str) -> None:
    with pytest.raises(ConfigError, match="protocol"):
        EndpointRule.parse(f"+ * {protocol}")


@given(
    low=st.integers(1, 65535),
    span=st.integers(0, 65534),
    port=st.integers(0, 70000),
)
def test_port_range_bounds_are_inclusive(low: int, span: int, port: int) -> None:
    high = min(low + span, 65535)
    rule = EndpointRule.parse(f"- * tcp/{low}-{high}")
    assert rule.ports == PortRange(low, high)
    assert rule.matches(None, A, 6, port) is (low <= port <= high)
    assert not rule.matches(None, A, 17, low)  # right port, wrong protocol
    assert not rule.matches(None, A, None, low)  # a query has no protocol


@given(protocol=st.integers(0, 255), port=st.integers(1, 65535))
def test_star_protocol_means_any_protocol_with_ports(protocol: int, port: int) -> None:
    rule = EndpointRule.parse(f"- * */{port}")
    assert rule.matches(None, A, protocol, port) is (protocol in PORTED_PROTOCOLS)


@given(protocol=st.integers(0, 255), other=st.integers(0, 255))
def test_numbered_protocol_matches_only_itself(protocol: int, other: int) -> None:
    rule = EndpointRule.parse(f"+ * {protocol}")
    assert rule.protocol == ProtocolMatch(protocol)
    assert rule.matches(None, A, other, None) is (protocol == other)
    assert rule.matches("a.example", None, None, None) is False


@pytest.mark.parametrize(("name", "number"), sorted(PROTOCOL_NUMBERS.items()))
def test_protocol_names_and_numbers_are_one_protocol(name: str, number: int) -> None:
    assert EndpointRule.parse(f"- * {name}") == EndpointRule.parse(f"- * {number}")
    assert EndpointRule.parse(f"- * {number}").render() == f"- * {name}"


def test_rule_without_protocol_ignores_port_and_protocol() -> None:
    rule = EndpointRule.parse("- 192.0.2.10")
    assert rule.matches(None, A, 1, None)
    assert rule.matches(None, A, 6, 65535)


def test_location_is_not_part_of_equality() -> None:
    one = EndpointRule.parse("- a.example", source="x.conf", line=1)
    other = EndpointRule.parse("- a.example", source="y.conf", line=9)
    assert one == other and hash(one) == hash(other)
    assert one.location == "x.conf:1: - a.example"
    assert EndpointRule.parse("- a.example # x") != one  # the comment counts


DOMAINS = st.sampled_from(
    ["a.example", "b.a.example", "ads.example", "c.example", "example.org", None]
)
RULE_TEXTS = st.sampled_from(
    [
        "- a.example",
        "+ .a.example",
        "- *ads*",
        "+ example.*",
        "- 192.0.2.0/24 tcp",
        "+ 192.0.2.10 udp/53",
        "- * */443",
        "+ *",
    ]
)


@given(
    texts=st.lists(RULE_TEXTS, max_size=8),
    domain=DOMAINS,
    ip=st.sampled_from([A, ipaddress.ip_address("2001:db8::1"), None]),
    protocol=st.sampled_from([6, 17, 1, None]),
    port=st.sampled_from([53, 443, None]),
)
def test_first_match_is_the_first_rule_that_matches(
    texts: list[str],
    domain: str | None,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    protocol: int | None,
    port: int | None,
) -> None:
    rules = [
        EndpointRule.parse(text, source="r.conf", line=number)
        for number, text in enumerate(texts, start=1)
    ]
    found = EndpointRules(rules).first_match(domain, ip, protocol, port)
    matching = [r for r in rules if r.matches(domain, ip, protocol, port)]
    assert found is (matching[0] if matching else None)


def test_reordering_changes_the_winner() -> None:
    block, permit = "- .tracker.example", "+ ok.tracker.example"
    forward = EndpointRules([EndpointRule.parse(block), EndpointRule.parse(permit)])
    backward = EndpointRules([EndpointRule.parse(permit), EndpointRule.parse(block)])
    for rules, winner in ((forward, block), (backward, permit)):
        found = rules.first_match("ok.tracker.example", None, None, None)
        assert found is not None and found.render() == winner


@pytest.mark.parametrize("domain", ["A.Example", "a.example.", "A.EXAMPLE."])
def test_first_match_forgives_case_and_root_dot(domain: str) -> None:
    rules = EndpointRules([EndpointRule.parse("- a.example")])
    assert rules.first_match(domain, None, None, None) is not None


def test_a_mapped_address_rule_renders_as_written() -> None:
    rule = EndpointRule.parse("- ::ffff:203.0.113.80 tcp/80")
    assert rule.render() == "- ::ffff:203.0.113.80 tcp/80"
    assert EndpointRule.parse(rule.render()) == rule


@pytest.mark.parametrize(
    ("rule", "protocol", "port", "expected"),
    [
        ("- example.com tcp/443", 6, 443, RuleMatch.MATCH),
        ("- example.com tcp/443", 6, 80, RuleMatch.NO_MATCH),
        ("- example.com tcp/443", None, None, RuleMatch.UNDETERMINED),
        ("- example.com tcp", None, None, RuleMatch.UNDETERMINED),
        ("- example.com", None, None, RuleMatch.MATCH),
        ("- other.example tcp/443", None, None, RuleMatch.NO_MATCH),
    ],
)
def test_evaluate_tells_what_a_query_cannot_know(
    rule: str, protocol: int | None, port: int | None, expected: RuleMatch
) -> None:
    parsed = EndpointRule.parse(rule)
    assert parsed.evaluate("example.com", None, protocol, port) is expected
