"""Read the flow key (addresses, protocol, ports) off a queued IP packet.

Only the headers are read; with a copy range of 128 bytes the payload is
usually cut, so the IP total length is not checked against it. IPv4 per
RFC 791; IPv6 per RFC 8200, skipping the extension headers that may come
before the transport header (hop-by-hop, routing, destination options,
fragment, and AH per RFC 4302). A fragment other than the first carries no
transport header and is refused. Anything truncated or malformed raises
:class:`PacketError`, and nothing else.
"""

from __future__ import annotations

import ipaddress
import struct

from netwarden.errors import NetwardenError
from netwarden.network.packet import Direction, FlowKey, IPAddress, Protocol


class PacketError(NetwardenError):
    """A queued packet whose headers cannot be read."""


IPV6_HOP_BY_HOP = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AUTHENTICATION = 51
IPV6_DESTINATION_OPTIONS = 60
IPV6_EXTENSION_LIMIT = 8  # more than any sane packet; bounds the walk
PORT_PROTOCOLS = frozenset({Protocol.TCP, Protocol.UDP, 132, 136})  # + SCTP, UDP-Lite


def parse_flow(payload: bytes, direction: Direction = Direction.OUTBOUND) -> FlowKey:
    """The flow of ``payload``; ``local`` is the source of an outbound packet."""
    if not payload:
        raise PacketError("empty packet")
    version = payload[0] >> 4
    if version == 4:
        protocol, source, destination, transport = _ipv4_header(payload)
    elif version == 6:
        protocol, source, destination, transport = _ipv6_header(payload)
    else:
        raise PacketError(f"IP version {version} is neither 4 nor 6")
    source_port, destination_port = _ports(payload, protocol, transport)
    if direction is Direction.INBOUND:
        return FlowKey(
            protocol, destination, destination_port, source, source_port, direction
        )
    return FlowKey(
        protocol, source, source_port, destination, destination_port, direction
    )


def _ipv4_header(payload: bytes) -> tuple[int, IPAddress, IPAddress, int]:
    """Protocol, source, destination and transport offset of an IPv4 packet."""
    if len(payload) < 20:
        raise PacketError(f"IPv4 header truncated: {len(payload)} of 20 bytes")
    header_length = (payload[0] & 0x0F) * 4
    if header_length < 20 or header_length > len(payload):
        raise PacketError(f"IPv4 header length {header_length} invalid")
    fragment_offset = struct.unpack_from("!H", payload, 6)[0] & 0x1FFF
    if fragment_offset:
        raise PacketError(f"IPv4 non-first fragment (offset {fragment_offset * 8})")
    source = ipaddress.IPv4Address(payload[12:16])
    destination = ipaddress.IPv4Address(payload[16:20])
    return payload[9], source, destination, header_length


def _ipv6_header(payload: bytes) -> tuple[int, IPAddress, IPAddress, int]:
    """Protocol, source, destination and transport offset of an IPv6 packet."""
    if len(payload) < 40:
        raise PacketError(f"IPv6 header truncated: {len(payload)} of 40 bytes")
    source = ipaddress.IPv6Address(payload[8:24])
    destination = ipaddress.IPv6Address(payload[24:40])
    protocol, offset = _skip_extension_headers(payload, payload[6], 40)
    return protocol, source, destination, offset


def _skip_extension_headers(
    payload: bytes, next_header: int, offset: int
) -> tuple[int, int]:
    for _ in range(IPV6_EXTENSION_LIMIT):
        if next_header not in _EXTENSION_HEADERS:
            return next_header, offset
        if offset + 8 > len(payload):
            raise PacketError(
                f"IPv6 extension header {next_header} truncated at {offset}"
            )
        following, length_field = payload[offset], payload[offset + 1]
        if next_header == IPV6_FRAGMENT:
            _check_first_fragment(payload, offset)
            length = 8
        elif next_header == IPV6_AUTHENTICATION:
            length = (length_field + 2) * 4  # RFC 4302 2.2: in 4-octet units
        else:
            length = (length_field + 1) * 8  # RFC 8200 4.3: in 8-octet units
        next_header, offset = following, offset + length
    raise PacketError(f"more than {IPV6_EXTENSION_LIMIT} IPv6 extension headers")


_EXTENSION_HEADERS = frozenset(
    {
        IPV6_HOP_BY_HOP,
        IPV6_ROUTING,
        IPV6_FRAGMENT,
        IPV6_AUTHENTICATION,
        IPV6_DESTINATION_OPTIONS,
    }
)


def _check_first_fragment(payload: bytes, offset: int) -> None:
    fragment_offset = struct.unpack_from("!H", payload, offset + 2)[0] >> 3
    if fragment_offset:
        raise PacketError(f"IPv6 non-first fragment (offset {fragment_offset * 8})")


def _ports(payload: bytes, protocol: int, offset: int) -> tuple[int, int]:
    if protocol not in PORT_PROTOCOLS:
        return 0, 0
    if offset + 4 > len(payload):
        label = _protocol_label(protocol)
        raise PacketError(f"{label} header truncated at byte {offset}")
    source_port, destination_port = struct.unpack_from("!HH", payload, offset)
    return int(source_port), int(destination_port)


def _protocol_label(protocol: int) -> str:
    try:
        return Protocol(protocol).label.upper()
    except ValueError:
        return f"protocol {protocol}"
