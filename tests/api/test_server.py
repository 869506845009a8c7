"""The API served over a real Unix socket, read with the CLI's client."""

from __future__ import annotations

import asyncio
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from history.test_table import make_connection

from netwarden.api.client import ApiClient
from netwarden.api.server import ApiServer, build_app
from netwarden.errors import ApiError
from netwarden.history.table import ConnectionTable


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ApiClient, ConnectionTable, Path]]:
    table = ConnectionTable()
    for _ in range(3):
        table.add(make_connection(table))
    socket_path = tmp_path / "state" / "api.sock"
    server = ApiServer(build_app(table, lambda: {"ok": True}), socket_path)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = ApiClient(socket_path)
    try:
        yield client, table, socket_path
    finally:
        client.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(server.stop())
        loop.close()


def test_connections_with_limit(
    served: tuple[ApiClient, ConnectionTable, Path],
) -> None:
    client, _, _ = served
    rows = client.get("/v1/connections", limit=2)
    assert [row["id"] for row in rows] == [2, 3]


def test_status(served: tuple[ApiClient, ConnectionTable, Path]) -> None:
    client, _, _ = served
    assert client.get("/v1/status") == {"ok": True}


@pytest.mark.parametrize("limit", ["abc", "0", "1000000"])
def test_bad_limit_is_refused_by_name(
    served: tuple[ApiClient, ConnectionTable, Path], limit: str
) -> None:
    client, _, _ = served
    with pytest.raises(ApiError, match="query field 'limit'"):
        client.get("/v1/connections", limit=limit)
    # The server survives bad requests.
    assert client.get("/v1/status") == {"ok": True}


def test_unknown_route_is_a_clear_error(
    served: tuple[ApiClient, ConnectionTable, Path],
) -> None:
    client, _, _ = served
    with pytest.raises(ApiError, match="Not Found"):
        client.get("/v1/nothing")


def test_socket_is_root_only(served: tuple[ApiClient, ConnectionTable, Path]) -> None:
    _, _, socket_path = served
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700


def test_unreachable_daemon_is_named(tmp_path: Path) -> None:
    client = ApiClient(tmp_path / "missing.sock")
    with pytest.raises(ApiError, match="cannot reach the netwarden daemon"):
        client.get("/v1/status")
