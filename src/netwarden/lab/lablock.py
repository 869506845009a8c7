"""One lock per lab, so that lab commands changing it run one at a time.

``up``, ``down`` and ``restart`` each read the lab's state and then change
it; two of them interleaved leave a lab neither one made (two restarts: a
daemon the pidfile no longer names). The lock is a ``flock(2)`` on a file
outside the lab directory, which ``down`` deletes, and named after the
lab's namespaces, the resource two lab directories could share. The lock
belongs to the open file and dies with its holder, kill -9 included; the
file is opened close-on-exec, so the servers a command starts never
inherit it. A second command waits, bounded, and then names the holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from netwarden.errors import LabError

logger = logging.getLogger(__name__)

LOCK_DIR = Path("/run/netwarden")
LOCK_TIMEOUT = 60.0
POLL_INTERVAL = 0.1


def lab_lock_path(prefix: str, lock_dir: Path = LOCK_DIR) -> Path:
    return lock_dir / f"lab-{prefix}.lock"


class LabLock:
    """Exclusive, waiting up to ``timeout`` seconds; a context manager."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> LabLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock; LabError naming the holder after the timeout."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout
        holder = self._try_once()
        if holder is not None:
            logger.warning(
                "another lab command (pid %s) is changing the lab; waiting up "
                "to %.0f s for it to finish",
                holder,
                self.timeout,
            )
        while holder is not None:
            if time.monotonic() >= deadline:
                raise LabError(
                    f"another lab command (pid {holder}) still holds {self.path} "
                    f"after {self.timeout:.0f} s; try again when it has finished"
                )
            time.sleep(POLL_INTERVAL)
            holder = self._try_once()

    def release(self) -> None:
        """Remove the file, then drop the lock, so no file is left behind."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def _try_once(self) -> str | None:
        """None once the lock is ours, else the holder's pid as it wrote it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            return holder
        # The holder we waited for removes the file on release: the lock is
        # ours only if the file we locked is still the one at the path.
        if not _same_file(fd, self.path):
            os.close(fd)
            return "?"
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)
