import contextlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.intercept.packet_build import build_ipv4_packet, build_ipv6_packet
from netwarden.intercept.packet_parse import (
    IPV6_AUTHENTICATION,
    IPV6_DESTINATION_OPTIONS,
    IPV6_FRAGMENT,
    IPV6_HOP_BY_HOP,
    IPV6_ROUTING,
    PacketError,
    parse_flow,
)
from netwarden.network.packet import Direction, FlowKey, Protocol

ports = st.integers(min_value=0, max_value=0xFFFF)
ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)
protocols = st.sampled_from([Protocol.TCP, Protocol.UDP, Protocol.ICMP, 47, 132])
extension_chains = st.lists(
    st.sampled_from(
        [IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DESTINATION_OPTIONS, IPV6_AUTHENTICATION]
    ),
    max_size=4,
)
directions = st.sampled_from(list(Direction))


def expected_ports(protocol: int, source: int, destination: int) -> tuple[int, int]:
    if protocol in (Protocol.TCP, Protocol.UDP, 132):
        return source, destination
    return 0, 0


@given(ipv4, ipv4, protocols, ports, ports, st.binary(max_size=40))
def test_ipv4_round_trip(
    source: ipaddress.IPv4Address,
    destination: ipaddress.IPv4Address,
    protocol: int,
    sport: int,
    dport: int,
    data: bytes,
) -> None:
    flow = parse_flow(
        build_ipv4_packet(source, destination, protocol, sport, dport, data)
    )
    local_port, remote_port = expected_ports(protocol, sport, dport)
    assert flow == FlowKey(protocol, source, local_port, destination, remote_port)


@given(ipv6, ipv6, protocols, ports, ports, extension_chains, directions)
def test_ipv6_round_trip(
    source: ipaddress.IPv6Address,
    destination: ipaddress.IPv6Address,
    protocol: int,
    sport: int,
    dport: int,
    chain: list[int],
    direction: Direction,
) -> None:
    packet = build_ipv6_packet(
        source, destination, protocol, sport, dport, extension_headers=chain
    )
    flow = parse_flow(packet, direction)
    local_port, remote_port = expected_ports(protocol, sport, dport)
    if direction is Direction.OUTBOUND:
        assert flow == FlowKey(protocol, source, local_port, destination, remote_port)
    else:
        assert flow == FlowKey(
            protocol, destination, remote_port, source, local_port, direction
        )


def test_first_ipv6_fragment_gives_ports() -> None:
    packet = build_ipv6_packet(
        "2001:db8::2",
        "2001:db8::1",
        Protocol.UDP,
        5000,
        443,
        extension_headers=[IPV6_FRAGMENT],
    )
    flow = parse_flow(packet)
    assert (flow.protocol, flow.local_port, flow.remote_port) == (
        Protocol.UDP,
        5000,
        443,
    )


def test_later_ipv6_fragment_is_refused() -> None:
    packet = bytearray(
        build_ipv6_packet(
            "2001:db8::2",
            "2001:db8::1",
            Protocol.UDP,
            1,
            2,
            extension_headers=[IPV6_FRAGMENT],
        )
    )
    packet[42:44] = (185 << 3).to_bytes(2, "big")  # fragment offset 1480 bytes
    with pytest.raises(PacketError, match="non-first fragment"):
        parse_flow(bytes(packet))


def test_later_ipv4_fragment_is_refused() -> None:
    packet = bytearray(build_ipv4_packet("192.0.2.2", "192.0.2.1", Protocol.UDP, 1, 2))
    packet[6:8] = (185).to_bytes(2, "big")
    with pytest.raises(PacketError, match="IPv4 non-first fragment"):
        parse_flow(bytes(packet))


def test_inbound_swaps_local_and_remote() -> None:
    packet = build_ipv4_packet("198.51.100.7", "192.0.2.2", Protocol.TCP, 443, 40000)
    flow = parse_flow(packet, Direction.INBOUND)
    assert flow.local_ip == ipaddress.IPv4Address("192.0.2.2")
    assert (flow.local_port, flow.remote_port) == (40000, 443)
    assert flow.direction is Direction.INBOUND


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty packet"),
        (b"\x70" + b"\0" * 39, "IP version 7"),
        (b"\x45" + b"\0" * 10, "IPv4 header truncated"),
        (b"\x43" + b"\0" * 30, "IPv4 header length 12"),
        (b"\x60" + b"\0" * 20, "IPv6 header truncated"),
    ],
)
def test_malformed_headers_are_named(payload: bytes, message: str) -> None:
    with pytest.raises(PacketError, match=message):
        parse_flow(payload)


def test_truncated_transport_header_is_named() -> None:
    packet = build_ipv4_packet("192.0.2.2", "192.0.2.1", Protocol.TCP, 1, 2)[:22]
    with pytest.raises(PacketError, match="TCP header truncated at byte 20"):
        parse_flow(packet)


def test_endless_extension_chain_is_bounded() -> None:
    chain = [IPV6_DESTINATION_OPTIONS] * 12
    packet = build_ipv6_packet(
        "2001:db8::2", "2001:db8::1", Protocol.UDP, 1, 2, extension_headers=chain
    )
    with pytest.raises(PacketError, match="more than 8 IPv6 extension headers"):
        parse_flow(packet)


@given(st.binary(max_size=120), directions)
def test_garbage_raises_only_packet_error(payload: bytes, direction: Direction) -> None:
    with contextlib.suppress(PacketError):
        parse_flow(payload, direction)


@given(st.sampled_from([4, 6]), st.binary(max_size=120))
def test_garbage_behind_a_valid_version_raises_only_packet_error(
    version: int, rest: bytes
) -> None:
    with contextlib.suppress(PacketError):
        parse_flow(bytes([version << 4 | 5]) + rest)


@given(ipv6, ipv6, extension_chains, st.integers(0, 100))
def test_any_truncation_raises_only_packet_error(
    source: ipaddress.IPv6Address,
    destination: ipaddress.IPv6Address,
    chain: list[int],
    cut: int,
) -> None:
    packet = build_ipv6_packet(
        source, destination, Protocol.TCP, 1, 2, extension_headers=chain
    )
    with contextlib.suppress(PacketError):
        parse_flow(packet[:cut])
