"""Build minimal IPv4 and IPv6 packets: the inverse of :mod:`.packet_parse`.

Used by the tests (a queued packet without a kernel) and by anything that
needs a well-formed first packet. Checksums are left zero: nothing on the
parsing side reads them.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from collections.abc import Sequence

from netwarden.intercept.packet_parse import (
    IPV6_AUTHENTICATION,
    IPV6_FRAGMENT,
    PORT_PROTOCOLS,
)
from netwarden.network.packet import Protocol


def transport_header(protocol: int, source_port: int, destination_port: int) -> bytes:
    """A TCP SYN or UDP header; an empty one for other protocols."""
    if protocol == Protocol.TCP:
        # Sequence 0, ack 0, data offset 5 words, flags SYN, window 65535.
        return struct.pack(
            "!HHIIBBHHH", source_port, destination_port, 0, 0, 0x50, 0x02, 0xFFFF, 0, 0
        )
    if protocol in PORT_PROTOCOLS:
        return struct.pack("!HHHH", source_port, destination_port, 8, 0)
    return b""


def build_ipv4_packet(
    source: str | ipaddress.IPv4Address,
    destination: str | ipaddress.IPv4Address,
    protocol: int,
    source_port: int = 0,
    destination_port: int = 0,
    data: bytes = b"",
) -> bytes:
    body = transport_header(protocol, source_port, destination_port) + data
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, header length 5 words
        0,
        20 + len(body),
        0,
        0x4000,  # don't fragment
        64,
        protocol,
        0,
        ipaddress.IPv4Address(source).packed,
        ipaddress.IPv4Address(destination).packed,
    )
    return header + body


def build_ipv6_packet(
    source: str | ipaddress.IPv6Address,
    destination: str | ipaddress.IPv6Address,
    protocol: int,
    source_port: int = 0,
    destination_port: int = 0,
    data: bytes = b"",
    extension_headers: Sequence[int] = (),
) -> bytes:
    """An IPv6 packet with the given extension header types, in order."""
    body = transport_header(protocol, source_port, destination_port) + data
    chain = [*extension_headers, protocol]
    extensions = b"".join(
        _extension_header(kind, following)
        for kind, following in itertools.pairwise(chain)
    )
    payload = extensions + body
    fixed = struct.pack(
        "!IHBB16s16s",
        0x60000000,  # version 6, traffic class 0, flow label 0
        len(payload),
        chain[0],
        64,
        ipaddress.IPv6Address(source).packed,
        ipaddress.IPv6Address(destination).packed,
    )
    return fixed + payload


def _extension_header(kind: int, following: int) -> bytes:
    """The smallest valid extension header of ``kind``: 8 bytes (AH: 12)."""
    if kind == IPV6_FRAGMENT:
        return struct.pack("!BBHI", following, 0, 0x0001, 0x1234)  # first, more follow
    if kind == IPV6_AUTHENTICATION:
        return struct.pack("!BBHII", following, 1, 0, 0x100, 1)  # (1 + 2) * 4 = 12
    return struct.pack("!BB6s", following, 0, bytes([1, 4, 0, 0, 0, 0]))  # PadN
