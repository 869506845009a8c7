"""Where the daemon keeps its files, and which daemon the CLI talks to."""

from __future__ import annotations

import os
from pathlib import Path

from netwarden.api import API_SOCKET_NAME
from netwarden.lab.plan import DEFAULT_LAB_DIR, LAB_MARKER

DEFAULT_CONFIG_DIR = Path("/etc/netwarden")
DEFAULT_STATE_DIR = Path("/var/lib/netwarden")
LAB_DIR = DEFAULT_LAB_DIR
SOCKET_ENV = "NETWARDEN_SOCKET"


def api_socket(explicit: Path | None = None) -> Path:
    """The API socket: explicit, then $NETWARDEN_SOCKET, then the lab's daemon
    while a lab is up, then the system daemon's.

    A lab is up while its directory is: if its daemon is gone, the error
    names the lab's socket, not a system daemon nobody started.
    """
    if explicit is not None:
        return explicit
    if from_env := os.environ.get(SOCKET_ENV):
        return Path(from_env)
    lab_socket = LAB_DIR / "state" / API_SOCKET_NAME
    if lab_socket.exists() or (LAB_DIR / LAB_MARKER).exists():
        return lab_socket
    return DEFAULT_STATE_DIR / API_SOCKET_NAME
