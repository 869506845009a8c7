"""Deciders in a fixed order; the first that decides gives the verdict.

Order (Portmaster's, trimmed to what exists; see docs for what comes next):

1. netwarden's own connections are accepted ("netwarden itself"), so the
   daemon never blocks its own upstream DNS or updates;
2. endpoint rules (``filter/endpoints``; global now, per-app first later),
   first match wins, for outbound connections and for queries;
3. filter lists (``filter/lists``) on the domain, a parent of it when
   ``filter/includeSubdomains`` is on; an allow entry stops this decider
   without a verdict, so the name falls through to the default;
4. the default action (``filter/defaultAction``).

A DNS query is decided with the same deciders, knowing only the name: rules
about addresses, protocols or ports do not match it, while a domain rule or
``- *`` does. A query that nothing blocks is answered even under a default
of block, as Portmaster does: the connection that follows is decided with
the address known, and a later "ask" default will prompt there, not on DNS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from netwarden.attribution.process import Process
from netwarden.config.file import Settings
from netwarden.config.options import DEFAULT_ACTION, LISTS, DefaultAction
from netwarden.intel.domain_index import DomainIndex
from netwarden.network.connection import Decision, Reason, Verdict
from netwarden.network.packet import Direction, FlowKey, IPAddress
from netwarden.rules.endpoint import OPTION_KEY as ENDPOINTS_KEY
from netwarden.rules.endpoint import Action, RuleMatch
from netwarden.rules.ruleset import EndpointRules

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """What the deciders see of a connection; ``own_pid``: netwarden made it."""

    flow: FlowKey
    process: Process | None
    domain: str | None
    own_pid: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """The settings that decide, in the form the deciders use."""

    endpoint_rules: EndpointRules
    domain_index: DomainIndex
    default_action: DefaultAction
    include_subdomains: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, domain_index: DomainIndex) -> Policy:
        return cls(
            endpoint_rules=settings.endpoint_rules,
            domain_index=domain_index,
            default_action=settings.default_action,
            include_subdomains=settings.include_subdomains,
        )


@dataclass(frozen=True, slots=True)
class _Subject:
    """A connection or a query, with None for what is not known."""

    domain: str | None
    ip: IPAddress | None
    protocol: int | None
    port: int | None
    own: bool
    outbound: bool
    is_query: bool


def decide_connection(view: ConnectionView, policy: Policy) -> Decision:
    flow = view.flow
    subject = _Subject(
        domain=view.domain,
        ip=flow.remote_ip,
        protocol=flow.protocol,
        port=flow.remote_port or None,
        own=view.own_pid,
        outbound=flow.direction is Direction.OUTBOUND,
        is_query=False,
    )
    return _decide(subject, policy)


def decide_query(domain: str, process: Process | None, policy: Policy) -> Decision:
    subject = _Subject(domain, None, None, None, False, True, is_query=True)
    return _decide(subject, policy)


def _decide(subject: _Subject, policy: Policy) -> Decision:
    for decider in DECIDERS:
        decision = decider(subject, policy)
        if decision is not None:
            return decision
    return _default_action(subject, policy)


def _own_connection(subject: _Subject, policy: Policy) -> Decision | None:
    if subject.own:
        return Decision(Verdict.ACCEPT, Reason("netwarden itself"))
    return None


def _endpoint_rules(subject: _Subject, policy: Policy) -> Decision | None:
    # filter/endpoints holds rules for outgoing connections; inbound ones
    # get their own list (filter/serviceEndpoints) with inbound interception.
    if not subject.outbound:
        return None
    found = policy.endpoint_rules.first_applicable(
        subject.domain, subject.ip, subject.protocol, subject.port
    )
    if found is None:
        return None
    rule, result = found
    if result is RuleMatch.UNDETERMINED:
        message = "query permitted: a rule for its connections decides them"
        return Decision(Verdict.ACCEPT, Reason(message, ENDPOINTS_KEY, rule.location))
    if rule.action is Action.BLOCK:
        return Decision(
            Verdict.BLOCK, Reason("blocked by rule", ENDPOINTS_KEY, rule.location)
        )
    return Decision(
        Verdict.ACCEPT, Reason("permitted by rule", ENDPOINTS_KEY, rule.location)
    )


def _filter_lists(subject: _Subject, policy: Policy) -> Decision | None:
    if subject.domain is None:
        return None
    found = policy.domain_index.match(
        subject.domain, include_subdomains=policy.include_subdomains
    )
    if found is None or found.allowed:
        return None
    message = f"domain is on the {found.list_name} filter list"
    return Decision(Verdict.BLOCK, Reason(message, LISTS.key, found.source))


def _default_action(subject: _Subject, policy: Policy) -> Decision:
    if policy.default_action is DefaultAction.BLOCK and not subject.is_query:
        return Decision(
            Verdict.BLOCK, Reason("blocked by default action", DEFAULT_ACTION.key)
        )
    if policy.default_action is DefaultAction.BLOCK:
        message = "query permitted: the connection that follows is decided"
        return Decision(Verdict.ACCEPT, Reason(message, DEFAULT_ACTION.key))
    return Decision(
        Verdict.ACCEPT, Reason("permitted by default action", DEFAULT_ACTION.key)
    )


Decider = Callable[[_Subject, Policy], Decision | None]

DECIDERS: tuple[Decider, ...] = (_own_connection, _endpoint_rules, _filter_lists)
