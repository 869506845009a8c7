"""Entering a named network namespace: name checks, errors, the real thing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import add_netns, require_root

from netwarden.errors import NetwardenError
from netwarden.system.netns import NETNS_RUN_DIR, netns_path


@pytest.mark.parametrize("name", ["nwt-dev", "a", "with.dot", "..."])
def test_names_map_into_the_iproute2_directory(name: str) -> None:
    assert netns_path(name) == NETNS_RUN_DIR / name
    assert Path("/run/netns") == NETNS_RUN_DIR


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/run/netns/x", "../x"])
def test_names_that_leave_the_directory_are_refused(name: str) -> None:
    with pytest.raises(NetwardenError, match="invalid network namespace name"):
        netns_path(name)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """``enter_netns`` changes the whole process: try it in a fresh one."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


ENTER = """
import os, sys
from netwarden.errors import NetwardenError
from netwarden.system.netns import enter_netns
try:
    enter_netns({name!r})
except NetwardenError as err:
    print("error:", err)
    sys.exit(3)
print(os.stat("/proc/thread-self/ns/net").st_ino)
"""


def test_missing_namespace_is_named() -> None:
    name = f"nwt-absent-{os.getpid()}"
    result = run_python(ENTER.format(name=name))
    assert result.returncode == 3, result.stderr
    assert result.stdout == f"error: network namespace {name!r} does not exist\n"


def test_invalid_name_is_refused_before_any_file_is_opened() -> None:
    result = run_python(ENTER.format(name="../../proc/1/ns/net"))
    assert result.returncode == 3, result.stderr
    assert "invalid network namespace name" in result.stdout


def test_refused_once_a_thread_runs() -> None:
    code = (
        "import threading\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
    ) + ENTER.format(name="nwt-unused")
    result = run_python(code)
    assert result.returncode == 3, result.stderr
    assert "must run before any thread starts" in result.stdout


@pytest.fixture
def namespace() -> Iterator[str]:
    require_root()
    name = f"nwt-enter-{os.getpid()}"
    add_netns(name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=10)


def test_entering_a_real_namespace(namespace: str) -> None:
    result = run_python(ENTER.format(name=namespace))
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout) == os.stat(NETNS_RUN_DIR / namespace).st_ino
    assert int(result.stdout) != os.stat("/proc/self/ns/net").st_ino
