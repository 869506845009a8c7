"""Helpers shared by tests: capability checks and namespace fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from netwarden.lab.lab import Lab


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, why: str) -> None:
    """Skip when a capability is missing; under CI a missing one fails."""
    if condition:
        return
    if under_ci():
        pytest.fail(f"CI=true and a required capability is missing: {why}")
    pytest.skip(why)


def require_root() -> None:
    """Need root, iproute2 and network namespaces (the lab's prerequisites)."""
    require(os.geteuid() == 0, "needs root for network namespaces and netfilter")
    require(shutil.which("ip") is not None, "needs iproute2's ip command")
    probe = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    )
    require(probe.returncode == 0, f"ip netns unusable: {probe.stderr.strip()}")


def add_netns(name: str) -> None:
    """Create network namespace ``name``, replacing one a killed run left.

    Test names carry the test run's pid, which a later run may get again.
    """
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)


def require_command(name: str) -> None:
    require(shutil.which(name) is not None, f"needs the {name} command")


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds.

    For events a test waits on: a shared machine may be seconds late, so a
    deadline is generous and a fixed sleep is never the test's clock.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout} s: {condition}")
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def running_lab(
    directory: Path, filter_list: Path, tag: str, extra_config: Sequence[str] = ()
) -> Iterator[Lab]:
    """A whole lab with its daemon, namespaces ``nwt<pid><tag>-*`` of its own."""
    require_root()
    for command in ("unbound", "curl", "dig", "iptables-restore"):
        require_command(command)
    lab = Lab(
        directory,
        filter_list=filter_list,
        prefix=f"nwt{os.getpid() % 100000}{tag}",
        extra_config=extra_config,
    )
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
