from __future__ import annotations

import ipaddress

import pytest

from netwarden.attribution.process import Process
from netwarden.history.serialize import connection_to_json
from netwarden.history.table import ConnectionTable
from netwarden.network.connection import (
    Connection,
    ConnectionKind,
    Decision,
    Reason,
    Verdict,
)
from netwarden.network.packet import FlowKey, Protocol


def make_connection(table: ConnectionTable, **overrides: object) -> Connection:
    flow = FlowKey(
        Protocol.TCP,
        ipaddress.ip_address("10.213.0.2"),
        40000,
        ipaddress.ip_address("2001:db8::80"),
        443,
    )
    fields: dict[str, object] = {
        "id": table.next_id(),
        "kind": ConnectionKind.IP,
        "flow": flow,
        "started": 1_700_000_000.25,
        "process": Process(4242, "/usr/bin/curl", ("curl", "x"), 0, "root"),
        "domain": "www.example.com",
        "decision": Decision(
            Verdict.BLOCK,
            Reason("blocked by rule", "filter/endpoints", "netwarden.conf:3: - x"),
        ),
    }
    fields.update(overrides)
    return Connection(**fields)  # type: ignore[arg-type]


def test_recent_returns_newest_last_and_respects_limit() -> None:
    table = ConnectionTable(capacity=3)
    for _ in range(5):
        table.add(make_connection(table))

    assert [c.id for c in table.recent()] == [3, 4, 5]
    assert [c.id for c in table.recent(2)] == [4, 5]
    assert table.recent(0) == []


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ConnectionTable(capacity=0)


def test_json_has_the_cli_contract_keys() -> None:
    table = ConnectionTable()
    row = connection_to_json(make_connection(table))

    assert row["id"] == 1
    assert row["pid"] == 4242
    assert row["exe"] == row["profile"] == "/usr/bin/curl"
    assert row["remote_ip"] == "2001:db8::80"
    assert row["remote_port"] == 443
    assert row["protocol"] == "tcp"
    assert row["direction"] == "outbound"
    assert row["verdict"] == "block"
    assert row["reason"] == "blocked by rule (netwarden.conf:3: - x)"
    assert row["started"] == "2023-11-14T22:13:20.250+00:00"


def test_json_of_an_unattributed_connection() -> None:
    table = ConnectionTable()
    row = connection_to_json(make_connection(table, process=None, decision=None))

    assert row["pid"] is None and row["exe"] is None and row["verdict"] is None
