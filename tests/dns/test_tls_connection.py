"""One pipelined DoT connection against the in-process fake upstream."""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

import dns.exception
import dns.message
import pytest
from support import eventually

from netwarden.dns.testing import FakeUpstream, tls_server_context
from netwarden.dns.tls_connection import (
    ConnectionClosed,
    DnsStreamConnection,
    open_tls_connection,
)
from netwarden.dns.upstream import make_tls_context

RECORDS = {
    ("example.com", "A"): ["192.0.2.1"],
    ("slow.example", "A"): ["192.0.2.2"],
}


def query(name: str = "example.com") -> dns.message.Message:
    return dns.message.make_query(name, "A")


def addresses(response: dns.message.Message) -> list[str]:
    return [rdata.address for rrset in response.answer for rdata in rrset]


Scenario = Callable[
    [FakeUpstream, Callable[..., Awaitable[DnsStreamConnection]]], Awaitable[None]
]


def run(pki, scenario: Scenario) -> None:
    async def main() -> None:
        tls = tls_server_context(pki.cert_pem, pki.key_pem)
        async with FakeUpstream(RECORDS, tls=tls) as upstream:
            opened: list[DnsStreamConnection] = []

            async def connect(**options: object) -> DnsStreamConnection:
                connection = await open_tls_connection(
                    upstream.url("dot").ip,
                    upstream.tls_port,
                    make_tls_context(pki.ca_file),
                    pki.server_name,
                    label="fake",
                    **options,  # type: ignore[arg-type]
                )
                opened.append(connection)
                return connection

            try:
                await scenario(upstream, connect)
            finally:
                for connection in opened:
                    await connection.close()

    asyncio.run(main())


def test_answers_out_of_order_reach_their_queries(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.tls_delays["slow.example"] = 2.0
        connection = await connect()
        slow = asyncio.create_task(connection.exchange(query("slow.example")))
        await eventually(lambda: len(upstream.tls_query_ids) == 1)
        fast = await connection.exchange(query("example.com"))
        assert not slow.done()  # the fast answer overtook the slow one
        assert addresses(fast) == ["192.0.2.1"]
        assert addresses(await slow) == ["192.0.2.2"]
        assert upstream.tls_connections == 1

    run(pki, scenario)


def test_the_caller_gets_its_own_id_back_and_its_query_is_not_changed(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        connection = await connect()
        asked = query()
        asked.id = 4242
        response = await connection.exchange(asked)
        assert response.id == 4242 and asked.id == 4242
        assert asked.is_response(response)

    run(pki, scenario)


def test_ids_are_unique_among_queries_in_flight(pki) -> None:
    # The id source repeats itself; the connection must skip taken ids.
    candidates = itertools.cycle([7, 7, 7, 8, 8, 9, 10, 11])

    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.delay = 0.2
        connection = await connect(new_id=lambda: next(candidates))
        answers = await asyncio.gather(
            *(connection.exchange(query()) for _ in range(4))
        )
        assert [addresses(a) for a in answers] == [["192.0.2.1"]] * 4
        assert sorted(upstream.tls_query_ids) == [7, 8, 9, 10]

    run(pki, scenario)


def test_in_flight_queries_are_bounded(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.delay = 1.0
        connection = await connect(max_in_flight=3)
        tasks = [asyncio.create_task(connection.exchange(query())) for _ in range(7)]
        await eventually(lambda: len(upstream.tls_query_ids) == 3)
        await asyncio.sleep(0.1)  # room for a fourth, which must not come
        assert connection.in_flight == 3
        assert len(upstream.tls_query_ids) == 3
        await asyncio.gather(*tasks)
        assert len(upstream.tls_query_ids) == 7
        assert connection.in_flight == 0

    run(pki, scenario)


def test_a_timed_out_query_leaves_no_waiter_and_others_still_answer(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.tls_delays["slow.example"] = 0.5
        connection = await connect()
        others = [asyncio.create_task(connection.exchange(query())) for _ in range(5)]
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await connection.exchange(query("slow.example"))
        assert [addresses(a) for a in await asyncio.gather(*others)] == [
            ["192.0.2.1"]
        ] * 5
        assert connection.in_flight == 0
        # The late answer arrives and is dropped.
        await eventually(lambda: connection.unexpected_answers == 1)
        assert connection.is_open
        assert addresses(await connection.exchange(query())) == ["192.0.2.1"]

    run(pki, scenario)


def test_a_break_fails_every_query_in_flight_at_once(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.delay = 5.0
        connection = await connect()
        tasks = [asyncio.create_task(connection.exchange(query())) for _ in range(10)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        upstream.drop_tls_connections()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert time.monotonic() - started < 4.0  # not the 5 s answers
        assert all(isinstance(r, ConnectionClosed) for r in results)
        assert not connection.is_open and connection.in_flight == 0
        with pytest.raises(ConnectionClosed, match="closed by the server"):
            await connection.exchange(query())

    run(pki, scenario)


def test_server_closing_an_idle_connection_is_no_error(pki, caplog) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        upstream.tls_close_after = 1
        connection = await connect()
        assert addresses(await connection.exchange(query())) == ["192.0.2.1"]
        for _ in range(50):
            if not connection.is_open:
                break
            await asyncio.sleep(0.01)
        assert not connection.is_open

    with caplog.at_level(logging.INFO, logger="netwarden.dns.tls_connection"):
        run(pki, scenario)
    assert not caplog.records  # only DEBUG: an idle close is normal


def test_the_connection_closes_itself_after_the_idle_time(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        connection = await connect(idle_timeout=2.0)
        await connection.exchange(query())
        await asyncio.sleep(1.2)
        assert connection.is_open
        await connection.exchange(query())  # a query restarts the idle time
        await asyncio.sleep(1.2)
        assert connection.is_open
        await eventually(lambda: not connection.is_open)
        with pytest.raises(ConnectionClosed, match="idling"):
            await connection.exchange(query())

    run(pki, scenario)


def test_garbage_from_the_server_does_not_stop_the_reader(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        connection = await connect()
        upstream.tls_junk = b"\x00"  # too short to carry an id
        assert addresses(await connection.exchange(query())) == ["192.0.2.1"]
        upstream.tls_junk = b"\xff\xfe garbage that is no DNS message"
        assert addresses(await connection.exchange(query())) == ["192.0.2.1"]
        assert connection.unexpected_answers == 2

    run(pki, scenario)


def test_a_malformed_answer_fails_only_its_query(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        ids: Iterator[int] = itertools.count(100)
        connection = await connect(new_id=lambda: next(ids))
        upstream.tls_junk = (100).to_bytes(2, "big") + b"\x81\x80 truncated"
        with pytest.raises(dns.exception.FormError, match="malformed"):
            await connection.exchange(query())
        upstream.tls_junk = b""
        assert addresses(await connection.exchange(query())) == ["192.0.2.1"]

    run(pki, scenario)


def test_an_answer_to_another_question_is_refused(pki) -> None:
    async def scenario(upstream: FakeUpstream, connect) -> None:
        ids: Iterator[int] = itertools.count(200)
        connection = await connect(new_id=lambda: next(ids))
        other = dns.message.make_response(query("other.example"))
        other.id = 200
        upstream.tls_junk = other.to_wire()
        with pytest.raises(dns.exception.FormError, match="not for this query"):
            await connection.exchange(query())

    run(pki, scenario)
