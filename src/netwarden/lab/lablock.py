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

import logging
import time
from pathlib import Path
from types import TracebackType

from netwarden.errors import LabError
from netwarden.system.locks import ExclusiveLock, LockHeld

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
        self._lock = ExclusiveLock(path, "is changing the lab", "lab command")

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
        deadline = time.monotonic() + self.timeout
        waiting = False
        while True:
            try:
                self._lock.acquire()
                return
            except LockHeld as held:
                if time.monotonic() >= deadline:
                    raise LabError(
                        f"another lab command (pid {held.holder}) still holds "
                        f"{self.path} after {self.timeout:.0f} s; try again when "
                        "it has finished"
                    ) from None
                if not waiting:
                    logger.warning(
                        "%s; waiting up to %.0f s for it to finish", held, self.timeout
                    )
                    waiting = True
            time.sleep(POLL_INTERVAL)

    def release(self) -> None:
        """Remove the file, then drop the lock, so no file is left behind."""
        self._lock.release()
