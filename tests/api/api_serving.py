"""Serve the API on a real Unix socket from a background event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from netwarden.api.server import ApiServer, StatusProvider, build_app
from netwarden.history.table import ConnectionTable


@contextlib.contextmanager
def serving(
    table: ConnectionTable, status: StatusProvider, socket_path: Path
) -> Iterator[ApiServer]:
    """The server runs while the block runs; it is stopped even on failure."""
    server = ApiServer(build_app(table, status), socket_path)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(server.stop())
        loop.close()
