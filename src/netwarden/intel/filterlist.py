"""Filter lists: hosts files, plain domain lists and Adblock host rules.

A DNS-level blocker can only act on whole host names, so of each list only
the lines that name a host and nothing else are taken:

* hosts format: ``0.0.0.0 name [name...]`` (also ``127.0.0.1``, ``::``,
  ``::1``); other addresses map names rather than block them and are skipped;
* plain format: one name per line;
* Adblock format: ``||host^`` and ``||host^$opts`` where every option only
  describes the request's context (``third-party``, ``3p``, ``document``,
  ``doc``, ``all``, ``popup``): nearly every tracker request is third-party
  at the DNS level. ``@@||host^`` with the same options is an allow entry.
  Paths, cosmetic filters, regular expressions and options that narrow a
  rule to resource types or pages are skipped: as host rules they would
  over-block.

In :attr:`ListFormat.AUTO` each line's format is recognised by its shape.
Comments start with ``#`` (hosts, plain) or ``!`` and ``[Adblock ...]``
(Adblock); hosts and plain lines may end with a ``# comment``.

Parsing never fails on a line: each item (a name, or a line that yields
none) is counted as taken, allowed or skipped with a reason, so a user sees
what a list gave. Only an unreadable file raises
:class:`~netwarden.errors.ConfigError`.
"""

from __future__ import annotations

import enum
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from netwarden.errors import ConfigError
from netwarden.intel.adblock import has_cosmetic_separator, parse_adblock_line
from netwarden.intel.domain_name import (
    InvalidDomainName,
    looks_like_ip_address,
    normalise_domain,
)
from netwarden.intel.list_item import Item, ItemKind, skip

logger = logging.getLogger(__name__)

MAX_LINE_LENGTH = 4096  # real list lines are short; longer ones are not rules

# Addresses a hosts file uses to send a name nowhere. A line with another
# address maps a name to a real host (a LAN printer, say) and blocks nothing.
SINK_ADDRESSES = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})

# Names every stock hosts file carries for the machine itself (Debian's
# /etc/hosts, StevenBlack's header); listing them must not block loopback.
LOCALHOST_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
    }
)

# A line that is one token of characters names can hold (plus unicode) is a
# plain domain; anything with URL or Adblock punctuation is not.
_PLAIN_NAME = re.compile(r"(?:\*\.)?[^\s/^$*|&?=@!#,:;\[\]]+")


_ADBLOCK_HEADERS = ("[adblock", "[ublock", "[adguard")


class ListFormat(enum.StrEnum):
    AUTO = "auto"
    HOSTS = "hosts"
    PLAIN = "plain"
    ADBLOCK = "adblock"


@dataclass(frozen=True, slots=True)
class ParseStats:
    """What a parse took and skipped.

    ``lines`` counts lines read; ``taken``, ``allowed`` and ``skipped`` count
    items, where an item is one name (a hosts line may hold several) or one
    line that yields no name. ``skipped`` maps a reason to its count.
    """

    lines: int
    taken: int
    allowed: int
    skipped: dict[str, int] = field(hash=False)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@dataclass(frozen=True, slots=True)
class FilterList:
    name: str
    blocked: frozenset[str]
    allowed: frozenset[str]
    stats: ParseStats


class _ListBuilder:
    """Collects items into sets and counts; duplicates count as skipped."""

    def __init__(self) -> None:
        self.lines = 0
        self.blocked: set[str] = set()
        self.allowed: set[str] = set()
        self.skipped: Counter[str] = Counter()

    def add(self, item: Item) -> None:
        if item.kind is ItemKind.SKIP:
            self.skipped[item.text] += 1
            return
        try:
            name = normalise_domain(item.text)
        except InvalidDomainName:
            self.skipped["invalid name"] += 1
            return
        self._add_name(name, item.kind)

    def _add_name(self, name: str, kind: ItemKind) -> None:
        if name in LOCALHOST_NAMES:
            self.skipped["localhost"] += 1
        elif "." not in name:
            # A single label is a top-level domain: blocking it blocks a TLD.
            self.skipped["single label"] += 1
        else:
            names = self.allowed if kind is ItemKind.ALLOW else self.blocked
            if name in names:
                self.skipped["duplicate"] += 1
            names.add(name)

    def finish(self, name: str) -> FilterList:
        stats = ParseStats(
            lines=self.lines,
            taken=len(self.blocked),
            allowed=len(self.allowed),
            skipped=dict(self.skipped.most_common()),
        )
        return FilterList(name, frozenset(self.blocked), frozenset(self.allowed), stats)


