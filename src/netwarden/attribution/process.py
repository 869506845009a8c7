"""What netwarden knows about the process behind a socket."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Process:
    """A process as read from ``/proc`` at the time of its connection.

    ``exe`` is the resolved executable (``/usr/bin/python3.11`` for a
    script); ``script`` is the script an interpreter runs, when one is
    recognised, so that a rule can name the script rather than python.
    ``start_ticks`` is the start time from ``/proc/<pid>/stat`` (clock ticks
    since boot); with the pid it names one process even after pid reuse.
    """

    pid: int
    exe: str
    cmdline: tuple[str, ...]
    uid: int
    user: str
    script: str | None = None
    start_ticks: int | None = None

    @property
    def identity(self) -> tuple[int, int | None]:
        """Names this process and no later one that reuses its pid."""
        return (self.pid, self.start_ticks)

    @property
    def profile_key(self) -> str:
        """The identity a profile is matched on until profiles exist.

        The walking skeleton names a program by its executable, or by its
        script when an interpreter runs one.
        """
        return self.script or self.exe
