"""The lab's names and addresses, in one place (docs/lab.md has the table).

Simulated internet hosts use the documentation ranges of RFC 5737
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and RFC 3849
(2001:db8::/32), so nothing the lab does can reach a real host. The link
between the device and its router is a private range (RFC 1918, RFC 4193),
which only exists inside the lab's namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PREFIX = "nw"
# Where `netwarden lab` keeps its files; the CLI finds the lab's daemon here.
DEFAULT_LAB_DIR = Path("/run/netwarden-lab")
# A lab directory holds this file; a directory without it is never removed.
LAB_MARKER = ".netwarden-lab"

# Interface names live inside the namespaces, so they never collide with the
# host's or another lab's, and stay under the kernel's 15-character limit.
DEVICE_UPLINK = "uplink"
ROUTER_DOWNLINK = "lan"

DEVICE_V4 = "10.213.0.2/24"
DEVICE_V6 = "fd00:213::2/64"
ROUTER_V4 = "10.213.0.1/24"
ROUTER_V6 = "fd00:213::1/64"
LAN_HOST_V4 = "10.213.0.10"

WEB_V4 = "203.0.113.80"
WEB_V6 = "2001:db8:80::80"
CNAME_TARGET_V4 = "203.0.113.81"
CNAME_TARGET_V6 = "2001:db8:80::81"
RESOLVER_V4 = "198.51.100.53"
RESOLVER_V6 = "2001:db8:53::53"
# An address with a host but nothing listening: any answer from it in the
# device namespace was made by netwarden's own nameserver.
FOREIGN_RESOLVER_V4 = "192.0.2.53"
PRIVATE_ANSWER_V4 = "192.168.213.7"
BLOCKED_EXAMPLE_V4 = "203.0.113.66"

RESOLVER_TLS_NAME = "dns.lab.test"
LAB_ZONE = "lab.test"
DNS_PORT = 53
DOT_PORT = 853
WEB_PORT = 80

# Addresses of the simulated hosts, put on the internet namespace's loopback
# (prefix lengths /32 and /128: each is a host, not a network).
INTERNET_HOSTS = (
    WEB_V4,
    WEB_V6,
    CNAME_TARGET_V4,
    CNAME_TARGET_V6,
    RESOLVER_V4,
    RESOLVER_V6,
    FOREIGN_RESOLVER_V4,
)
WEB_BINDS = (WEB_V4, WEB_V6, CNAME_TARGET_V4, CNAME_TARGET_V6, LAN_HOST_V4)


@dataclass(frozen=True)
class LabNames:
    """Names of the namespaces of one lab; tests use their own prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def device(self) -> str:
        return f"{self.prefix}-device"

    @property
    def internet(self) -> str:
        return f"{self.prefix}-internet"

    @property
    def namespaces(self) -> tuple[str, str]:
        return (self.device, self.internet)


def host_address(address: str) -> str:
    """``address`` with the prefix length of a single host."""
    return f"{address}/128" if ":" in address else f"{address}/32"


def without_prefix(address: str) -> str:
    return address.split("/", 1)[0]
