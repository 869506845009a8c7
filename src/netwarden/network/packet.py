"""The five-tuple of a flow as read from its first packet."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Protocol(enum.IntEnum):
    """IP protocol numbers (IANA "Assigned Internet Protocol Numbers")."""

    ICMP = 1
    TCP = 6
    UDP = 17
    ICMPV6 = 58

    @property
    def label(self) -> str:
        return self.name.lower()


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@dataclass(frozen=True, slots=True)
class FlowKey:
    """Addresses and ports of a flow, seen from the local machine.

    For an outbound flow ``local`` is the source of the first packet and
    ``remote`` its destination. Ports are 0 for protocols without ports.
    """

    protocol: int
    local_ip: IPAddress
    local_port: int
    remote_ip: IPAddress
    remote_port: int
    direction: Direction = Direction.OUTBOUND

    @property
    def version(self) -> int:
        return self.remote_ip.version

    @property
    def protocol_label(self) -> str:
        try:
            return Protocol(self.protocol).label
        except ValueError:
            return str(self.protocol)
