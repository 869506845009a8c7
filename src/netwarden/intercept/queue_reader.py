"""Turn queued packets into verdicts: parse, ask the decider, mark.

Every packet gets exactly one verdict. A decided packet is always
*accepted* by the queue, carrying the mark of its verdict; the filter rules
(:mod:`.rules`) save that mark in the connmark and reject or drop blocked
connections, so the first packet and every later one are treated alike.

The decider may be a plain function or a coroutine function (attribution
and prompts may wait). Coroutines run as tasks, so a slow decision holds
only its own packet; the kernel holds the packet meanwhile.

Policy for packets that cannot be decided (``unparsable_policy``), used
when the headers cannot be parsed, when the decider raises, and when it
times out or is cancelled at shutdown:

- ``ACCEPT`` (default): accept the packet *unmarked* and count it. The
  kernel itself accepted the packet as IP, so failing open costs little,
  and an unmarked connection is queued again with its next packet, which
  gets a fresh chance to be decided.
- ``DROP``: the queue drops this packet, again without marking the
  connection.
- ``BLOCK``: accept with ``MARK_BLOCK``, so the filter rules reject it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from netwarden.errors import NetlinkError
from netwarden.intercept.marks import combine_mark, mark_for
from netwarden.intercept.nfqueue import QueuedPacket, QueueStats
from netwarden.intercept.packet_parse import PacketError, parse_flow
from netwarden.network.connection import Verdict
from netwarden.network.packet import Direction, FlowKey

log = logging.getLogger(__name__)

Decider = Callable[[FlowKey], Awaitable[Verdict] | Verdict]


class PacketQueue(Protocol):
    """What the reader needs of a queue: :class:`NfQueue` or a fake."""

    stats: QueueStats

    def fileno(self) -> int: ...

    def receive(self) -> list[QueuedPacket]: ...

    def set_verdict(
        self, packet_id: int, accept: bool, mark: int | None = None
    ) -> None: ...


class QueueReader:
    """Reads one queue on an asyncio loop and answers every packet."""

    def __init__(
        self,
        queue: PacketQueue,
        decide: Decider,
        unparsable_policy: Verdict = Verdict.ACCEPT,
        *,
        direction: Direction = Direction.OUTBOUND,
        decide_timeout: float | None = None,
    ) -> None:
        self.queue = queue
        self._decide = decide
        self.unparsable_policy = unparsable_policy
        self._direction = direction
        self._decide_timeout = decide_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        """Packets waiting for an asynchronous decision."""
        return len(self._tasks)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self.queue.fileno(), self.on_readable)

    async def close(self) -> None:
        """Stop reading; packets still being decided get the policy verdict."""
        if self._loop is not None:
            self._loop.remove_reader(self.queue.fileno())
            self._loop = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def on_readable(self) -> None:
        """Drain the queue; never raises, so the event loop keeps running."""
        try:
            packets = self.queue.receive()
        except NetlinkError as err:
            log.error("reading the queue failed: %s", err)
            return
        for packet in packets:
            try:
                self.handle(packet)
            except Exception:  # one packet's failure never skips the others
                log.exception("handling packet %s failed", packet.packet_id)
                self._apply_policy(packet)

    def handle(self, packet: QueuedPacket) -> None:
        try:
            flow = parse_flow(packet.payload, self._direction)
        except PacketError as err:
            self.queue.stats.unparsable += 1
            log.debug("unparsable packet %s: %s", packet.packet_id, err)
            self._apply_policy(packet)
            return
        try:
            result = self._decide(flow)
        except Exception:
            self._decider_failed(packet, flow)
            return
        if inspect.isawaitable(result):
            self._spawn(packet, flow, result)
        else:
            self._answer(packet, result)

    def _spawn(
        self, packet: QueuedPacket, flow: FlowKey, pending: Awaitable[Verdict]
    ) -> None:
        task = asyncio.ensure_future(self._decide_later(packet, flow, pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decide_later(
        self, packet: QueuedPacket, flow: FlowKey, pending: Awaitable[Verdict]
    ) -> None:
        try:
            verdict = await asyncio.wait_for(pending, self._decide_timeout)
            self._answer(packet, verdict)
        except asyncio.CancelledError:
            self._apply_policy(packet)
            raise
        except Exception:
            self._decider_failed(packet, flow)

    def _decider_failed(self, packet: QueuedPacket, flow: FlowKey) -> None:
        self.queue.stats.decide_errors += 1
        log.exception("deciding %s failed; applying %s", flow, self.unparsable_policy)
        self._apply_policy(packet)

    def _answer(self, packet: QueuedPacket, verdict: Verdict) -> None:
        if verdict is not Verdict.ACCEPT:
            self.queue.stats.rejected_by_mark += 1
        self._send(packet, True, combine_mark(packet.mark, mark_for(verdict)))

    def _apply_policy(self, packet: QueuedPacket) -> None:
        if self.unparsable_policy is Verdict.ACCEPT:
            self._send(packet, True, None)
        elif self.unparsable_policy is Verdict.DROP:
            self._send(packet, False, None)
        else:
            self._send(packet, True, combine_mark(packet.mark, mark_for(Verdict.BLOCK)))

    def _send(self, packet: QueuedPacket, accept: bool, mark: int | None) -> None:
        try:
            self.queue.set_verdict(packet.packet_id, accept, mark)
        except NetlinkError as err:
            # The kernel keeps the packet until the queue closes; nothing
            # else can be done for it here.
            log.error("%s", err)
