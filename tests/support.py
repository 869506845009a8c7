"""Helpers shared by tests: capability checks and namespace fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


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


def require_command(name: str) -> None:
    require(shutil.which(name) is not None, f"needs the {name} command")
