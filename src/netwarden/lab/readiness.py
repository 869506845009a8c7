"""Waiting, bounded, until a lab service answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from netwarden.errors import LabError

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
TAIL_LINES = 20


def wait_until(what: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    """Poll ``ready`` until it is true; LabError with the log's tail after
    ``timeout`` seconds. ``ready`` may raise LabError to give up early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            logger.debug("lab: %s answers", what)
            return
        time.sleep(POLL_INTERVAL)
    tail = log_tail(log)
    raise LabError(
        f"{what} did not answer within {timeout:.0f} s; {log} ends with:\n{tail}"
    )


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        return f"(cannot read {path}: {err})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def daemon_answers(socket_path: Path) -> bool:
    """True when the daemon's API answers ``GET /v1/status`` with 200."""
    if not socket_path.exists():
        return False
    transport = httpx.HTTPTransport(uds=str(socket_path))
    try:
        with httpx.Client(
            transport=transport, base_url="http://netwarden", timeout=2.0
        ) as client:
            return client.get("/v1/status").status_code == 200
    except httpx.TransportError:
        return False
