"""A connection: a flow with its process, domain, verdict and reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netwarden.attribution.process import Process
from netwarden.network.packet import FlowKey


class Verdict(enum.StrEnum):
    """What happens to a connection.

    ``block`` rejects it (TCP reset, ICMP unreachable, or for DNS an answer
    that leads nowhere) so the program fails fast; ``drop`` discards it
    silently.
    """

    ACCEPT = "accept"
    BLOCK = "block"
    DROP = "drop"


class ConnectionKind(enum.StrEnum):
    IP = "ip"  # a flow seen in the packet path
    DNS = "dns"  # a query answered by the netwarden nameserver


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a verdict was given, in words and with what caused it.

    ``option`` is the setting that decided (``filter/endpoints``,
    ``filter/lists``, ``filter/defaultAction``...); ``source`` names the rule
    or list entry (``netwarden.conf:12: - example.com``, ``EasyPrivacy:
    ||tracker.example^``) when there is one.
    """

    message: str
    option: str = ""
    source: str = ""

    def __str__(self) -> str:
        return f"{self.message} ({self.source})" if self.source else self.message


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: Reason


@dataclass(slots=True)
class Connection:
    """One entry of the connection table."""

    id: int
    kind: ConnectionKind
    flow: FlowKey
    started: float
    process: Process | None = None
    domain: str | None = None
    decision: Decision | None = field(default=None)
