"""Map socket inodes to the processes holding them, from ``/proc/<pid>/fd``.

The kernel names the owner of a socket only by uid and inode; which
process holds that inode is written nowhere but in the fd links of every
process (``/proc/<pid>/fd/N -> socket:[INODE]``, see ``man 5 proc``).
Reading all of them costs milliseconds, so :class:`InodeIndex` keeps what
it has read and refreshes incrementally:

* a hit is verified with a single ``readlink`` of the remembered fd, so a
  closed or passed-on socket is never reported from a stale cache;
* on a miss, the two processes that last owned a socket are read first
  (a long-lived program opening another socket is the commonest case and
  costs one directory read), then the pids not seen before (a new
  program), then the other known pids, recent socket owners first, within
  a budget of pids and of time;
* pids that have left ``/proc`` are forgotten on every refresh;
* an inode that no process held is not looked for again for a second.

Only thread-group leaders are listed in ``/proc``, and threads share the
fd table of their leader, so every pid returned is a process (tgid).
When several processes hold one socket (it was inherited over fork, or
handed over as by systemd socket activation), the most recently started
one is reported: the parent that forked or handed it over is usually not
the one using it.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

SOCKET_LINK_PREFIX = "socket:["
DEFAULT_SCAN_PID_BUDGET = 4096
DEFAULT_SCAN_SECONDS = 0.05
RECENT_FIRST = 2  # recent socket owners read before /proc is listed
MISS_MEMORY_SECONDS = 1.0
MAX_REMEMBERED_MISSES = 4096


def _scan_clock() -> float:
    # The scan's budget is the CPU time it spends, not wall time: on a busy
    # machine the thread may be preempted mid-scan, and that must not make
    # a lookup give up before it read a single process.
    return time.thread_time()


def _socket_inodes(fd_dir: str) -> dict[int, int] | None:
    """Map socket inode -> fd number for one fd directory; None if unreadable."""
    try:
        directory = os.open(fd_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None  # the process exited, or is not ours to read
    try:
        sockets: dict[int, int] = {}
        for name in os.listdir(directory):
            try:
                target = os.readlink(name, dir_fd=directory)
            except OSError:
                continue  # fd closed while we read the directory
            if target.startswith(SOCKET_LINK_PREFIX):
                sockets[int(target[len(SOCKET_LINK_PREFIX) : -1])] = int(name)
        return sockets
    except (OSError, ValueError):
        return None
    finally:
        os.close(directory)


def read_start_ticks(pid: int, proc_root: Path = Path("/proc")) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``: start time in clock ticks since boot."""
    try:
        # os.open/os.read: a third of the cost of Path.read_bytes, and this
        # runs for every attributed flow.
        descriptor = os.open(f"{proc_root}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            stat = os.read(descriptor, 4096)
        finally:
            os.close(descriptor)
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses; fields resume after
    # the last ')'. Field 3 is then index 0, so field 22 is index 19.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


class InodeIndex:
    """Socket inode -> pid, refreshed incrementally from ``proc_root``."""

    def __init__(
        self,
        proc_root: Path = Path("/proc"),
        *,
        scan_pid_budget: int = DEFAULT_SCAN_PID_BUDGET,
        scan_seconds: float = DEFAULT_SCAN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proc_root = proc_root
        self._clock = clock
        # Inodes no process held at the last full scan, and when: a blocked
        # connection's retries (or a socket of another pid namespace) must
        # not rescan /proc on every packet.
        self._missed: dict[tuple[int, int | None], float] = {}  # (inode, uid)
        self._scan_pid_budget = scan_pid_budget
        self._scan_seconds = scan_seconds
        self._fds_by_pid: dict[int, dict[int, int]] = {}  # pid -> inode -> fd
        self._holders: dict[int, dict[int, int]] = {}  # inode -> pid -> fd
        # Known pids in scan order for misses: recent socket owners last
        # in insertion order, so reversed() yields them first.
        self._activity: dict[int, None] = {}
        self.scanned_pids = 0  # fd directories read so far, for tests and stats

    def prime(self) -> None:
        """Read every process not read yet; the daemon calls this at start."""
        deadline = _scan_clock() + self._scan_seconds
        self._scan(self._refresh_pid_list(), 0, deadline, stop_when_found=False)

    def find_pid(self, inode: int, uid: int | None = None) -> int | None:
        """The pid holding socket ``inode``; ``uid`` narrows a rescan if given."""
        if inode == 0:
            return None
        pid = self._verified_holder(inode)
        if pid is not None:
            return pid
        if self._missed_recently((inode, uid)):
            return None
        deadline = _scan_clock() + self._scan_seconds
        # A program that opened sockets before is the likeliest to open this
        # one (a browser, a mail client): its fd directory is read first,
        # before /proc is listed for programs not seen yet.
        recent = list(itertools.islice(self._rescan_order((), uid), RECENT_FIRST))
        pid = self._scan(recent, inode, deadline, stop_when_found=True)
        if pid is None:
            new_pids = self._refresh_pid_list()
            pid = self._scan(new_pids, inode, deadline, stop_when_found=False)
            if pid is None:
                rest = self._rescan_order([*new_pids, *recent], uid)
                pid = self._scan(rest, inode, deadline, stop_when_found=True)
        if pid is None:
            self._remember_miss((inode, uid))
        log.debug("inode %s -> pid %s", inode, pid)
        return pid

    def _missed_recently(self, key: tuple[int, int | None]) -> bool:
        missed_at = self._missed.get(key)
        if missed_at is None:
            return False
        if self._clock() - missed_at < MISS_MEMORY_SECONDS:
            return True
        del self._missed[key]
        return False

    def _remember_miss(self, key: tuple[int, int | None]) -> None:
        self._missed[key] = self._clock()
        if len(self._missed) > MAX_REMEMBERED_MISSES:
            del self._missed[next(iter(self._missed))]  # the oldest

    def _verified_holder(self, inode: int) -> int | None:
        holders = self._holders.get(inode)
        if not holders:
            return None
        live = {
            pid: fd for pid, fd in holders.items() if self._still_holds(pid, fd, inode)
        }
        for pid in set(holders) - set(live):
            self._forget_fd(pid, inode)
        return self._preferred(live) if live else None

    def _still_holds(self, pid: int, fd: int, inode: int) -> bool:
        try:
            target = os.readlink(f"{self.proc_root}/{pid}/fd/{fd}")
        except OSError:
            return False
        return target == f"{SOCKET_LINK_PREFIX}{inode}]"

    def _refresh_pid_list(self) -> list[int]:
        """Forget pids that are gone; return the pids never read before."""
        try:
            current = {
                int(name) for name in os.listdir(self.proc_root) if name.isdigit()
            }
        except OSError as err:
            log.warning("cannot list %s: %s", self.proc_root, err)
            return []
        for pid in set(self._fds_by_pid) - current:
            self._forget_pid(pid)
        # Higher pids are usually younger; read those first.
        return sorted(current - set(self._fds_by_pid), reverse=True)

    def _rescan_order(self, skip: Iterable[int], uid: int | None) -> Iterator[int]:
        """Known pids, recent socket owners first, filtered by uid lazily.

        Lazily: a scan stops at the holder, so the owner of every other
        process is never looked up.
        """
        skipped = set(skip)
        for pid in list(reversed(self._activity)):  # reading reorders it
            if pid not in skipped and (uid is None or self._owned_by(pid, uid)):
                yield pid

    def _owned_by(self, pid: int, uid: int) -> bool:
        # The socket's uid is the creator's fsuid; /proc/<pid> is owned by
        # the process's effective uid. They agree unless a process changed
        # ids after creating the socket, which the full rescan then covers
        # on a later miss without the hint.
        try:
            return os.stat(f"{self.proc_root}/{pid}").st_uid == uid
        except OSError:
            return False

    def _scan(
        self, pids: Iterable[int], inode: int, deadline: float, stop_when_found: bool
    ) -> int | None:
        for count, pid in enumerate(pids):
            if count >= self._scan_pid_budget or _scan_clock() > deadline:
                log.debug("fd scan for inode %s stopped after %s pids", inode, count)
                break
            self._read_pid(pid)
            if stop_when_found and inode in self._holders:
                break
        holders = self._holders.get(inode)
        return self._preferred(holders) if holders else None

    def _read_pid(self, pid: int) -> None:
        self.scanned_pids += 1
        sockets = _socket_inodes(f"{self.proc_root}/{pid}/fd")
        self._forget_pid(pid)
        self._fds_by_pid[pid] = sockets or {}
        if sockets is None:
            return  # gone or unreadable: known, so not read again as new
        self._activity[pid] = None
        for socket_inode, fd in sockets.items():
            self._holders.setdefault(socket_inode, {})[pid] = fd

    def _forget_pid(self, pid: int) -> None:
        for inode in self._fds_by_pid.pop(pid, {}):
            self._drop_holder(inode, pid)
        self._activity.pop(pid, None)

    def _forget_fd(self, pid: int, inode: int) -> None:
        self._fds_by_pid.get(pid, {}).pop(inode, None)
        self._drop_holder(inode, pid)

    def _drop_holder(self, inode: int, pid: int) -> None:
        holders = self._holders.get(inode)
        if holders is None:
            return
        holders.pop(pid, None)
        if not holders:
            del self._holders[inode]

    def _preferred(self, holders: dict[int, int]) -> int:
        pid = self._newest(holders) if len(holders) > 1 else next(iter(holders))
        self._activity.pop(pid, None)
        self._activity[pid] = None  # a socket owner is likely to open more
        return pid

    def _newest(self, holders: dict[int, int]) -> int:
        def started(pid: int) -> int:
            return read_start_ticks(pid, self.proc_root) or 0

        return max(holders, key=lambda pid: (started(pid), pid))
