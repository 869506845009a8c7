"""`lab restart` with the real daemon: serialized, and checked to be ours.

Needs root (skips without it, fails under CI=true); the lab has its own
``nwt...r`` namespaces and a directory under the test's tmp path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import running_lab

from netwarden.errors import LabError
from netwarden.lab import processes
from netwarden.lab.lab import DAEMON_NAME, Lab
from netwarden.lab.readiness import socket_owner

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, easyprivacy: Path) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab") / "lab", easyprivacy, "r") as lab:
        yield lab


def _daemon_pid(lab: Lab) -> int:
    records = processes.read_records(lab.pid_dir)
    return next(record.pid for record in records if record.name == DAEMON_NAME)


def test_concurrent_restarts_leave_the_tracked_daemon_running(lab: Lab) -> None:
    errors: list[Exception] = []

    def restart() -> None:
        try:
            lab.restart_daemon()
        except LabError as err:
            errors.append(err)

    threads = [threading.Thread(target=restart) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert lab.is_up()
    assert socket_owner(lab.api_socket) == _daemon_pid(lab)


def test_a_daemon_that_refuses_is_reported_with_its_own_log(lab: Lab) -> None:
    first = next(
        record
        for record in processes.read_records(lab.pid_dir)
        if record.name == DAEMON_NAME
    )
    assert "protecting" in lab.daemon_log.read_text()
    try:
        # What the loser of two unserialized restarts did: start a second
        # daemon while the first one still answers on the API socket.
        with pytest.raises(LabError, match="refusing to start") as refused:
            lab._launch_daemon()
        message = str(refused.value)
        assert f"pid {first.pid}" in message
        assert "protecting" not in message, "the first daemon's lines are not quoted"
    finally:
        processes.stop_recorded(first, 20)  # the lab's own first daemon
    lab.restart_daemon()
    assert socket_owner(lab.api_socket) == _daemon_pid(lab)
