"""Decider order at its seams: own, rules, lists (and allow entries), default."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.config.file import parse_settings
from netwarden.firewall.decide import (
    ConnectionView,
    Policy,
    decide_connection,
    decide_query,
)
from netwarden.intel.domain_index import DomainIndex
from netwarden.intel.filterlist import parse_filter_list
from netwarden.network.connection import Verdict
from netwarden.network.packet import Direction, FlowKey, IPAddress
from netwarden.rules.endpoint import Action

LOCAL = ipaddress.ip_address("192.0.2.2")
WEB = ipaddress.ip_address("203.0.113.80")
WEB6 = ipaddress.ip_address("2001:db8::80")
INDEX = DomainIndex(
    [
        parse_filter_list(
            ["||tracker.example^", "@@||ok.tracker.example^"], name="Privacy"
        )
    ]
)


def make_policy(
    *rules: str, default: str = "permit", subdomains: bool = True
) -> Policy:
    lines = [f"filter/endpoints = {rule}" for rule in rules]
    lines += [
        f"filter/defaultAction = {default}",
        f"filter/includeSubdomains = {subdomains}",
    ]
    settings = parse_settings("\n".join(lines), source="p.conf")
    return Policy.from_settings(settings, INDEX)


def connection(
    domain: str | None = None,
    *,
    ip: IPAddress = WEB,
    protocol: int = 6,
    port: int = 443,
    inbound: bool = False,
    own: bool = False,
) -> ConnectionView:
    direction = Direction.INBOUND if inbound else Direction.OUTBOUND
    local = LOCAL if ip.version == 4 else ipaddress.ip_address("2001:db8::2")
    flow = FlowKey(protocol, local, 40000, ip, port, direction)
    return ConnectionView(flow, None, domain, own_pid=own)


def outcome(view: ConnectionView, policy: Policy) -> tuple[str, str]:
    decision = decide_connection(view, policy)
    return decision.verdict.value, decision.reason.option or decision.reason.message


RULES, LISTS, DEFAULT = "filter/endpoints", "filter/lists", "filter/defaultAction"


@pytest.mark.parametrize(
    ("view", "policy", "expected"),
    [
        # netwarden's own connections pass whatever rules, lists and default say.
        (
            connection("x.tracker.example", own=True),
            make_policy("- *", default="block"),
            ("accept", "netwarden itself"),
        ),
        (
            connection(inbound=True, own=True),
            make_policy(default="block"),
            ("accept", "netwarden itself"),
        ),
        # A rule wins over an allow entry of a list, and over a block entry.
        (
            connection("ok.tracker.example"),
            make_policy("- .tracker.example"),
            ("block", RULES),
        ),
        (
            connection("x.tracker.example"),
            make_policy("+ x.tracker.example"),
            ("accept", RULES),
        ),
        # The allow entry only stops the lists: the default still decides.
        (
            connection("a.ok.tracker.example"),
            make_policy(default="block"),
            ("block", DEFAULT),
        ),
        (
            connection("x.tracker.example"),
            make_policy("- other.example"),
            ("block", LISTS),
        ),
        # Rules are for outbound flows: an inbound one skips them.
        (
            connection(inbound=True),
            make_policy("+ *", default="block"),
            ("block", DEFAULT),
        ),
        (connection(inbound=True), make_policy("- *"), ("accept", DEFAULT)),
        # Protocols without ports carry port 0, which no port rule matches.
        (
            connection(protocol=1, port=0),
            make_policy("- * */1-65535"),
            ("accept", DEFAULT),
        ),
        (
            connection(protocol=1, port=0),
            make_policy("- 203.0.113.80 icmp"),
            ("block", RULES),
        ),
        (connection(protocol=17, port=53), make_policy("- * udp/53"), ("block", RULES)),
        (
            connection(ip=WEB6),
            make_policy("- 203.0.113.0/24", "+ 2001:db8::/32", default="block"),
            ("accept", RULES),
        ),
        (
            connection(ip=WEB6),
            make_policy("- 203.0.113.0/24", default="block"),
            ("block", DEFAULT),
        ),
        # Without subdomains only the listed name itself is blocked.
        (
            connection("x.tracker.example"),
            make_policy(subdomains=False),
            ("accept", DEFAULT),
        ),
        (
            connection("tracker.example"),
            make_policy(subdomains=False),
            ("block", LISTS),
        ),
    ],
)
def test_order(view: ConnectionView, policy: Policy, expected: tuple[str, str]) -> None:
    assert outcome(view, policy) == expected


@pytest.mark.parametrize(
    ("domain", "policy", "verdict", "message"),
    [
        (
            "a.example",
            make_policy("+ *", default="block"),
            Verdict.ACCEPT,
            "permitted by rule",
        ),
        (
            "a.example",
            make_policy("- * tcp", default="block"),
            Verdict.ACCEPT,
            "query permitted: a rule for its connections decides them",
        ),
        (
            "a.ok.tracker.example",
            make_policy(default="block"),
            Verdict.ACCEPT,
            "query permitted: the connection that follows is decided",
        ),
        (
            "x.tracker.example",
            make_policy(default="block"),
            Verdict.BLOCK,
            "domain is on the Privacy filter list",
        ),
        (
            "X.Tracker.Example.",
            make_policy(),
            Verdict.BLOCK,
            "domain is on the Privacy filter list",
        ),
        ("a.example", make_policy("- *a.example"), Verdict.BLOCK, "blocked by rule"),
    ],
)
def test_queries(domain: str, policy: Policy, verdict: Verdict, message: str) -> None:
    decision = decide_query(domain, None, policy)
    assert (decision.verdict, decision.reason.message) == (verdict, message)


RULE_TEXTS = st.sampled_from(
    [
        "- .tracker.example",
        "+ ok.tracker.example",
        "- *ads*",
        "+ 203.0.113.0/24 tcp/443",
        "- * udp",
        "+ example.*",
    ]
)
DOMAINS = st.sampled_from(
    [
        None,
        "tracker.example",
        "a.ok.tracker.example",
        "ads.example",
        "example.org",
        "plain.example",
    ]
)


@given(
    rules=st.lists(RULE_TEXTS, max_size=5),
    domain=DOMAINS,
    protocol=st.sampled_from([6, 17]),
    default=st.sampled_from(["permit", "block"]),
)
def test_verdict_follows_the_documented_order(
    rules: list[str], domain: str | None, protocol: int, default: str
) -> None:
    policy = make_policy(*rules, default=default)
    verdict = decide_connection(connection(domain, protocol=protocol), policy).verdict

    rule = policy.endpoint_rules.first_match(domain, WEB, protocol, 443)
    if rule is not None:
        expected = Verdict.BLOCK if rule.action is Action.BLOCK else Verdict.ACCEPT
    elif domain is not None and INDEX.is_blocked(domain):
        expected = Verdict.BLOCK
    else:
        expected = Verdict.BLOCK if default == "block" else Verdict.ACCEPT
    assert verdict is expected
