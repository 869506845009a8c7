"""A fake ``/proc`` tree on disk, for tests of attribution without root.

It holds just what attribution reads, in the kernel's formats
(``man 5 proc``): ``exe`` and ``cwd`` symlinks, NUL-separated
``cmdline``, the ``Uid:`` line of ``status``, ``stat`` with its start time
in field 22, and ``fd/N`` symlinks to ``socket:[INODE]``. Symlink targets
need not exist, as in the real tree.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class FakeProcTree:
    """Builds and edits processes under ``root`` (a temporary directory)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add_process(
        self,
        pid: int,
        *,
        exe: str,
        cmdline: tuple[str, ...] | list[str] = (),
        uid: int = 1000,
        cwd: str = "/",
        sockets: dict[int, int] | None = None,
        start_ticks: int = 1000,
        comm: str | None = None,
    ) -> Path:
        """Create ``/proc/<pid>``; ``sockets`` maps fd number -> socket inode."""
        directory = self.root / str(pid)
        directory.mkdir()
        (directory / "exe").symlink_to(exe)
        (directory / "cwd").symlink_to(cwd)
        arguments = list(cmdline) or [exe]
        (directory / "cmdline").write_bytes(
            b"".join(os.fsencode(word) + b"\x00" for word in arguments)
        )
        name = comm if comm is not None else os.path.basename(exe)[:15]
        (directory / "status").write_text(
            f"Name:\t{name}\nPid:\t{pid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        )
        self.write_stat(pid, name, start_ticks)
        (directory / "fd").mkdir()
        for fd, inode in (sockets or {}).items():
            self.open_socket(pid, fd, inode)
        if os.geteuid() == 0:
            os.chown(directory, uid, -1)  # as the kernel shows the euid
        return directory

    def write_stat(self, pid: int, comm: str, start_ticks: int) -> None:
        # Fields 3..21 are placeholders; field 22 is the start time.
        middle = " ".join(["S", "1"] + ["0"] * 17)
        line = f"{pid} ({comm}) {middle} {start_ticks} 0 0\n"
        (self.root / str(pid) / "stat").write_text(line)

    def open_socket(self, pid: int, fd: int, inode: int) -> None:
        (self.root / str(pid) / "fd" / str(fd)).symlink_to(f"socket:[{inode}]")

    def open_file(self, pid: int, fd: int, target: str) -> None:
        (self.root / str(pid) / "fd" / str(fd)).symlink_to(target)

    def close_fd(self, pid: int, fd: int) -> None:
        (self.root / str(pid) / "fd" / str(fd)).unlink()

    def remove_process(self, pid: int) -> None:
        shutil.rmtree(self.root / str(pid))

    def add_kernel_thread(self, pid: int) -> None:
        """A kernel thread: status and stat, but no exe and no fds."""
        directory = self.root / str(pid)
        directory.mkdir()
        (directory / "status").write_text("Name:\tkworker\nUid:\t0\t0\t0\t0\n")
        self.write_stat(pid, "kworker/0:1", 5)
        (directory / "fd").mkdir()
