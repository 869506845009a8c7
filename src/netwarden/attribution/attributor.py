"""From a flow to the process that made it: socket, then pid, then details.

:class:`Attributor` chains the three lookups of the attribution path
(``DESIGN.md``, "The path of a connection"): ``sock_diag`` gives the
socket's uid and inode, :class:`~netwarden.attribution.proc_fd.InodeIndex`
the pid, and ``/proc/<pid>`` the details. Details are cached by pid and
start time, so a busy program is read once, while a pid reused by a new
process (same pid, other start time) is read afresh. Nothing here hashes
binaries or reads files beyond ``/proc``: that stays off the packet path.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from netwarden.attribution.proc_fd import read_start_ticks
from netwarden.attribution.process import Process
from netwarden.attribution.process_info import read_process
from netwarden.attribution.sock_diag import SocketOwner
from netwarden.network.packet import FlowKey, IPAddress

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 512


class SocketLookup(Protocol):
    """What the attributor needs of :class:`~.sock_diag.SocketDiag`."""

    def lookup(self, flow: FlowKey) -> SocketOwner | None: ...

    def lookup_redirected(
        self, protocol: int, local_ip: IPAddress, local_port: int
    ) -> SocketOwner | None: ...


class PidLookup(Protocol):
    """What the attributor needs of :class:`~.proc_fd.InodeIndex`."""

    proc_root: Path

    def find_pid(self, inode: int, uid: int | None = None) -> int | None: ...


ProcessReader = Callable[[int, Path], Process | None]


@dataclass(frozen=True, slots=True)
class Attribution:
    process: Process | None
    socket: SocketOwner | None


class Attributor:
    """Names the process behind a flow, or None when it cannot be found.

    None means: no socket (it closed, or the packet was forged or
    forwarded), a socket without inode (time-wait), or a holder that
    exited before it was read. The caller decides what such a flow gets.
    Not thread-safe (nor is the inode index): one per packet thread, or
    calls serialised by the caller.
    """

    def __init__(
        self,
        socket_diag: SocketLookup,
        inode_index: PidLookup,
        read_process: ProcessReader = read_process,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._socket_diag = socket_diag
        self._inode_index = inode_index
        self._read_process = read_process
        self._cache: OrderedDict[tuple[int, int | None], Process] = OrderedDict()
        self._cache_size = cache_size

    def attribute(self, flow: FlowKey) -> Process | None:
        return self.attribute_socket(flow).process

    def attribute_socket(self, flow: FlowKey) -> Attribution:
        """The process behind ``flow`` together with its socket."""
        return self._attribution(flow, self._socket_diag.lookup(flow))

    def attribute_redirected(self, flow: FlowKey) -> Attribution:
        """Like :meth:`attribute_socket`, for a flow that reached us through
        REDIRECT: its socket is found by the local side alone."""
        owner = self._socket_diag.lookup_redirected(
            flow.protocol, flow.local_ip, flow.local_port
        )
        return self._attribution(flow, owner)

    def _attribution(self, flow: FlowKey, owner: SocketOwner | None) -> Attribution:
        if owner is None or owner.inode == 0:
            log.debug("%s: no socket owner (%s)", _Described(flow), owner)
            return Attribution(None, owner)
        return Attribution(self._process_of(flow, owner), owner)

    def _process_of(self, flow: FlowKey, owner: SocketOwner) -> Process | None:
        pid = self._inode_index.find_pid(owner.inode, owner.uid)
        if pid is None:
            log.debug("%s: inode %s has no holder", _Described(flow), owner.inode)
            return None
        process = self.process(pid)
        log.debug(
            "%s: pid %s %s", _Described(flow), pid, process.exe if process else None
        )
        return process

    def process(self, pid: int) -> Process | None:
        """Details of ``pid``, from the cache while it is the same process."""
        key = (pid, read_start_ticks(pid, self._inode_index.proc_root))
        if key[1] is None:
            return None  # exited
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        process = self._read_process(pid, self._inode_index.proc_root)
        if process is not None:
            self._remember(key, process)
        return process

    def _remember(self, key: tuple[int, int | None], process: Process) -> None:
        self._cache[key] = process
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


class _Described:
    """A flow rendered only when a DEBUG record is actually emitted."""

    def __init__(self, flow: FlowKey) -> None:
        self.flow = flow

    def __str__(self) -> str:
        flow = self.flow
        return (
            f"{flow.protocol_label} {flow.local_ip}:{flow.local_port}"
            f" -> {flow.remote_ip}:{flow.remote_port}"
        )
