"""One endpoint rule: grammar, parsing, rendering and matching.

Grammar (Portmaster's, whitespace-separated)::

    rule     = action entity [protocol ["/" ports]] ["#" comment]
    action   = "+" (permit) | "-" (block)
    protocol = "tcp" | "udp" | "icmp" | "icmpv6" | "sctp" | "udplite" | "dccp"
             | 0..255 | "*" (any protocol that has ports)
    ports    = port ["-" port]            ; 1..65535, compared to the remote port

Entities are described in :mod:`netwarden.rules.entity`. A rule without a
protocol matches every protocol; one with ports matches only flows with a
port in range, so it never matches a DNS query (which has no connection
yet).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from netwarden.errors import ConfigError
from netwarden.network.packet import IPAddress
from netwarden.rules.entity import Entity, parse_entity

OPTION_KEY = "filter/endpoints"

PROTOCOL_NUMBERS = {
    "icmp": 1,
    "tcp": 6,
    "udp": 17,
    "dccp": 33,
    "icmpv6": 58,
    "sctp": 132,
    "udplite": 136,
}
PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}
# Protocols whose headers carry ports (IANA protocol numbers).
PORTED_PROTOCOLS = frozenset({6, 17, 33, 132, 136})

_TOKEN = re.compile(r"\S+")
_ASCII_NUMBER = re.compile(r"[0-9]{1,3}")  # str.isdigit() also takes "²" and "٦"
_PORTS = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")


class RuleMatch(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no match"
    UNDETERMINED = "undetermined"  # depends on what is not known yet


class Action(enum.StrEnum):
    PERMIT = "+"
    BLOCK = "-"


@dataclass(frozen=True, slots=True)
class ProtocolMatch:
    """A protocol number, or None for ``*``: any protocol with ports."""

    number: int | None

    def render(self) -> str:
        if self.number is None:
            return "*"
        return PROTOCOL_NAMES.get(self.number, str(self.number))

    def matches(self, protocol: int) -> bool:
        if self.number is None:
            return protocol in PORTED_PROTOCOLS
        return protocol == self.number


@dataclass(frozen=True, slots=True)
class PortRange:
    low: int
    high: int

    def render(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    def matches(self, port: int) -> bool:
        return self.low <= port <= self.high


@dataclass(frozen=True, slots=True)
class EndpointRule:
    """A parsed rule; ``source`` and ``line`` say where it was written.

    Where a rule was written is not part of what it says: two rules that
    render the same compare equal, so an exported and re-imported rule set
    equals the original.
    """

    action: Action
    entity: Entity
    protocol: ProtocolMatch | None = None
    ports: PortRange | None = None
    comment: str = ""
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @classmethod
    def parse(cls, text: str, *, source: str = "", line: int = 0) -> EndpointRule:
        """Parse one rule; ConfigError names the field, column and problem."""
        return _RuleParser(text, source, line).parse()

    def render(self) -> str:
        parts = [self.action.value, self.entity.render()]
        if self.protocol is not None:
            ports = f"/{self.ports.render()}" if self.ports else ""
            parts.append(self.protocol.render() + ports)
        if self.comment:
            parts.append(f"# {self.comment}")
        return " ".join(parts)

    @property
    def location(self) -> str:
        """``file:line: rule`` as shown in reasons."""
        return f"{self.source}:{self.line}: {self.render()}"

    def matches(
        self,
        domain: str | None,
        ip: IPAddress | None,
        protocol: int | None,
        port: int | None,
    ) -> bool:
        """Whether the rule applies; None means unknown (e.g. for a query)."""
        return self.evaluate(domain, ip, protocol, port) is RuleMatch.MATCH

    def evaluate(
        self,
        domain: str | None,
        ip: IPAddress | None,
        protocol: int | None,
        port: int | None,
    ) -> RuleMatch:
        """MATCH, NO_MATCH, or UNDETERMINED when the entity matches but the
        protocol or port it names is not known yet (a DNS query)."""
        if not self.entity.matches(domain, ip):
            return RuleMatch.NO_MATCH
        for wanted, known in ((self.protocol, protocol), (self.ports, port)):
            if wanted is None:
                continue
            if known is None:
                return RuleMatch.UNDETERMINED
            if not wanted.matches(known):
                return RuleMatch.NO_MATCH
        return RuleMatch.MATCH


class _RuleParser:
    def __init__(self, text: str, source: str, line: int) -> None:
        self.text = text
        self.source = source
        self.line = line

    def fail(self, field: str, token: str, column: int, why: str) -> ConfigError:
        return ConfigError(
            f"{field} {token!r} at column {column}: {why}",
            source=self.source or None,
            line=self.line or None,
            field=OPTION_KEY,
        )

    def parse(self) -> EndpointRule:
        body, _, comment = self.text.partition("#")
        tokens = [(match.group(), match.start() + 1) for match in _TOKEN.finditer(body)]
        if len(tokens) < 2:
            raise self.fail("rule", self.text.strip(), 1, "expected '+|- entity'")
        if len(tokens) > 3:
            raise self.fail("rule", tokens[3][0], tokens[3][1], "unexpected text")
        action = self._action(*tokens[0])
        entity = self._entity(*tokens[1])
        protocol, ports = (
            self._protocol(*tokens[2]) if len(tokens) == 3 else (None, None)
        )
        return EndpointRule(
            action, entity, protocol, ports, comment.strip(), self.source, self.line
        )

    def _action(self, token: str, column: int) -> Action:
        try:
            return Action(token)
        except ValueError:
            raise self.fail("action", token, column, "must be '+' or '-'") from None

    def _entity(self, token: str, column: int) -> Entity:
        try:
            return parse_entity(token)
        except ValueError as err:
            raise self.fail("entity", token, column, str(err)) from err

    def _protocol(
        self, token: str, column: int
    ) -> tuple[ProtocolMatch, PortRange | None]:
        name, slash, port_text = token.partition("/")
        protocol = self._protocol_number(name, column)
        if not slash:
            return protocol, None
        if protocol.number is not None and protocol.number not in PORTED_PROTOCOLS:
            raise self.fail("protocol", token, column, f"{name} has no ports")
        return protocol, self._ports(port_text, column + len(name) + 1)

    def _protocol_number(self, name: str, column: int) -> ProtocolMatch:
        if name == "*":
            return ProtocolMatch(None)
        number = PROTOCOL_NUMBERS.get(name.lower())
        if number is None and _ASCII_NUMBER.fullmatch(name) and int(name) <= 255:
            number = int(name)
        if number is None:
            known = ", ".join(PROTOCOL_NUMBERS)
            why = f"use {known}, '*' or a number 0-255"
            raise self.fail("protocol", name, column, why)
        return ProtocolMatch(number)

    def _ports(self, text: str, column: int) -> PortRange:
        found = _PORTS.fullmatch(text)
        if found is None:
            raise self.fail("port", text, column, "expected PORT or PORT-PORT")
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if not 1 <= low <= high <= 65535:
            why = "ports are 1-65535 and a range goes upwards"
            raise self.fail("port", text, column, why)
        return PortRange(low, high)
