"""API errors leave as JSON, limits are checked at their bounds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from api.api_serving import serving
from history.test_table import make_connection

from netwarden.api.client import ApiClient, _error_text
from netwarden.api.server import MAX_LIMIT, StatusProvider, build_app
from netwarden.history.table import ConnectionTable


def table_of(count: int) -> ConnectionTable:
    table = ConnectionTable()
    for _ in range(count):
        table.add(make_connection(table))
    return table


def request(
    method: str, path: str, status: StatusProvider = dict, entries: int = 3
) -> tuple[int, str, Any]:
    """Status code, content type and JSON body of one request to the app."""

    async def run() -> tuple[int, str, Any]:
        app = build_app(table_of(entries), status)
        async with TestClient(TestServer(app)) as client:
            response = await client.request(method, path)
            return response.status, response.content_type, await response.json()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("path", "ids"),
    [
        ("/v1/connections", [1, 2, 3, 4, 5]),
        ("/v1/connections?limit=1", [5]),
        ("/v1/connections?limit=5", [1, 2, 3, 4, 5]),
        (f"/v1/connections?limit={MAX_LIMIT}", [1, 2, 3, 4, 5]),
    ],
)
def test_limits_in_range(path: str, ids: list[int]) -> None:
    code, content_type, body = request("GET", path, entries=5)
    assert (code, content_type) == (200, "application/json")
    assert [row["id"] for row in body] == ids


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "must be between 1 and 10000"),
        (f"limit={MAX_LIMIT + 1}", "must be between 1 and 10000"),
        ("limit=-1", "must be between 1 and 10000"),
        ("limit=", "not an integer: ''"),
        ("limit=2.5", "not an integer: '2.5'"),
        ("limit=%2B5", "not an integer: '+5'"),
        ("limit=%205", "not an integer: ' 5'"),
        ("limit=5_0", "not an integer: '5_0'"),
        ("limit=1&limit=2", "given more than once"),
        ("limit=" + "9" * 100, "must be between 1 and 10000"),
        ("limit=" + "x" * 100, "not an integer: '" + "x" * 40 + "'"),
    ],
)
def test_bad_limits_are_json_errors(query: str, message: str) -> None:
    code, content_type, body = request("GET", f"/v1/connections?{query}")
    assert (code, content_type) == (400, "application/json")
    assert body == {"error": f"query field 'limit': {message}"}


@pytest.mark.parametrize(
    ("method", "path", "code", "error"),
    [
        ("GET", "/v1/nothing", 404, "Not Found"),
        ("GET", "/", 404, "Not Found"),
        ("POST", "/v1/status", 405, "Method Not Allowed"),
        ("DELETE", "/v1/connections", 405, "Method Not Allowed"),
    ],
)
def test_http_errors_are_json(method: str, path: str, code: int, error: str) -> None:
    assert request(method, path) == (code, "application/json", {"error": error})


def test_a_failing_handler_is_a_json_500_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("counter gone")

    assert request("GET", "/v1/status", status=broken) == (
        500,
        "application/json",
        {"error": "internal error"},
    )
    assert "API request GET /v1/status failed" in caplog.text
    assert "counter gone" in caplog.text  # the traceback, for the journal


@pytest.mark.parametrize(
    ("response", "text"),
    [
        (httpx.Response(400, json={"error": "bad limit"}), "bad limit"),
        (httpx.Response(500, text="<html>oops</html>"), "HTTP 500"),
        (httpx.Response(502, json=["not", "an", "object"]), "HTTP 502"),
        (httpx.Response(503, json={"other": 1}), "HTTP 503"),
    ],
)
def test_client_error_text(response: httpx.Response, text: str) -> None:
    assert _error_text(response) == text


def test_stale_socket_file_is_replaced_and_removed_on_stop(tmp_path: Path) -> None:
    socket_path = tmp_path / "state" / "api.sock"
    socket_path.parent.mkdir()
    socket_path.write_text("left by a crashed run")
    with serving(table_of(1), lambda: {"up": True}, socket_path):
        client = ApiClient(socket_path)
        try:
            assert client.get("/v1/status") == {"up": True}
            rows = client.get("/v1/connections")
        finally:
            client.close()
    assert json.loads(json.dumps(rows))[0]["id"] == 1
    assert not socket_path.exists()