def parse_filter_list(
    lines: Iterable[str], *, name: str, list_format: ListFormat = ListFormat.AUTO
) -> FilterList:
    """Parse the lines of a list; never raises on a bad line."""
    builder = _ListBuilder()
    for line in lines:
        builder.lines += 1
        if list_format is ListFormat.AUTO and _is_adblock_header(line):
            # "[Adblock Plus 2.0]" declares the whole file; without it, lines
            # such as "-tracking-pixel." would pass for plain names.
            list_format = ListFormat.ADBLOCK
        for item in parse_line(line, list_format):
            builder.add(item)
    filter_list = builder.finish(name)
    logger.debug("parsed filter list %s: %s", name, filter_list.stats)
    return filter_list


def load_filter_list(
    path: Path, *, name: str, list_format: ListFormat = ListFormat.AUTO
) -> FilterList:
    """Read and parse the list file at ``path``; ConfigError if unreadable."""
    try:
        # utf-8-sig drops a byte order mark; undecodable bytes become U+FFFD
        # and the line is then skipped as an invalid name, not the whole file.
        with path.open(encoding="utf-8-sig", errors="replace") as stream:
            filter_list = parse_filter_list(stream, name=name, list_format=list_format)
    except OSError as err:
        raise ConfigError(
            f"cannot read filter list {name}: {err.strerror or err}", source=str(path)
        ) from err
    logger.info(
        "filter list %s from %s: %d blocked, %d allowed, %d skipped",
        name,
        path,
        filter_list.stats.taken,
        filter_list.stats.allowed,
        filter_list.stats.skipped_total,
    )
    return filter_list


def _is_adblock_header(line: str) -> bool:
    return line.lstrip("\ufeff").lower().startswith(_ADBLOCK_HEADERS)


def parse_line(line: str, list_format: ListFormat = ListFormat.AUTO) -> list[Item]:
    """Items of one line in the given (or recognised) format."""
    text = line.strip()
    if not text:
        return [skip("blank")]
    if len(text) > MAX_LINE_LENGTH:
        return [skip("too long")]
    if list_format is ListFormat.AUTO:
        list_format = recognise_format(text)
    if list_format is ListFormat.ADBLOCK:
        return parse_adblock_line(text)
    if text.startswith("#"):
        return [skip("comment")]
    if list_format is ListFormat.HOSTS:
        return _parse_hosts_line(text)
    return _parse_plain_line(text)


def recognise_format(text: str) -> ListFormat:
    """The format a single stripped, non-empty line is written in."""
    if text.startswith(("!", "[", "@@", "|", "/")):
        return ListFormat.ADBLOCK
    if has_cosmetic_separator(text):
        return ListFormat.ADBLOCK
    if text.startswith("#"):
        # "##.ad" is a generic cosmetic filter; "# text" a hosts comment.
        return (
            ListFormat.ADBLOCK
            if text[1:2] in {"#", "@", "?", "$", "%"}
            else (ListFormat.PLAIN)
        )
    tokens = text.split("#", 1)[0].split()
    if len(tokens) >= 2 and looks_like_ip_address(tokens[0]):
        return ListFormat.HOSTS
    if len(tokens) == 1 and _PLAIN_NAME.fullmatch(tokens[0]):
        return ListFormat.PLAIN
    return ListFormat.ADBLOCK


def _parse_hosts_line(text: str) -> list[Item]:
    tokens = text.split("#", 1)[0].split()
    if len(tokens) < 2 or not looks_like_ip_address(tokens[0]):
        return [skip("unrecognised")]
    if tokens[0] not in SINK_ADDRESSES:
        return [skip("not a blocking address")]
    return [Item(ItemKind.BLOCK, token) for token in tokens[1:]]


def _parse_plain_line(text: str) -> list[Item]:
    tokens = text.split("#", 1)[0].split()
    if len(tokens) != 1:
        return [skip("unrecognised")]
    token = tokens[0]
    if token.startswith("*."):
        # "*.example.com" (blocky, OISD wildcard format) means subdomains only;
        # taking it as example.com would also block the apex.
        return [skip("wildcard")]
    if looks_like_ip_address(token):
        return [skip("ip address")]
    return [Item(ItemKind.BLOCK, token)]


def render_plain(filter_list: FilterList) -> str:
    """The list as text that :func:`parse_filter_list` reads back (AUTO).

    Blocked names are plain lines; allow entries, which the plain format
    cannot say, are written as Adblock exceptions ``@@||name^``.
    """
    lines = [f"# netwarden filter list: {filter_list.name}"]
    lines.extend(sorted(filter_list.blocked))
    lines.extend(f"@@||{name}^" for name in sorted(filter_list.allowed))
    return "\n".join(lines) + "\n"
