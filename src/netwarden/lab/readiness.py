"""Waiting, bounded, until a lab service answers."""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from netwarden.errors import LabError

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
TAIL_LINES = 20


def wait_until(
    what: str,
    ready: Callable[[], bool],
    timeout: float,
    log: Path,
    log_start: int = 0,
) -> None:
    """Poll ``ready`` until it is true; LabError with the log's tail (from
    byte ``log_start`` on) after ``timeout`` seconds. ``ready`` may raise
    LabError to give up early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            logger.debug("lab: %s answers", what)
            return
        time.sleep(POLL_INTERVAL)
    tail = log_tail(log, offset=log_start)
    raise LabError(
        f"{what} did not answer within {timeout:.0f} s; {log} ends with:\n{tail}"
    )


def log_tail(path: Path, lines: int = TAIL_LINES, offset: int = 0) -> str:
    """The last ``lines`` lines of ``path`` written after byte ``offset``."""
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError as err:
        return f"(cannot read {path}: {err})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def file_size(path: Path) -> int:
    """Where the next line appended to ``path`` starts (0 if it is absent)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def socket_owner(socket_path: Path) -> int | None:
    """The pid of the process listening on a Unix socket, or None.

    ``SO_PEERCRED`` gives the listener's credentials as of its ``listen()``
    call (unix(7)), so this names the process that made the socket.
    """
    creds_size = struct.calcsize("3i")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(socket_path))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, creds_size)
        except OSError:
            return None
    pid, _uid, _gid = struct.unpack("3i", creds)
    return int(pid)


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
