"""The decider order, table-driven: own, rules, lists, default."""

from __future__ import annotations

import ipaddress

import pytest

from netwarden.attribution.process import Process
from netwarden.config.file import parse_settings
from netwarden.config.options import DefaultAction
from netwarden.firewall.decide import (
    ConnectionView,
    Policy,
    decide_connection,
    decide_query,
)
from netwarden.intel.domain_index import DomainIndex
from netwarden.intel.filterlist import parse_filter_list
from netwarden.network.connection import Decision, Reason, Verdict
from netwarden.network.packet import Direction, FlowKey

CURL = Process(pid=42, exe="/usr/bin/curl", cmdline=("curl",), uid=0, user="root")
LOCAL = ipaddress.IPv4Address("10.0.0.2")
WEB = ipaddress.IPv4Address("203.0.113.80")
SSH_HOST = ipaddress.IPv4Address("198.51.100.22")

INDEX = DomainIndex(
    [
        parse_filter_list(
            ["||tracker.example^$third-party", "@@||ok.tracker.example^"],
            name="EasyPrivacy",
        ),
        parse_filter_list(["0.0.0.0 malware.example"], name="Malware"),
    ]
)


def policy(default: str = "permit", subdomains: bool = True) -> Policy:
    settings = parse_settings(
        f"""\
filter/defaultAction = {default}
filter/includeSubdomains = {subdomains}
filter/endpoints = + allowed.malware.example
filter/endpoints = - .blocked.example
filter/endpoints = - 198.51.100.22 tcp/22
filter/endpoints = + 198.51.100.0/24
""",
        source="netwarden.conf",
    )
    return Policy.from_settings(settings, INDEX)


def flow(
    ip: ipaddress.IPv4Address = WEB, port: int = 443, inbound: bool = False
) -> FlowKey:
    direction = Direction.INBOUND if inbound else Direction.OUTBOUND
    return FlowKey(6, LOCAL, 40000, ip, port, direction)


def view(
    domain: str | None,
    ip: ipaddress.IPv4Address = WEB,
    port: int = 443,
    own: bool = False,
) -> ConnectionView:
    return ConnectionView(flow(ip, port), CURL, domain, own_pid=own)


ACCEPT, BLOCK = Verdict.ACCEPT, Verdict.BLOCK
RULE = "filter/endpoints"
LIST = "filter/lists"
DEFAULT = "filter/defaultAction"


@pytest.mark.parametrize(
    ("connection", "default", "expected"),
    [
        (
            view("tracker.example", own=True),
            "block",
            Decision(ACCEPT, Reason("netwarden itself")),
        ),
        (
            view("x.blocked.example"),
            "permit",
            Decision(
                BLOCK,
                Reason("blocked by rule", RULE, "netwarden.conf:4: - .blocked.example"),
            ),
        ),
        (
            view(None, SSH_HOST, 22),
            "permit",
            Decision(
                BLOCK,
                Reason(
                    "blocked by rule", RULE, "netwarden.conf:5: - 198.51.100.22 tcp/22"
                ),
            ),
        ),
        (
            view(None, SSH_HOST, 80),
            "block",
            Decision(
                ACCEPT,
                Reason(
                    "permitted by rule", RULE, "netwarden.conf:6: + 198.51.100.0/24"
                ),
            ),
        ),
        # A rule comes before the lists: a listed name can be unblocked by rule.
        (
            view("allowed.malware.example"),
            "permit",
            Decision(
                ACCEPT,
                Reason(
                    "permitted by rule",
                    RULE,
                    "netwarden.conf:3: + allowed.malware.example",
                ),
            ),
        ),
        (
            view("cdn.tracker.example"),
            "permit",
            Decision(
                BLOCK,
                Reason(
                    "domain is on the EasyPrivacy filter list",
                    LIST,
                    "EasyPrivacy: tracker.example",
                ),
            ),
        ),
        (
            view("MALWARE.example."),
            "permit",
            Decision(
                BLOCK,
                Reason(
                    "domain is on the Malware filter list",
                    LIST,
                    "Malware: malware.example",
                ),
            ),
        ),
        # An allow entry stops the list decider; the default decides.
        (
            view("a.ok.tracker.example"),
            "permit",
            Decision(ACCEPT, Reason("permitted by default action", DEFAULT)),
        ),
        (
            view("a.ok.tracker.example"),
            "block",
            Decision(BLOCK, Reason("blocked by default action", DEFAULT)),
        ),
        (
            view(None),
            "permit",
            Decision(ACCEPT, Reason("permitted by default action", DEFAULT)),
        ),
        (
            view(None),
            "block",
            Decision(BLOCK, Reason("blocked by default action", DEFAULT)),
        ),
        # Outbound rules do not apply to inbound connections.
        (
            ConnectionView(flow(SSH_HOST, 22, inbound=True), None, None),
            "permit",
            Decision(ACCEPT, Reason("permitted by default action", DEFAULT)),
        ),
    ],
)
def test_decide_connection(
    connection: ConnectionView, default: str, expected: Decision
) -> None:
    assert decide_connection(connection, policy(default)) == expected


@pytest.mark.parametrize(
    ("domain", "default", "expected"),
    [
        (
            "www.blocked.example",
            "permit",
            Decision(
                BLOCK,
                Reason("blocked by rule", RULE, "netwarden.conf:4: - .blocked.example"),
            ),
        ),
        (
            "t.tracker.example",
            "permit",
            Decision(
                BLOCK,
                Reason(
                    "domain is on the EasyPrivacy filter list",
                    LIST,
                    "EasyPrivacy: tracker.example",
                ),
            ),
        ),
        (
            "plain.example",
            "permit",
            Decision(ACCEPT, Reason("permitted by default action", DEFAULT)),
        ),
        (
            "plain.example",
            "block",
            Decision(
                ACCEPT,
                Reason(
                    "query permitted: the connection that follows is decided", DEFAULT
                ),
            ),
        ),
    ],
)
def test_decide_query(domain: str, default: str, expected: Decision) -> None:
    assert decide_query(domain, CURL, policy(default)) == expected


def test_query_skips_address_rules_and_stops_at_port_rules() -> None:
    # An address rule cannot match a name; a rule for the name's ports
    # cannot tell before the connection, so the query is answered and the
    # connection decided (``- *`` must not block the name first).
    settings = parse_settings(
        "filter/endpoints = - 203.0.113.80\n"
        "filter/endpoints = + example.com tcp/443\n"
        "filter/endpoints = - *\n"
    )
    rules_only = Policy.from_settings(settings, DomainIndex())

    decision = decide_query("example.com", None, rules_only)
    other = decide_query("other.example", None, rules_only)

    assert decision.verdict is ACCEPT
    assert decision.reason.source == "netwarden.conf:2: + example.com tcp/443"
    assert other.verdict is BLOCK
    assert other.reason.source == "netwarden.conf:3: - *"


def test_subdomains_follow_include_subdomains() -> None:
    exact_only = policy(subdomains=False)
    assert decide_connection(view("cdn.tracker.example"), exact_only).verdict is ACCEPT
    assert decide_connection(view("tracker.example"), exact_only).verdict is BLOCK


def test_policy_from_settings() -> None:
    built = policy("block", subdomains=False)
    assert built.default_action is DefaultAction.BLOCK
    assert built.include_subdomains is False
    assert len(built.endpoint_rules) == 4
    assert built.domain_index is INDEX


def test_reasons_read_as_sentences() -> None:
    decision = decide_connection(view("cdn.tracker.example"), policy())
    assert str(decision.reason) == (
        "domain is on the EasyPrivacy filter list (EasyPrivacy: tracker.example)"
    )
