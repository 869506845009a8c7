"""HTTP handlers of the local API (aiohttp) and the Unix-socket listener.

Routes (all JSON)::

    GET /v1/status                    daemon state and counters
    GET /v1/connections?limit=N       newest N connections, oldest first
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from netwarden.history.serialize import connection_to_json
from netwarden.history.table import ConnectionTable

logger = logging.getLogger(__name__)

MAX_LIMIT = 10_000
StatusProvider = Callable[[], dict[str, Any]]

_TABLE = web.AppKey("table", ConnectionTable)
_STATUS: web.AppKey[StatusProvider] = web.AppKey("status")


def build_app(table: ConnectionTable, status: StatusProvider) -> web.Application:
    app = web.Application(middlewares=[_json_errors])
    app[_TABLE] = table
    app[_STATUS] = status
    app.router.add_get("/v1/status", _get_status)
    app.router.add_get("/v1/connections", _get_connections)
    return app


@web.middleware
async def _json_errors(
    request: web.Request,
    handler: Callable[[web.Request], Any],
) -> web.StreamResponse:
    """Every error leaves as JSON ``{"error": ...}``; none stops the daemon."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as err:
        return web.json_response({"error": err.reason}, status=err.status)
    except Exception:
        logger.exception("API request %s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


async def _get_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[_STATUS]())


async def _get_connections(request: web.Request) -> web.Response:
    given = request.query.getall("limit", [])
    if len(given) > 1:
        raise web.HTTPBadRequest(reason="query field 'limit': given more than once")
    limit = _parse_limit(given[0] if given else None)
    table = request.app[_TABLE]
    return web.json_response([connection_to_json(c) for c in table.recent(limit)])


def _parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    # Digits only: int() would also take "+5", " 5" and "5_0".
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise web.HTTPBadRequest(
            reason=f"query field 'limit': not an integer: {raw[:40]!r}"
        )
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise web.HTTPBadRequest(
            reason=f"query field 'limit': must be between 1 and {MAX_LIMIT}"
        )
    return limit


class ApiServer:
    """Serves the API on a root-only Unix socket."""

    def __init__(self, app: web.Application, socket_path: Path) -> None:
        self._app = app
        self._socket_path = socket_path
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._socket_path.unlink(missing_ok=True)  # left by a crashed run
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        listener = _bind_private_socket(self._socket_path)
        await web.SockSite(self._runner, listener).start()
        logger.info("API listening on %s", self._socket_path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._socket_path.unlink(missing_ok=True)


def _bind_private_socket(path: Path) -> socket.socket:
    """A Unix socket that is 0600 from its creation on, not after a chmod.

    The umask is process-wide, so it is changed only around the bind, with
    no ``await`` in between: no other coroutine runs under it.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old_umask)
    return listener
