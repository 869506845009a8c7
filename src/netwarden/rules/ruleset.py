"""An ordered list of endpoint rules where the first match wins."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from netwarden.errors import ConfigError
from netwarden.network.packet import IPAddress
from netwarden.rules.endpoint import OPTION_KEY, EndpointRule, RuleMatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, init=False)
class EndpointRules:
    """Rules in the order they were written.

    Building the set refuses rules whose entity type cannot be matched yet
    (country, continent, ASN, scope, filter list), so that a ``- DE`` rule
    is never silently ignored.
    """

    rules: tuple[EndpointRule, ...]

    def __init__(self, rules: Iterable[EndpointRule] = ()) -> None:
        checked = tuple(rules)
        for rule in checked:
            _refuse_unsupported(rule)
        object.__setattr__(self, "rules", checked)

    def __iter__(self) -> Iterator[EndpointRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(
        self,
        domain: str | None,
        ip: IPAddress | None,
        protocol: int | None,
        port: int | None,
    ) -> EndpointRule | None:
        """The first rule that matches, or None; None values are unknowns."""
        if domain is not None:
            domain = domain.lower().removesuffix(".")
        for rule in self.rules:
            if rule.matches(domain, ip, protocol, port):
                return rule
        return None

    def first_applicable(
        self,
        domain: str | None,
        ip: IPAddress | None,
        protocol: int | None,
        port: int | None,
    ) -> tuple[EndpointRule, RuleMatch] | None:
        """The first rule that matches or cannot tell yet, with which it is.

        Evaluation stops at an undetermined rule (Portmaster does the same):
        ``+ example.com tcp/443`` before ``- *`` must not let the ``- *``
        block the query for example.com; the connection decides.
        """
        if domain is not None:
            domain = domain.lower().removesuffix(".")
        for rule in self.rules:
            result = rule.evaluate(domain, ip, protocol, port)
            if result is not RuleMatch.NO_MATCH:
                return rule, result
        return None


def _refuse_unsupported(rule: EndpointRule) -> None:
    if rule.entity.supported:
        return
    raise ConfigError(
        f"entity type {rule.entity.kind} is not supported yet: {rule.render()}",
        source=rule.source or None,
        line=rule.line or None,
        field=OPTION_KEY,
    )
