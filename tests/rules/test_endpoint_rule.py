"""Endpoint rule grammar: parsing, errors, rendering and matching."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.errors import ConfigError
from netwarden.rules.endpoint import Action, EndpointRule, PortRange, ProtocolMatch
from netwarden.rules.entity import (
    AddressEntity,
    AnyEntity,
    ASNEntity,
    ContinentEntity,
    CountryEntity,
    DomainEntity,
    DomainForm,
    Entity,
    ListsEntity,
    NetworkEntity,
    Scope,
    ScopeEntity,
)

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("+ *", AnyEntity()),
        ("- 192.0.2.1", AddressEntity(V4("192.0.2.1"))),
        ("- 2001:db8::1", AddressEntity(V6("2001:db8::1"))),
        ("- 198.51.100.0/24", NetworkEntity(ipaddress.ip_network("198.51.100.0/24"))),
        ("- 2001:db8::/32", NetworkEntity(ipaddress.ip_network("2001:db8::/32"))),
        ("- DE", CountryEntity("DE")),
        ("- C:EU", ContinentEntity("EU")),
        ("- AS13335", ASNEntity(13335)),
        ("- lan,Localhost", ScopeEntity((Scope.LAN, Scope.LOCALHOST))),
        ("- Internet", ScopeEntity((Scope.INTERNET,))),
        ("- L:TRAC,17-MAL", ListsEntity(("TRAC", "17-MAL"))),
        ("- de", DomainEntity("de", DomainForm.EXACT)),
        ("- Example.COM.", DomainEntity("example.com", DomainForm.EXACT)),
        ("- .example.com", DomainEntity("example.com", DomainForm.ZONE)),
        ("- *xample.com", DomainEntity("xample.com", DomainForm.SUFFIX)),
        ("- *.example.com", DomainEntity(".example.com", DomainForm.SUFFIX)),
        ("- example.*", DomainEntity("example.", DomainForm.PREFIX)),
        ("- *XAMP*", DomainEntity("xamp", DomainForm.CONTAINS)),
        ("- bücher.example", DomainEntity("xn--bcher-kva.example", DomainForm.EXACT)),
    ],
)
def test_entities(text: str, entity: Entity) -> None:
    assert EndpointRule.parse(text).entity == entity


@pytest.mark.parametrize(
    ("text", "protocol", "ports"),
    [
        ("+ * tcp", ProtocolMatch(6), None),
        ("+ * UDP/53", ProtocolMatch(17), PortRange(53, 53)),
        ("+ * 6/1000-2000", ProtocolMatch(6), PortRange(1000, 2000)),
        ("+ * */443", ProtocolMatch(None), PortRange(443, 443)),
        ("+ * icmpv6", ProtocolMatch(58), None),
        ("+ * 47", ProtocolMatch(47), None),
    ],
)
def test_protocols_and_ports(
    text: str, protocol: ProtocolMatch, ports: PortRange | None
) -> None:
    rule = EndpointRule.parse(text)
    assert (rule.protocol, rule.ports) == (protocol, ports)


def test_full_rule_keeps_comment_and_location() -> None:
    rule = EndpointRule.parse(
        "-  .tracker.example  tcp/443   # no trackers #2", source="n.conf", line=7
    )
    assert rule == EndpointRule(
        Action.BLOCK,
        DomainEntity("tracker.example", DomainForm.ZONE),
        ProtocolMatch(6),
        PortRange(443, 443),
        "no trackers #2",
        "n.conf",
        7,
    )
    assert rule.render() == "- .tracker.example tcp/443 # no trackers #2"
    assert rule.location == "n.conf:7: - .tracker.example tcp/443 # no trackers #2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "rule '' at column 1: expected '+|- entity'"),
        ("+", "rule '+' at column 1: expected '+|- entity'"),
        ("= example.com", "action '=' at column 1: must be '+' or '-'"),
        ("+ example.com tcp/80 extra", "rule 'extra' at column 22: unexpected text"),
        ("+ 10.0.0.1/8", "entity '10.0.0.1/8' at column 3: not a network"),
        ("+ 300.1.1.1", "entity '300.1.1.1' at column 3: not a valid IP address"),
        ("+ C:XX", "entity 'C:XX' at column 3: unknown continent"),
        ("+ L:a b", "protocol 'b' at column 7"),
        ("+ L:", "entity 'L:' at column 3: list IDs are"),
        ("+ ex*ample.com", "entity 'ex*ample.com' at column 3: '*' may only"),
        ("+ **", "'*' may only start or end"),
        ("+ *ex_ä*", "a domain pattern holds only"),
        ("+ .example*", "a prefix pattern cannot start with '.'"),
        ("+ a..example", "entity 'a..example' at column 3: not a domain"),
        ("+ * gre/80", "protocol 'gre' at column 5: use icmp, tcp"),
        ("+ * 256", "protocol '256' at column 5"),
        ("+ * icmp/8", "protocol 'icmp/8' at column 5: icmp has no ports"),
        ("+ * tcp/", "port '' at column 9: expected PORT or PORT-PORT"),
        ("+ * tcp/https", "port 'https' at column 9"),
        ("+ * tcp/0", "port '0' at column 9: ports are 1-65535"),
        ("+ * tcp/70000", "ports are 1-65535"),
        ("+ * tcp/90-80", "a range goes upwards"),
    ],
)
def test_errors_name_field_and_column(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EndpointRule.parse(text, source="netwarden.conf", line=3)
    error = caught.value
    assert message in error.message
    assert (error.source, error.line, error.field) == (
        "netwarden.conf",
        3,
        "filter/endpoints",
    )


A = V4("192.0.2.10")
B6 = V6("2001:db8::10")


@pytest.mark.parametrize(
    ("rule", "domain", "ip", "protocol", "port", "expected"),
    [
        ("- *", None, None, None, None, True),
        ("- 192.0.2.10", None, A, 6, 80, True),
        ("- 192.0.2.10", "a.example", None, None, None, False),
        ("- 192.0.2.0/24", None, A, 17, 53, True),
        ("- 192.0.2.0/24", None, B6, 17, 53, False),
        ("- 2001:db8::/32", None, B6, 6, 443, True),
        ("- example.com", "example.com", A, 6, 80, True),
        ("- example.com", "www.example.com", A, 6, 80, False),
        ("- example.com", None, A, 6, 80, False),
        ("- .example.com", "example.com", None, None, None, True),
        ("- .example.com", "a.b.example.com", None, None, None, True),
        ("- .example.com", "badexample.com", None, None, None, False),
        ("- *xample.com", "badexample.com", None, None, None, True),
        ("- *.example.com", "example.com", None, None, None, False),
        ("- example.*", "example.co.uk", None, None, None, True),
        ("- example.*", "www.example.net", None, None, None, False),
        ("- *xamp*", "www.example.net", None, None, None, True),
        ("- * tcp", None, A, 6, 80, True),
        ("- * tcp", None, A, 17, 80, False),
        ("- * tcp", "a.example", None, None, None, False),
        ("- * */443", None, A, 17, 443, True),
        ("- * */443", None, A, 1, 0, False),
        ("- * udp/50-60", None, A, 17, 53, True),
        ("- * udp/50-60", None, A, 17, 61, False),
        ("- * icmp", None, A, 1, 0, True),
    ],
)
def test_matches(
    rule: str,
    domain: str | None,
    ip: V4 | V6 | None,
    protocol: int | None,
    port: int | None,
    expected: bool,
) -> None:
    assert EndpointRule.parse(rule).matches(domain, ip, protocol, port) is expected


def test_unsupported_entity_cannot_match() -> None:
    with pytest.raises(NotImplementedError, match="country is not supported yet"):
        EndpointRule.parse("- DE").matches(None, A, 6, 80)


LABEL = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)
DOMAIN = (
    st.lists(LABEL, min_size=2, max_size=4)
    .map(".".join)
    .filter(lambda name: not name.replace(".", "").isdigit())
)
PATTERN = st.from_regex(r"[a-z0-9_-][a-z0-9._-]{0,15}", fullmatch=True)

ENTITIES: st.SearchStrategy[Entity] = st.one_of(
    st.just(AnyEntity()),
    st.ip_addresses().map(AddressEntity),
    st.ip_addresses(v=4).map(lambda a: NetworkEntity(ipaddress.ip_network(f"{a}/32"))),
    st.builds(
        DomainEntity, DOMAIN, st.sampled_from([DomainForm.EXACT, DomainForm.ZONE])
    ),
    st.builds(
        DomainEntity,
        PATTERN.filter(lambda p: not p.replace(".", "").isdigit()),
        st.sampled_from([DomainForm.SUFFIX, DomainForm.CONTAINS]),
    ),
    st.builds(DomainEntity, PATTERN, st.just(DomainForm.PREFIX)),
    st.from_regex(r"[A-Z]{2}", fullmatch=True).map(CountryEntity),
    st.sampled_from(sorted({"AF", "EU", "NA"})).map(ContinentEntity),
    st.integers(0, 4_294_967_295).map(ASNEntity),
    st.lists(st.sampled_from(list(Scope)), min_size=1, max_size=3).map(
        lambda scopes: ScopeEntity(tuple(scopes))
    ),
    st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True), min_size=1).map(
        lambda ids: ListsEntity(tuple(ids))
    ),
)


@st.composite
def rules(draw: st.DrawFn) -> EndpointRule:
    entity = draw(ENTITIES)
    protocol = draw(
        st.none() | st.builds(ProtocolMatch, st.none() | st.integers(0, 255))
    )
    ports = None
    if protocol is not None and protocol.number in (None, 6, 17, 33, 132, 136):
        low = draw(st.integers(1, 65535))
        ports = draw(
            st.none() | st.builds(PortRange, st.just(low), st.integers(low, 65535))
        )
    comment = draw(st.text(st.characters(blacklist_categories=["Cc", "Zl", "Zp"])))
    action = draw(st.sampled_from(Action))
    return EndpointRule(action, entity, protocol, ports, comment.strip(), "f.conf", 9)


@given(rules())
def test_render_parse_round_trip(rule: EndpointRule) -> None:
    assert EndpointRule.parse(rule.render(), source="f.conf", line=9) == rule
