"""A queue without a kernel, for tests of whatever reads a queue.

It has a real file descriptor (one end of a socket pair) that is readable
while injected packets wait, so it works with ``loop.add_reader`` exactly
like :class:`~netwarden.intercept.nfqueue.NfQueue`.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

from netwarden.intercept.nfqueue import QueuedPacket, QueueStats


@dataclass(frozen=True, slots=True)
class GivenVerdict:
    packet_id: int
    accept: bool
    mark: int | None


class FakeQueue:
    """Holds injected packets and records the verdicts given to them."""

    def __init__(self) -> None:
        self.stats = QueueStats()
        self.verdicts: list[GivenVerdict] = []
        self._waiting: list[QueuedPacket] = []
        self._next_id = 1
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)

    def inject(self, payload: bytes, mark: int = 0) -> int:
        """Queue ``payload`` as the kernel would; returns its packet id."""
        packet_id = self._next_id
        self._next_id += 1
        version = payload[0] >> 4 if payload else 0
        hw_protocol = 0x86DD if version == 6 else 0x0800  # EtherType of the family
        hook = 3  # NF_INET_LOCAL_OUT
        self._waiting.append(QueuedPacket(packet_id, hw_protocol, hook, mark, payload))
        self._writer.send(b"\0")
        return packet_id

    def fileno(self) -> int:
        return self._reader.fileno()

    def receive(self) -> list[QueuedPacket]:
        with contextlib.suppress(BlockingIOError):
            self._reader.recv(65536)
        packets, self._waiting = self._waiting, []
        self.stats.received += len(packets)
        return packets

    def set_verdict(
        self, packet_id: int, accept: bool, mark: int | None = None
    ) -> None:
        self.verdicts.append(GivenVerdict(packet_id, accept, mark))

    def verdicts_for(self, packet_id: int) -> list[GivenVerdict]:
        return [given for given in self.verdicts if given.packet_id == packet_id]

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
