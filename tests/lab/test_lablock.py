"""The lab's lock: one state-changing lab command at a time (no root needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netwarden.errors import LabError
from netwarden.lab.lablock import LabLock, lab_lock_path

HOLD = """
import sys, time
from pathlib import Path
from netwarden.lab.lablock import LabLock
with LabLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_in_child(path: Path, seconds: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_lock_lives_outside_the_lab_directory() -> None:
    assert lab_lock_path("nw") == Path("/run/netwarden/lab-nw.lock")


def test_a_second_command_waits_for_the_first(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    child = _hold_in_child(path, 1.0)
    try:
        started = time.monotonic()
        with LabLock(path, timeout=30):
            waited = time.monotonic() - started
            assert path.read_text().strip() == str(os.getpid())
    finally:
        child.kill()
        child.wait(timeout=10)
    assert waited > 0.5, "it waited for the holder's second"
    assert not path.exists(), "released: the file is removed"


def test_a_holder_that_stays_is_named_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    child = _hold_in_child(path, 30.0)
    try:
        with pytest.raises(LabError, match=f"pid {child.pid}"):
            LabLock(path, timeout=0.5).acquire()
    finally:
        child.kill()
        child.wait(timeout=10)


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    child = _hold_in_child(path, 30.0)
    child.kill()  # SIGKILL: the holder cannot release anything itself
    child.wait(timeout=10)
    with LabLock(path, timeout=5):
        assert path.exists()


def test_threads_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    inside = []
    overlaps = []

    def command() -> None:
        with LabLock(path, timeout=30):
            inside.append(1)
            overlaps.append(len(inside) > 1)
            time.sleep(0.2)
            inside.pop()

    threads = [threading.Thread(target=command) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert overlaps == [False, False, False]
