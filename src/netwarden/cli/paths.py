"""Where the daemon keeps its files, and which daemon the CLI talks to."""

from __future__ import annotations

import os
from pathlib import Path

from netwarden.api import API_SOCKET_NAME
from netwarden.lab.plan import DEFAULT_LAB_DIR

DEFAULT_CONFIG_DIR = Path("/etc/netwarden")
DEFAULT_STATE_DIR = Path("/var/lib/netwarden")
LAB_DIR = DEFAULT_LAB_DIR
SOCKET_ENV = "NETWARDEN_SOCKET"


def api_socket(explicit: Path | None = None) -> Path:
    """The API socket: explicit, then $NETWARDEN_SOCKET, then a running lab's
    daemon, then the system daemon's."""
    if explicit is not None:
        return explicit
    if from_env := os.environ.get(SOCKET_ENV):
        return Path(from_env)
    lab_socket = LAB_DIR / "state" / API_SOCKET_NAME
    if lab_socket.exists():
        return lab_socket
    return DEFAULT_STATE_DIR / API_SOCKET_NAME
