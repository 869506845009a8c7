"""The queue reader against a fake queue: one verdict per packet, always."""

import asyncio
from collections.abc import Iterator

import pytest

from netwarden.intercept.fake_queue import FakeQueue, GivenVerdict
from netwarden.intercept.marks import MARK_ACCEPT, MARK_BLOCK, MARK_DROP
from netwarden.intercept.packet_build import build_ipv4_packet, build_ipv6_packet
from netwarden.intercept.queue_reader import QueueReader
from netwarden.network.connection import Verdict
from netwarden.network.packet import FlowKey, Protocol

FOREIGN_MARK = 0x00000042
TCP_TO_443 = build_ipv4_packet("192.0.2.2", "198.51.100.7", Protocol.TCP, 40000, 443)
UDP_TO_5000 = build_ipv6_packet("2001:db8::2", "2001:db8::1", Protocol.UDP, 40001, 5000)


def verdict_by_port(flow: FlowKey) -> Verdict:
    return {443: Verdict.ACCEPT, 5000: Verdict.BLOCK}.get(
        flow.remote_port, Verdict.DROP
    )


@pytest.fixture
def queue() -> Iterator[FakeQueue]:
    fake = FakeQueue()
    try:
        yield fake
    finally:
        fake.close()


def test_sync_decider_marks_every_verdict_and_keeps_foreign_bits(
    queue: FakeQueue,
) -> None:
    reader = QueueReader(queue, verdict_by_port)
    accepted = queue.inject(TCP_TO_443, mark=FOREIGN_MARK)
    blocked = queue.inject(UDP_TO_5000)
    dropped = queue.inject(
        build_ipv4_packet("192.0.2.2", "192.0.2.9", Protocol.UDP, 1, 9)
    )
    reader.on_readable()
    assert queue.verdicts == [
        GivenVerdict(accepted, True, MARK_ACCEPT | FOREIGN_MARK),
        GivenVerdict(blocked, True, MARK_BLOCK),
        GivenVerdict(dropped, True, MARK_DROP),
    ]
    assert queue.stats.rejected_by_mark == 2


def test_garbage_is_counted_and_accepted_unmarked(queue: FakeQueue) -> None:
    reader = QueueReader(queue, verdict_by_port)
    garbage = queue.inject(b"\x45\x00garbage")
    reader.on_readable()
    assert queue.verdicts == [GivenVerdict(garbage, True, None)]
    assert queue.stats.unparsable == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(Verdict.DROP, (False, None)), (Verdict.BLOCK, (True, MARK_BLOCK))],
)
def test_unparsable_policy_is_applied(
    queue: FakeQueue, policy: Verdict, expected: tuple[bool, int | None]
) -> None:
    reader = QueueReader(queue, verdict_by_port, unparsable_policy=policy)
    garbage = queue.inject(b"")
    reader.on_readable()
    assert queue.verdicts == [GivenVerdict(garbage, *expected)]


def test_raising_decider_gets_the_policy_not_a_crash(queue: FakeQueue) -> None:
    def broken(flow: FlowKey) -> Verdict:
        raise RuntimeError("attribution exploded")

    reader = QueueReader(queue, broken)
    packet_id = queue.inject(TCP_TO_443)
    reader.on_readable()
    assert queue.verdicts == [GivenVerdict(packet_id, True, None)]
    assert queue.stats.decide_errors == 1


async def read_until_answered(
    queue: FakeQueue, reader: QueueReader, count: int
) -> None:
    reader.attach(asyncio.get_running_loop())
    try:
        for _ in range(200):  # bounded: at most about 2 s
            if len(queue.verdicts) >= count:
                return
            await asyncio.sleep(0.01)
    finally:
        await reader.close()


def test_async_decisions_run_concurrently_and_answer_once(queue: FakeQueue) -> None:
    release = asyncio.Event()

    async def slow_for_443(flow: FlowKey) -> Verdict:
        if flow.remote_port == 443:
            await release.wait()
        return verdict_by_port(flow)

    async def scenario() -> None:
        reader = QueueReader(queue, slow_for_443)
        slow = queue.inject(TCP_TO_443)
        fast = queue.inject(UDP_TO_5000)
        reader.attach(asyncio.get_running_loop())
        for _ in range(100):
            await asyncio.sleep(0.01)
            if queue.verdicts:
                break
        assert queue.verdicts == [GivenVerdict(fast, True, MARK_BLOCK)]
        assert reader.pending == 1
        release.set()
        await read_until_answered(queue, reader, 2)
        assert queue.verdicts_for(slow) == [GivenVerdict(slow, True, MARK_ACCEPT)]

    asyncio.run(scenario())
    assert len(queue.verdicts) == 2


def test_async_errors_timeouts_and_shutdown_get_the_policy(queue: FakeQueue) -> None:
    async def decide(flow: FlowKey) -> Verdict:
        if flow.remote_port == 443:
            raise ValueError("no such process")
        await asyncio.sleep(60)
        return Verdict.ACCEPT

    async def scenario() -> None:
        reader = QueueReader(queue, decide, unparsable_policy=Verdict.DROP)
        failing = queue.inject(TCP_TO_443)
        hanging = queue.inject(UDP_TO_5000)
        await read_until_answered(queue, reader, 1)
        assert queue.verdicts_for(failing) == [GivenVerdict(failing, False, None)]
        assert queue.verdicts_for(hanging) == [GivenVerdict(hanging, False, None)]
        assert reader.pending == 0

    asyncio.run(scenario())
    assert len(queue.verdicts) == 2


def test_decide_timeout_applies_the_policy(queue: FakeQueue) -> None:
    async def never(flow: FlowKey) -> Verdict:
        await asyncio.sleep(60)
        return Verdict.ACCEPT

    async def scenario() -> None:
        reader = QueueReader(queue, never, decide_timeout=0.05)
        packet_id = queue.inject(TCP_TO_443)
        await read_until_answered(queue, reader, 1)
        assert queue.verdicts == [GivenVerdict(packet_id, True, None)]

    asyncio.run(scenario())
    assert queue.stats.decide_errors == 1


def test_a_verdict_without_a_mark_gets_the_policy_and_others_go_on(
    queue: FakeQueue,
) -> None:
    first = queue.inject(TCP_TO_443)
    second = queue.inject(TCP_TO_443)
    answers = iter(["prompt", Verdict.BLOCK])  # "prompt" has no mark yet

    reader = QueueReader(queue, lambda flow: next(answers))  # type: ignore[arg-type, return-value]
    reader.on_readable()

    assert [v.accept for v in queue.verdicts_for(first)] == [True]
    assert queue.verdicts_for(first)[0].mark is None  # the ACCEPT policy
    assert [v.mark for v in queue.verdicts_for(second)] == [MARK_BLOCK]
