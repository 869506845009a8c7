"""Rule sets: first match wins, unsupported entity types are refused."""

from __future__ import annotations

import ipaddress

import pytest

from netwarden.errors import ConfigError
from netwarden.rules.endpoint import EndpointRule
from netwarden.rules.ruleset import EndpointRules

A = ipaddress.IPv4Address("192.0.2.10")


def ruleset(*lines: str) -> EndpointRules:
    return EndpointRules(
        EndpointRule.parse(text, source="r.conf", line=number)
        for number, text in enumerate(lines, start=1)
    )


RULES = ruleset(
    "+ allowed.tracker.example",
    "- .tracker.example",
    "- 192.0.2.0/24 tcp/22",
    "+ 192.0.2.10",
    "- *",
)


@pytest.mark.parametrize(
    ("domain", "ip", "protocol", "port", "line"),
    [
        ("allowed.tracker.example", A, 6, 443, 1),
        ("ALLOWED.tracker.example.", None, None, None, 1),
        ("x.tracker.example", A, 6, 443, 2),
        (None, A, 6, 22, 3),
        (None, A, 6, 80, 4),
        ("other.example", ipaddress.IPv4Address("203.0.113.1"), 17, 53, 5),
        ("other.example", None, None, None, 5),
    ],
)
def test_first_match_wins(
    domain: str | None,
    ip: ipaddress.IPv4Address | None,
    protocol: int | None,
    port: int | None,
    line: int,
) -> None:
    found = RULES.first_match(domain, ip, protocol, port)
    assert found is not None
    assert found.line == line


def test_no_match_and_empty() -> None:
    assert ruleset("- a.example").first_match("b.example", A, 6, 80) is None
    assert EndpointRules().first_match("a.example", A, 6, 80) is None
    assert len(RULES) == 5
    assert [rule.line for rule in RULES] == [1, 2, 3, 4, 5]


def test_equal_rule_sets_compare_equal() -> None:
    assert ruleset("- a.example") == ruleset("- a.example")
    assert ruleset("- a.example") != ruleset("+ a.example")


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("- DE", "country"),
        ("- C:EU", "continent"),
        ("- AS13335", "autonomous system"),
        ("+ LAN", "scope"),
        ("- L:TRAC", "filter list"),
    ],
)
def test_unsupported_entities_are_refused(line: str, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ruleset("+ ok.example", line)
    error = caught.value
    assert error.message == f"entity type {kind} is not supported yet: {line}"
    assert (error.source, error.line, error.field) == ("r.conf", 2, "filter/endpoints")
