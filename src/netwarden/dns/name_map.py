"""Which domain an IP address came from, per process.

When the nameserver answers a process's query for ``video.example`` with
198.51.100.7, the connection that process opens to 198.51.100.7 next is
for ``video.example``. Many names share one CDN address, so the map is
kept per process first: two programs behind one IP are told apart. A
process is named by an owner key, which netwarden makes from the pid and the
process's start time (:attr:`Process.identity`), so a reused pid inherits
nothing. A
connection from a process that did not resolve the address itself (a
helper, a resolver cache like systemd-resolved, a pid unknown) falls back
to the domain any process resolved to it most recently; Portmaster keeps
the same two scopes and also lets the most recent name win.

Entries live for the answer's TTL, clamped: at least ``min_ttl`` because
programs keep using an address well past a short TTL (connection pools,
browsers' own caches), at most ``max_ttl``. Both indexes are bounded and
drop the least recently used entry first. Time is passed in by the
caller, so tests need no clock.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from netwarden.network.packet import IPAddress

DEFAULT_MIN_TTL = 60.0
DEFAULT_MAX_TTL = 86400.0
DEFAULT_MAX_ENTRIES = 100_000

Key = TypeVar("Key")


@dataclass(frozen=True, slots=True)
class _Entry:
    domain: str
    expires: float


class NameMap:
    """IP to domain, scoped per process, with TTLs and a size bound."""

    def __init__(
        self,
        *,
        min_ttl: float = DEFAULT_MIN_TTL,
        max_ttl: float = DEFAULT_MAX_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if not 0 <= min_ttl <= max_ttl or max_entries < 1:
            raise ValueError("NameMap needs 0 <= min_ttl <= max_ttl, max_entries >= 1")
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.max_entries = max_entries
        self._by_process: OrderedDict[tuple[Hashable, IPAddress], _Entry] = (
            OrderedDict()
        )
        self._by_ip: OrderedDict[IPAddress, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_process) + len(self._by_ip)

    def remember(
        self,
        owner: Hashable | None,
        domain: str,
        ips: Iterable[IPAddress],
        ttl: int,
        now: float,
    ) -> None:
        """Note that ``owner`` (None: unknown) resolved ``domain`` to ``ips``."""
        entry = _Entry(domain, now + min(max(ttl, self.min_ttl), self.max_ttl))
        for ip in map(_canonical, ips):
            _put(self._by_ip, ip, entry, self.max_entries)
            if owner is not None:
                _put(self._by_process, (owner, ip), entry, self.max_entries)

    def lookup(self, owner: Hashable | None, ip: IPAddress, now: float) -> str | None:
        """The domain ``owner`` resolved to ``ip``, else the newest from anyone."""
        ip = _canonical(ip)
        if owner is not None:
            domain = _get(self._by_process, (owner, ip), now)
            if domain is not None:
                return domain
        return _get(self._by_ip, ip, now)


def _canonical(ip: IPAddress) -> IPAddress:
    # An IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2) is the IPv4
    # address to the network; store and look up one form only.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _put(
    index: OrderedDict[Key, _Entry], key: Key, entry: _Entry, max_entries: int
) -> None:
    index[key] = entry
    index.move_to_end(key)
    while len(index) > max_entries:
        index.popitem(last=False)


def _get(index: OrderedDict[Key, _Entry], key: Key, now: float) -> str | None:
    entry = index.get(key)
    if entry is None:
        return None
    if entry.expires <= now:
        del index[key]
        return None
    index.move_to_end(key)
    return entry.domain
