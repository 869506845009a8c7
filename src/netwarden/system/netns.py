"""Entering a named network namespace from Python.

Python 3.11 has no ``os.setns``, so ``setns(2)`` is called through libc.
A network namespace is a property of the calling thread; threads created
afterwards inherit it. The daemon therefore enters its namespace first
thing, before any thread or socket exists, and every socket it opens later
(netlink, NFQUEUE, DNS) lives inside that namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from netwarden.errors import NetwardenError

NETNS_RUN_DIR = Path("/run/netns")  # where iproute2 bind-mounts named namespaces
CLONE_NEWNET = 0x40000000


def netns_path(name: str) -> Path:
    if not name or "/" in name or name in {".", ".."}:
        raise NetwardenError(f"invalid network namespace name {name!r}")
    return NETNS_RUN_DIR / name


def enter_netns(name: str) -> None:
    """Move the calling process (its only thread) into namespace ``name``."""
    if threading.active_count() > 1:
        # Other threads would stay behind in the old namespace.
        raise NetwardenError("enter_netns must run before any thread starts")
    path = netns_path(name)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as err:
        raise NetwardenError(f"network namespace {name!r} does not exist") from err
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NetwardenError(
                f"cannot enter network namespace {name!r}: {os.strerror(errno)}"
            )
    finally:
        os.close(fd)
