"""Flow keys, protocol labels, directions and the connection value objects."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from netwarden.attribution.process import Process
from netwarden.network.connection import (
    Connection,
    ConnectionKind,
    Decision,
    Reason,
    Verdict,
)
from netwarden.network.packet import Direction, FlowKey, Protocol

V4 = ipaddress.IPv4Address("192.0.2.1")
V6 = ipaddress.IPv6Address("2001:db8::1")


def flow(
    protocol: int = 6,
    remote: ipaddress.IPv4Address | ipaddress.IPv6Address = V4,
    direction: Direction = Direction.OUTBOUND,
) -> FlowKey:
    local = V4 if remote.version == 4 else V6
    return FlowKey(protocol, local, 40000, remote, 443, direction)


@pytest.mark.parametrize(
    ("number", "label"),
    [(1, "icmp"), (6, "tcp"), (17, "udp"), (58, "icmpv6"), (47, "47"), (0, "0")],
)
def test_protocol_label(number: int, label: str) -> None:
    assert flow(number).protocol_label == label


def test_protocol_numbers_are_iana_numbers() -> None:
    assert {p.label: int(p) for p in Protocol} == {
        "icmp": 1,
        "tcp": 6,
        "udp": 17,
        "icmpv6": 58,
    }
    assert Protocol(6) is Protocol.TCP and Protocol.TCP == 6


def test_direction_values_are_the_json_words() -> None:
    assert [d.value for d in Direction] == ["outbound", "inbound"]
    assert Direction("inbound") is Direction.INBOUND
    assert flow().direction is Direction.OUTBOUND  # the default


@pytest.mark.parametrize(("remote", "version"), [(V4, 4), (V6, 6)])
def test_version_is_the_remote_address_family(
    remote: ipaddress.IPv4Address | ipaddress.IPv6Address, version: int
) -> None:
    assert flow(remote=remote).version == version


def test_flow_keys_are_frozen_hashable_values() -> None:
    assert flow() == flow() and hash(flow()) == hash(flow())
    assert flow() != flow(direction=Direction.INBOUND)
    assert flow() != flow(17)
    assert len({flow(), flow(), flow(17)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow().remote_port = 80  # type: ignore[misc]


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Reason("netwarden itself"), "netwarden itself"),
        (
            Reason("blocked by rule", "filter/endpoints", "n.conf:3: - x"),
            ("blocked by rule (n.conf:3: - x)"),
        ),
        (
            Reason("blocked by default action", "filter/defaultAction"),
            ("blocked by default action"),
        ),
    ],
)
def test_reason_reads_as_a_sentence(reason: Reason, text: str) -> None:
    assert str(reason) == text


def test_decisions_compare_by_value() -> None:
    block = Decision(Verdict.BLOCK, Reason("x", "filter/lists", "L: a.example"))
    assert block == Decision(Verdict.BLOCK, Reason("x", "filter/lists", "L: a.example"))
    assert block != Decision(Verdict.DROP, block.reason)
    assert [v.value for v in Verdict] == ["accept", "block", "drop"]
    assert [k.value for k in ConnectionKind] == ["ip", "dns"]


def test_connection_is_filled_in_along_the_path() -> None:
    connection = Connection(1, ConnectionKind.IP, flow(), started=10.0)
    assert (connection.process, connection.domain, connection.decision) == (
        None,
        None,
        None,
    )
    connection.domain = "a.example"
    connection.decision = Decision(Verdict.ACCEPT, Reason("ok"))
    assert connection.decision.verdict is Verdict.ACCEPT


@pytest.mark.parametrize(
    ("script", "profile"),
    [(None, "/usr/bin/python3.11"), ("/opt/tool.py", "/opt/tool.py")],
)
def test_profile_is_the_script_else_the_executable(
    script: str | None, profile: str
) -> None:
    process = Process(7, "/usr/bin/python3.11", ("python3",), 0, "root", script)
    assert process.profile_key == profile
