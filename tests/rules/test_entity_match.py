"""Entity matching as documented in rules/entity.py: domain forms, IPs, CIDRs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.network.packet import IPAddress
from netwarden.rules.entity import (
    AnyEntity,
    DomainEntity,
    DomainForm,
    parse_entity,
)


def matches(token: str, domain: str | None = None, ip: str | None = None) -> bool:
    address = ipaddress.ip_address(ip) if ip is not None else None
    return parse_entity(token).matches(domain, address)


@pytest.mark.parametrize(
    ("token", "domain", "expected"),
    [
        # exact: this name only
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", False),
        ("example.com", "example.com.evil.example", False),
        ("example.com", "xexample.com", False),
        # .zone: the name and every subdomain, on a label boundary
        (".example.com", "example.com", True),
        (".example.com", "www.example.com", True),
        (".example.com", "a.b.c.example.com", True),
        (".example.com", "badexample.com", False),
        (".example.com", "example.com.evil.example", False),
        (".example.com", "com", False),
        # *suffix: plain text suffix, no label boundary
        ("*xample.com", "xample.com", True),
        ("*xample.com", "example.com", True),
        ("*xample.com", "www.badexample.com", True),
        ("*xample.com", "example.co", False),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),
        # prefix*: plain text prefix
        ("example.*", "example.com", True),
        ("example.*", "example.co.uk", True),
        ("example.*", "examples.com", False),
        ("example.*", "www.example.com", False),
        ("ads*", "adserver.example", True),
        ("ads*", "x.adserver.example", False),
        # *contains*: anywhere
        ("*xamp*", "example.com", True),
        ("*xamp*", "xamp", True),
        ("*xamp*", "www.example.net", True),
        ("*xamp*", "exam.ple", False),
        ("*track*", "a.tracking.example", True),
    ],
)
def test_domain_forms(token: str, domain: str, expected: bool) -> None:
    assert matches(token, domain) is expected


@pytest.mark.parametrize("token", ["example.com", ".example.com", "*ample*", "ex*"])
def test_domain_entities_never_match_without_a_domain(token: str) -> None:
    assert not matches(token, None, "192.0.2.1")


@pytest.mark.parametrize(
    ("token", "ip", "expected"),
    [
        ("192.0.2.1", "192.0.2.1", True),
        ("192.0.2.1", "192.0.2.2", False),
        ("2001:db8::1", "2001:db8::1", True),
        ("2001:db8::1", "2001:db8:0:0:0:0:0:1", True),
        ("2001:db8::1", "2001:db8::2", False),
        ("192.0.2.0/24", "192.0.2.0", True),
        ("192.0.2.0/24", "192.0.2.255", True),
        ("192.0.2.0/24", "192.0.3.0", False),
        ("192.0.2.128/25", "192.0.2.127", False),
        ("192.0.2.7/32", "192.0.2.7", True),
        ("0.0.0.0/0", "203.0.113.9", True),
        ("0.0.0.0/0", "2001:db8::1", False),
        ("2001:db8::/32", "2001:db8:ffff::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::/128", "2001:db8::", True),
        ("::/0", "2001:db8::1", True),
        ("::/0", "192.0.2.1", False),
        # An IPv4 network is not matched by an IPv6 address outside ::ffff:0:0/96.
        ("192.0.2.0/24", "2001:db8::c000:201", False),
    ],
)
def test_addresses_and_networks(token: str, ip: str, expected: bool) -> None:
    assert matches(token, "any.example", ip) is expected


@pytest.mark.parametrize("token", ["192.0.2.1", "192.0.2.0/24", "2001:db8::/32"])
def test_ip_entities_never_match_without_an_address(token: str) -> None:
    assert not matches(token, "example.com", None)


# An IPv4-mapped IPv6 address (RFC 4291 2.5.5.2) is the IPv4 address to the
# network; dns/name_map.py already treats it so, rules should agree.
@pytest.mark.parametrize(
    ("token", "ip"),
    [
        ("192.0.2.1", "::ffff:192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2.0/24", "::ffff:192.0.2.77"),
    ],
)
def test_ipv4_mapped_addresses_are_their_ipv4_address(token: str, ip: str) -> None:
    assert matches(token, None, ip)


def test_zone_id_addresses_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_entity("fe80::1%eth0")


def test_any_matches_everything_including_unknowns() -> None:
    assert AnyEntity().matches(None, None)
    assert matches("*", "a.example", "2001:db8::1")


LABEL = st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@given(zone=NAME, domain=NAME)
def test_zone_is_a_match_of_whole_trailing_labels(zone: str, domain: str) -> None:
    zone_labels, labels = zone.split("."), domain.split(".")
    expected = labels[-len(zone_labels) :] == zone_labels
    assert DomainEntity(zone, DomainForm.ZONE).matches(domain, None) is expected


@given(zone=NAME, sub=NAME)
def test_every_subdomain_of_a_zone_matches(zone: str, sub: str) -> None:
    entity = DomainEntity(zone, DomainForm.ZONE)
    assert entity.matches(f"{sub}.{zone}", None)
    assert not DomainEntity(zone, DomainForm.EXACT).matches(f"{sub}.{zone}", None)


@given(text=st.from_regex(r"[a-z0-9.-]{1,8}", fullmatch=True), domain=NAME)
def test_wildcards_are_plain_text_tests(text: str, domain: str) -> None:
    assert DomainEntity(text, DomainForm.SUFFIX).matches(domain, None) is (
        domain.endswith(text)
    )
    assert DomainEntity(text, DomainForm.PREFIX).matches(domain, None) is (
        domain.startswith(text)
    )
    assert DomainEntity(text, DomainForm.CONTAINS).matches(domain, None) is (
        text in domain
    )


@given(
    network=st.ip_addresses(v=4).flatmap(
        lambda a: st.integers(0, 32).map(
            lambda n: ipaddress.ip_network(f"{a}/{n}", strict=False)
        )
    ),
    ip=st.ip_addresses(),
)
def test_network_entity_is_cidr_containment(
    network: ipaddress.IPv4Network, ip: IPAddress
) -> None:
    plain = ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip
    expected = plain.version == 4 and plain in network
    assert matches(str(network), None, str(ip)) is expected


@given(
    network=st.ip_addresses(v=6).flatmap(
        lambda a: st.integers(0, 128).map(
            lambda n: ipaddress.ip_network(f"{a}/{n}", strict=False)
        )
    ),
    # IPv4-mapped addresses are IPv4 hosts; test_ipv4_mapped_* covers them.
    ip=st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None),
)
def test_ipv6_network_entity_is_cidr_containment(
    network: ipaddress.IPv6Network, ip: ipaddress.IPv6Address
) -> None:
    assert matches(str(network), None, str(ip)) is (ip in network)


@pytest.mark.parametrize(
    ("network", "address", "expected"),
    [
        ("::ffff:0:0/96", "203.0.113.9", True),
        ("::ffff:0:0/96", "::ffff:203.0.113.9", True),
        ("::ffff:0:0/96", "::", False),  # plain IPv6: never a mapped host
        ("::ffff:0:0/96", "::1:0:0:0:1", False),
    ],
)
def test_networks_of_mapped_addresses(
    network: str, address: str, expected: bool
) -> None:
    assert matches(network, None, address) is expected
