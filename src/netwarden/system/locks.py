"""Exclusive locks that say which daemon holds them, released when it dies.

``flock(2)`` locks belong to the open file and vanish with the process,
kill -9 included, so a crashed daemon never leaves a stale lock behind.
The holder writes its pid into the file, so that a refused second daemon
can name the first, and removes the file when it stops cleanly (a killed
daemon leaves it, unlocked, to be reused).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from netwarden.errors import NetwardenError

RUN_DIR = Path("/run/netwarden")
ATTEMPTS = 3  # each retry means a holder released the lock meanwhile


class LockHeld(NetwardenError):
    """Another process holds the lock; ``holder`` is its pid as it wrote it."""

    def __init__(self, message: str, holder: str = "?") -> None:
        super().__init__(message)
        self.holder = holder


class ExclusiveLock:
    """``holder_kind`` and ``purpose`` make the refusal's message: "another
    <holder_kind> (pid N) <purpose>"."""

    def __init__(
        self, path: Path, purpose: str, holder_kind: str = "netwarden daemon"
    ) -> None:
        self.path = path
        self.purpose = purpose
        self.holder_kind = holder_kind
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` naming the holder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(ATTEMPTS):
            fd = self._open_locked()
            # The holder we waited for may have removed the file on release:
            # the lock is ours only if we locked the file now at the path.
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return
            os.close(fd)
        raise LockHeld(
            f"{self.path} keeps changing; is another {self.holder_kind} starting?"
        )

    def release(self) -> None:
        """Remove the file, then drop the lock, so no file is left behind."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None

    def _open_locked(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockHeld(
                f"another {self.holder_kind} (pid {holder}) {self.purpose}", holder
            ) from None
        return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def netns_lock_path(run_dir: Path = RUN_DIR) -> Path:
    """One lock per network namespace, named by the namespace's inode."""
    info = os.stat("/proc/thread-self/ns/net")
    return run_dir / f"netns-{info.st_dev}-{info.st_ino}.lock"
