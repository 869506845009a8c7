"""The lab's processes: started with a pidfile, stopped only if still ours.

A pidfile records the pid and the command line the process was started
with. Before signalling a recorded pid, the lab compares that command line
with ``/proc/<pid>/cmdline``: after a crash and a reboot, or simply after
the process ended, the kernel may have given the pid to an unrelated
program, and that one must never be killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netwarden.errors import LabError

logger = logging.getLogger(__name__)

PIDFILE_SUFFIX = ".pid.json"
POLL_INTERVAL = 0.05
EXEC_SETTLE_TIMEOUT = 2.0
EXEC_SETTLE_INTERVAL = 0.002
MAX_ANCESTRY = 64


@dataclass(frozen=True)
class ProcessRecord:
    """What a pidfile holds.

    ``argv`` is the command line of the running program; ``launcher`` is a
    prefix that execs it (``ip netns exec NS``), seen in ``/proc`` only for
    the moment before that exec.
    """

    name: str
    pid: int
    argv: tuple[str, ...]
    launcher: tuple[str, ...] = ()

    def render(self) -> str:
        fields = {"name": self.name, "pid": self.pid, "argv": list(self.argv)}
        return json.dumps({**fields, "launcher": list(self.launcher)}) + "\n"

    @classmethod
    def parse(cls, text: str, source: str = "<pidfile>") -> ProcessRecord:
        try:
            data = json.loads(text)
            record = cls(
                name=str(data["name"]),
                pid=int(data["pid"]),
                argv=tuple(str(arg) for arg in data["argv"]),
                launcher=tuple(str(arg) for arg in data.get("launcher", [])),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise LabError(f"{source}: not a lab pidfile: {err}") from err
        if record.pid <= 1:
            raise LabError(f"{source}: pid {record.pid} is not a lab process")
        return record

    def command_lines(self) -> tuple[tuple[str, ...], ...]:
        """The command lines under which this process may be seen."""
        if self.launcher:
            return (self.argv, self.launcher + self.argv)
        return (self.argv,)


def pidfile_path(pid_dir: Path, name: str) -> Path:
    return pid_dir / f"{name}{PIDFILE_SUFFIX}"


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    pid_dir: Path,
    log_path: Path,
    launcher: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start ``launcher + argv`` in a session of its own, logging to a file.

    A new session keeps the terminal's Ctrl-C away from the lab's servers:
    the command that started them decides when they stop.
    """
    pid_dir.mkdir(parents=True, exist_ok=True)
    command = [*launcher, *argv]
    logger.debug("lab: starting %s: %s", name, command)
    with open(log_path, "ab") as log:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise LabError(f"cannot start {name} ({command[0]}): {err}") from err
    record = ProcessRecord(name, process.pid, tuple(argv), tuple(launcher))
    pidfile_path(pid_dir, name).write_text(record.render())
    return process


def read_records(pid_dir: Path) -> list[ProcessRecord]:
    """Every readable pidfile in ``pid_dir``; unreadable ones are logged."""
    if not pid_dir.is_dir():
        return []
    records = []
    for path in sorted(pid_dir.glob(f"*{PIDFILE_SUFFIX}")):
        try:
            records.append(ProcessRecord.parse(path.read_text(), str(path)))
        except (OSError, LabError) as err:
            logger.warning("ignoring %s: %s", path, err)
    return records


def is_running_as_recorded(record: ProcessRecord) -> bool:
    """True while ``record.pid`` is alive and runs the recorded command."""
    if not _is_alive(record.pid):
        return False
    command_line = _read_command_line(record.pid)
    return command_line is not None and command_line in record.command_lines()


def _read_command_line(pid: int) -> tuple[str, ...] | None:
    """The pid's command line, or None once it is gone.

    The kernel closes the close-on-exec pipe through which Popen learns that
    exec succeeded before it points the new program's memory at its
    arguments, so for a moment after Popen returns ``cmdline`` reads empty.
    A lab process never has an empty command line for longer; wait it out.
    """
    deadline = time.monotonic() + EXEC_SETTLE_TIMEOUT
    while True:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if raw or time.monotonic() >= deadline or not _is_alive(pid):
            return tuple(arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1])
        time.sleep(EXEC_SETTLE_INTERVAL)


def descends_from(pid: int, ancestors: set[int]) -> bool:
    """True if ``pid`` is one of ``ancestors`` or a descendant of one."""
    for _ in range(MAX_ANCESTRY):  # bounded, though ppid chains end at 1
        if pid in ancestors:
            return True
        parent = _parent_pid(pid)
        if parent is None or parent <= 1:
            return False
        pid = parent
    return False


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The parent follows the state, after the parenthesised name (proc(5)).
    return int(stat.rsplit(")", 1)[1].split()[1])


def stop_recorded(record: ProcessRecord, timeout: float) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; only if ours."""
    if not is_running_as_recorded(record):
        logger.debug("lab: %s (pid %d) is not running", record.name, record.pid)
        return
    logger.debug("lab: stopping %s (pid %d)", record.name, record.pid)
    _signal(record.pid, signal.SIGTERM)
    if _wait_gone(record.pid, timeout):
        return
    logger.warning("%s (pid %d) ignored SIGTERM, killing it", record.name, record.pid)
    _signal(record.pid, signal.SIGKILL)
    if not _wait_gone(record.pid, timeout):
        raise LabError(f"{record.name} (pid {record.pid}) survived SIGKILL")


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_alive(pid):
            return True
        time.sleep(POLL_INTERVAL)
    return not _is_alive(pid)


def _is_alive(pid: int) -> bool:
    """Alive and not a zombie; reaps the pid if it is our own child."""
    # Not our child: its own parent (or init) reaps it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself
    # contain spaces and parentheses (proc(5)).
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in {"Z", "X"}
