from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netwarden.system.locks import ExclusiveLock, LockHeld, netns_lock_path

HOLD = """
import sys, time
from pathlib import Path
from netwarden.system.locks import ExclusiveLock
lock = ExclusiveLock(Path(sys.argv[1]), "holds it")
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


def test_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "daemon.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockHeld, match=rf"pid {holder.pid}\) uses it"):
            ExclusiveLock(path, "uses it").acquire()
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    # A killed holder leaves the file, unlocked: the next daemon takes it.
    assert path.exists()
    lock = ExclusiveLock(path, "uses it")
    lock.acquire()
    assert path.read_text() == f"{os.getpid()}\n"
    lock.release()


def test_release_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run" / "x.lock"
    lock = ExclusiveLock(path, "x")
    lock.acquire()
    assert path.read_text() == f"{os.getpid()}\n"

    lock.release()

    assert not path.exists()
    lock.release()  # twice is harmless


def test_netns_lock_is_named_by_the_namespace(tmp_path: Path) -> None:
    info = os.stat("/proc/thread-self/ns/net")
    expected = tmp_path / f"netns-{info.st_dev}-{info.st_ino}.lock"
    assert netns_lock_path(tmp_path) == expected
