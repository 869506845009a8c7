"""The engine's DNS client attribution: one lookup per TCP connection."""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from netwarden.attribution.attributor import Attribution, Attributor
from netwarden.attribution.process import Process
from netwarden.config.options import DefaultAction
from netwarden.dns.name_map import NameMap
from netwarden.firewall.decide import Policy
from netwarden.firewall.engine import TCP_CLIENT_MEMORY_SECONDS, FirewallEngine
from netwarden.history.table import ConnectionTable
from netwarden.intel.domain_index import DomainIndex
from netwarden.network.packet import FlowKey, Protocol
from netwarden.rules.ruleset import EndpointRules

CLIENT = ipaddress.ip_address("10.213.0.2")
NAMESERVER = ipaddress.ip_address("127.0.0.1")
DIG = Process(pid=77, exe="/usr/bin/dig", cmdline=("dig",), uid=0, user="root")


class CountingAttributor:
    def __init__(self, process: Process | None = DIG) -> None:
        self.process = process
        self.asked: list[FlowKey] = []

    def attribute_redirected(self, flow: FlowKey) -> Attribution:
        self.asked.append(flow)
        return Attribution(self.process, None)


def engine(attributor: CountingAttributor, clock: list[float]) -> FirewallEngine:
    policy = Policy(EndpointRules([]), DomainIndex([]), DefaultAction.PERMIT)
    return FirewallEngine(
        policy=policy,
        attributor=cast(Attributor, attributor),
        name_map=NameMap(),
        table=ConnectionTable(capacity=10),
        own_pid=1,
        clock=lambda: clock[0],
    )


def ask(subject: FirewallEngine, protocol: int, port: int) -> Any:
    return subject.attribute_client(protocol, CLIENT, port, NAMESERVER, 53)


def test_queries_on_one_tcp_connection_are_attributed_once() -> None:
    attributor, clock = CountingAttributor(), [100.0]
    subject = engine(attributor, clock)
    assert [ask(subject, Protocol.TCP, 40000) for _ in range(5)] == [DIG] * 5
    assert len(attributor.asked) == 1
    ask(subject, Protocol.TCP, 40001)  # another connection: its own lookup
    assert len(attributor.asked) == 2
    clock[0] += TCP_CLIENT_MEMORY_SECONDS
    ask(subject, Protocol.TCP, 40000)  # remembered only for a while
    assert len(attributor.asked) == 3


def test_udp_queries_and_tcp_misses_are_looked_up_every_time() -> None:
    attributor, clock = CountingAttributor(), [100.0]
    subject = engine(attributor, clock)
    for _ in range(3):
        ask(subject, Protocol.UDP, 40000)
    assert len(attributor.asked) == 3
    attributor.process = None  # not found: perhaps not in /proc yet
    ask(subject, Protocol.TCP, 40002)
    attributor.process = DIG
    assert ask(subject, Protocol.TCP, 40002) == DIG
    assert len(attributor.asked) == 5
