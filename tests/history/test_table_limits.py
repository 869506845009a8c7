"""The connection table's bounds and the JSON contract of its rows."""

from __future__ import annotations

import ipaddress

import pytest
from history.test_table import make_connection

from netwarden.attribution.process import Process
from netwarden.history.serialize import connection_to_json
from netwarden.history.table import ConnectionTable
from netwarden.network.connection import ConnectionKind
from netwarden.network.packet import Direction, FlowKey

CLI_KEYS = {
    "id",
    "pid",
    "exe",
    "profile",
    "domain",
    "remote_ip",
    "remote_port",
    "protocol",
    "direction",
    "verdict",
    "reason",
    "started",
}


def filled(capacity: int, count: int) -> ConnectionTable:
    table = ConnectionTable(capacity=capacity)
    for _ in range(count):
        table.add(make_connection(table))
    return table


@pytest.mark.parametrize(
    ("capacity", "count", "limit", "ids"),
    [
        (1, 3, None, [3]),
        (1, 3, 1, [3]),
        (1, 3, 5, [3]),
        (5, 3, None, [1, 2, 3]),
        (5, 3, 3, [1, 2, 3]),
        (5, 3, 4, [1, 2, 3]),
        (5, 3, 1, [3]),
        (5, 3, 0, []),
        (5, 3, -1, []),
        (5, 0, None, []),
        (5, 0, 2, []),
        (3, 7, 2, [6, 7]),
    ],
)
def test_recent(capacity: int, count: int, limit: int | None, ids: list[int]) -> None:
    table = filled(capacity, count)
    assert [c.id for c in table.recent(limit)] == ids
    assert len(table) == min(capacity, count)


@pytest.mark.parametrize("capacity", [0, -5])
def test_capacity_below_one_is_refused(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        ConnectionTable(capacity)


def test_ids_keep_counting_past_evictions_and_unused_ids() -> None:
    table = filled(2, 4)
    skipped = table.next_id()  # handed out, never added
    table.add(make_connection(table))
    assert [c.id for c in table] == [4, skipped + 1]


def test_recent_is_a_copy() -> None:
    table = filled(3, 2)
    table.recent().clear()
    assert len(table) == 2


def test_json_keys_hold_the_cli_contract() -> None:
    row = connection_to_json(make_connection(ConnectionTable()))
    assert set(row) >= CLI_KEYS
    assert row["cmdline"] == ["curl", "x"]
    assert (row["user"], row["script"], row["local_port"]) == ("root", None, 40000)
    assert row["reason_option"] == "filter/endpoints"
    assert row["kind"] == "ip"


def test_json_of_an_inbound_dns_entry_with_a_script() -> None:
    flow = FlowKey(
        47,
        ipaddress.ip_address("192.0.2.2"),
        0,
        ipaddress.ip_address("198.51.100.9"),
        0,
        Direction.INBOUND,
    )
    script = Process(9, "/usr/bin/python3.11", ("python3", "t.py"), 1000, "u", "/t.py")
    connection = make_connection(
        ConnectionTable(),
        kind=ConnectionKind.DNS,
        flow=flow,
        process=script,
        domain=None,
        started=0.0,
    )
    row = connection_to_json(connection)
    assert (row["kind"], row["protocol"], row["direction"]) == ("dns", "47", "inbound")
    assert (row["exe"], row["script"], row["profile"]) == (
        "/usr/bin/python3.11",
        "/t.py",
        "/t.py",
    )
    assert row["domain"] is None
    assert row["started"] == "1970-01-01T00:00:00.000+00:00"
