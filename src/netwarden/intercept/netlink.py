"""Netlink message and attribute codec (pure, no sockets).

Layout per ``linux/netlink.h`` and ``linux/netfilter/nfnetlink.h``: every
message is a 16-byte ``nlmsghdr`` (length, type, flags, sequence, port id,
host byte order), for nfnetlink followed by a 4-byte ``nfgenmsg`` (family,
version, resource id in network byte order) and then type-length-value
attributes, each padded to 4 bytes (``NLA_ALIGNTO``). Several messages may
share one datagram.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from netwarden.errors import NetlinkError

NLMSG_HEADER = struct.Struct("=IHHII")
NFGEN_HEADER = struct.Struct("!BBH")
NLA_HEADER = struct.Struct("=HH")

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
# The two top bits of an attribute type are flags, not part of the type.
NLA_TYPE_MASK = 0x3FFF
NFNETLINK_V0 = 0


@dataclass(frozen=True, slots=True)
class NetlinkMessage:
    """One netlink message; ``body`` is everything after the nlmsghdr."""

    msg_type: int
    flags: int
    seq: int
    port_id: int
    body: bytes


def align(length: int) -> int:
    return (length + 3) & ~3


def encode_attribute(attr_type: int, value: bytes) -> bytes:
    length = NLA_HEADER.size + len(value)
    padding = b"\0" * (align(length) - length)
    return NLA_HEADER.pack(length, attr_type) + value + padding


def decode_attributes(data: bytes) -> dict[int, bytes]:
    """Attributes of ``data`` by type; a later duplicate wins."""
    attributes: dict[int, bytes] = {}
    offset = 0
    while offset + NLA_HEADER.size <= len(data):
        length, attr_type = NLA_HEADER.unpack_from(data, offset)
        if length < NLA_HEADER.size or offset + length > len(data):
            raise NetlinkError(f"bad netlink attribute length {length} at {offset}")
        start = offset + NLA_HEADER.size
        attributes[attr_type & NLA_TYPE_MASK] = data[start : offset + length]
        offset += align(length)
    return attributes


def encode_message(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    return (
        NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), msg_type, flags, seq, 0) + body
    )


def encode_nfgen(family: int, res_id: int) -> bytes:
    return NFGEN_HEADER.pack(family, NFNETLINK_V0, res_id)


def decode_messages(datagram: bytes) -> Iterator[NetlinkMessage]:
    """Split one received datagram into its messages."""
    offset = 0
    while offset + NLMSG_HEADER.size <= len(datagram):
        length, msg_type, flags, seq, port_id = NLMSG_HEADER.unpack_from(
            datagram, offset
        )
        if length < NLMSG_HEADER.size or offset + length > len(datagram):
            raise NetlinkError(f"bad netlink message length {length} at {offset}")
        body = datagram[offset + NLMSG_HEADER.size : offset + length]
        yield NetlinkMessage(msg_type, flags, seq, port_id, body)
        offset += align(length)


def error_code(message: NetlinkMessage) -> int:
    """The positive errno of an NLMSG_ERROR message; 0 is an acknowledgement."""
    if len(message.body) < 4:
        raise NetlinkError("truncated netlink error message")
    (code,) = struct.unpack_from("=i", message.body)
    return -int(code)
