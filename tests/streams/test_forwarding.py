"""Event-time marks: the idle timer and the forwarding agent race; stale progress never marks; a
partition is idle only once a fetch made after it was found caught up confirms it. A source's records
are forwarded in offset order, with no hole; a batch that fails is withheld."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.contracts.eventtime import KAFKA_TIME
from streams.runtime.catchup import from_commit
from streams.runtime.clock import Inbox
from streams.runtime.forwarding import Forwarder
from streams.skus.agents import forward_batch

ORDERS_0 = TP("orders", 0)


class Target:
    """A topic stand-in that yields on every send (as a real one does) and records the marks."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, bool]] = []  # (partition, idle) in the order they were sent

    async def send(self, value: bytes, partition: int, **_: Any) -> asyncio.Future[None]:
        await asyncio.sleep(0)
        self.marks.append((partition, json.loads(value)["idle"]))
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        return delivery

    def last(self, partition: int) -> bool:
        return [idle for p, idle in self.marks if p == partition][-1]


def caught_up_app(highwater: int, committed: int | None = None) -> Any:
    """Just what the idle timer reads of a Faust app: one assigned partition, its high watermark and
    the group's committed offset."""
    consumer = SimpleNamespace(
        assignment=lambda: {ORDERS_0}, highwater=lambda tp: highwater, _committed_offset={ORDERS_0: committed}
    )
    return SimpleNamespace(consumer=consumer)


class Clock:
    """The timer's clock and the consumer's last fetch response, both set by the test (epoch s)."""

    def __init__(self) -> None:
        self.now, self.fetched = 0.0, -1.0

    def forwarder(self, target: Target, partitions: int) -> Forwarder:
        topic: Any = target  # records marks in place of a Faust topic
        return Forwarder(topic, partitions, clock=lambda: self.now, fetched_at=lambda app, tp: self.fetched)

    def tick(self, seconds: float = 0.5, fetched: bool = True) -> None:
        """Time passes; with ``fetched``, a fetch response arrives meanwhile."""
        self.now += seconds
        if fetched:
            self.fetched = self.now - 0.1


def event(offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=ORDERS_0, offset=offset, topic="orders", partition=0))


async def test_the_last_mark_sent_decides_whether_the_timer_marks_idle_again() -> None:
    target, clock = Target(), Clock()
    forwarder = clock.forwarder(target, partitions=2)
    app = caught_up_app(highwater=10)
    forwarder.seen(event(8), 100.0)
    await forwarder.mark_progress({ORDERS_0})
    forwarder.seen(event(9), 102.0)  # the last event: the partition is now caught up
    await forwarder.mark_idle(app, "orders")
    clock.tick()  # a fetch confirms it: the next tick marks it idle
    # The timer's idle mark and the agent's progress mark race; whichever is sent last is what
    # the clocks keep, and the timer must know it.
    await asyncio.gather(forwarder.mark_idle(app, "orders"), forwarder.mark_progress({ORDERS_0}))
    state = forwarder.progress[ORDERS_0]
    assert all(target.last(p) == state.idle_marked for p in (0, 1))
    clock.tick()
    await forwarder.mark_idle(app, "orders")  # the next tick
    assert target.last(0) and target.last(1), target.marks  # every partition ends idle


async def test_a_partition_the_timer_adds_while_progress_is_marked_is_no_crash() -> None:
    """The agent marks its progress; meanwhile the idle timer first sees another partition (the
    forward agent once crashed here with "dictionary changed size during iteration")."""
    target, clock = Target(), Clock()
    forwarder = clock.forwarder(target, partitions=2)
    forwarder.seen(event(3), 100.0)
    other = TP("orders", 1)
    timer_app: Any = SimpleNamespace(
        consumer=SimpleNamespace(assignment=lambda: {other}, highwater=lambda tp: 5, _committed_offset={})
    )
    await asyncio.gather(forwarder.mark_progress({ORDERS_0}), forwarder.mark_idle(timer_app, "orders"))
    assert other in forwarder.progress and target.marks == [(0, False), (1, False)]


async def test_progress_left_from_an_earlier_tenure_is_not_marked() -> None:
    target = Target()
    forwarder = Clock().forwarder(target, partitions=2)
    forwarder.seen(event(3), 100.0)
    await forwarder.mark_progress(set())  # orders/0 went to another worker before this batch
    assert target.marks == []
    await forwarder.mark_progress({ORDERS_0})
    assert target.marks == [(0, False), (1, False)]


async def test_a_partition_another_worker_read_to_its_end_is_idle_by_the_committed_offset() -> None:
    target, clock = Target(), Clock()
    forwarder = clock.forwarder(target, partitions=1)
    forwarder.seen(event(3), 100.0)  # this worker's own progress, from before it lost the partition
    for _ in range(2):
        await forwarder.mark_idle(caught_up_app(highwater=10, committed=5), "orders")
        clock.tick()
    assert target.marks == []  # offsets 5..9 are still to be read
    for _ in range(2):
        await forwarder.mark_idle(caught_up_app(highwater=10, committed=10), "orders")
        clock.tick()
    assert target.marks == [(0, True)]


async def test_a_partition_lost_and_taken_back_is_marked_idle_again() -> None:
    target, clock = Target(), Clock()
    forwarder = clock.forwarder(target, partitions=1)
    app = caught_up_app(highwater=10, committed=10)
    forwarder.seen(event(9), 100.0)
    for _ in range(3):
        await forwarder.mark_idle(app, "orders")
        clock.tick()
    assert target.marks == [(0, True)]  # once: the clocks keep it
    forwarder.forget({ORDERS_0})  # another worker had it meanwhile, and may have marked it active
    for _ in range(2):
        await forwarder.mark_idle(app, "orders")
        clock.tick()
    assert target.marks == [(0, True), (0, True)]


async def test_a_partition_is_idle_only_once_a_later_fetch_confirms_it_is_caught_up() -> None:
    target, clock = Target(), Clock()
    forwarder = clock.forwarder(target, partitions=1)
    forwarder.seen(event(9), 100.0)
    await forwarder.mark_idle(caught_up_app(highwater=10), "orders")  # caught up, as the last fetch knew
    clock.tick(fetched=False)
    await forwarder.mark_idle(caught_up_app(highwater=10), "orders")
    assert target.marks == []  # no fetch since: the broker may hold more already
    forwarder.seen(event(10), 101.0)  # ... and it did: the producer was still sending
    clock.tick()  # a fetch, but from before the partition was found caught up again
    await forwarder.mark_idle(caught_up_app(highwater=11), "orders")
    assert target.marks == []
    clock.tick()  # a fetch after it: confirmed
    await forwarder.mark_idle(caught_up_app(highwater=11), "orders")
    assert target.marks == [(0, True)]


async def test_a_partition_lost_while_the_timer_marks_another_is_skipped_not_a_crash() -> None:
    target, clock = Target(), Clock()
    orders_1 = TP("orders", 1)
    assigned = {ORDERS_0, orders_1}

    def highwater(tp: TP) -> int:
        assert tp in assigned, "Partition is not assigned"  # what aiokafka does
        return 10

    consumer = SimpleNamespace(assignment=lambda: set(assigned), highwater=highwater,
                               _committed_offset={ORDERS_0: 10, orders_1: 10})  # fmt: skip
    forwarder, app = clock.forwarder(target, partitions=1), SimpleNamespace(consumer=consumer)
    await forwarder.mark_idle(app, "orders")  # both caught up
    clock.tick()
    send = target.send

    async def rebalanced_meanwhile(value: bytes, partition: int, **kw: Any) -> asyncio.Future[None]:
        marking = json.loads(value)["source"]  # a rebalance takes the other one while this is sent
        assigned.intersection_update({tp for tp in assigned if f"{tp.topic}/{tp.partition}" == marking})
        return await send(value, partition, **kw)

    target.send = rebalanced_meanwhile  # type: ignore[method-assign]
    await forwarder.mark_idle(app, "orders")
    assert len(target.marks) == 1  # one partition marked idle; the lost one left alone


class Stretches:
    """The broker as the forwarder reads stretches of a partition from it: offsets ``start..stop-1``."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Any]:
        self.asked.append((start, stop))
        record = dict(topic=topic, partition=partition, key=None, value=b"{}", timestamp=0, headers=[])
        return [SimpleNamespace(offset=offset, **record) for offset in range(start, stop)]


def offsets(events: list[Any]) -> list[int]:
    return [e.message.offset for e in events]


async def test_a_record_after_a_hole_is_forwarded_after_the_stretch_before_it() -> None:
    broker = Stretches()
    forwarder = Forwarder(Any, 2, read=broker.read)
    forwarder.seen(event(9), 100.0)
    # 10–14 were skipped by the stream (dropped around a rebalance); a repair would hand them over
    # only after 15 and 16, and each SKU's inbox would then take them for redeliveries.
    ordered = await forwarder.in_order([event(15), event(16)], committed={ORDERS_0: 5})
    assert offsets(ordered) == [10, 11, 12, 13, 14, 15, 16]
    assert broker.asked == [(10, 15)]
    assert [type(e).__name__ for e in ordered[:5]] == ["ReadEvent"] * 5
    inbox = Inbox()
    for offset in (15, 16, 10):
        accepted = inbox.accept("orders/0", offset, 100.0, "order", b"{}")
    assert not accepted  # what the forwarder's order protects: a lower offset after a higher one is dropped


async def test_records_already_forwarded_are_left_out() -> None:
    broker = Stretches()
    forwarder = Forwarder(Any, 2, read=broker.read)
    forwarder.seen(event(20), 100.0)
    ordered = await forwarder.in_order([event(18), event(19), event(20), event(21)], committed={ORDERS_0: 12})
    assert offsets(ordered) == [21]
    assert broker.asked == []


async def test_a_partition_taken_over_begins_at_the_groups_commit() -> None:
    broker = Stretches()
    forwarder = Forwarder(Any, 2, read=broker.read)
    assert offsets(await forwarder.in_order([event(30), event(31)], committed={ORDERS_0: 30})) == [30, 31]
    assert offsets(await forwarder.in_order([event(33)], committed={ORDERS_0: 30})) == [30, 31, 32, 33]
    assert offsets(await forwarder.in_order([event(0)], committed={})) == [0]  # never committed: from 0
    assert broker.asked == [(30, 33)]


async def test_a_batch_that_fails_is_withheld_and_its_partition_begins_again_at_the_commit() -> None:
    async def outage(topic: str, partition: int, start: int, stop: int) -> list[Any]:
        raise ConnectionError("the broker is down")

    forwarder = Forwarder(Any, 2, read=outage)
    forwarder.seen(event(9), 100.0)
    batch = [event(15), event(16)]
    for e in batch:
        e.message.acked = False
    tenure: Any = SimpleNamespace(held={ORDERS_0})
    await forward_batch(forwarder, "order", batch, tenure, {ORDERS_0: 5}, "", KAFKA_TIME, Any)
    # Marked acknowledged, they stay out of Faust's books: no commit passes them, and they come again.
    assert all(e.message.acked for e in batch)
    assert ORDERS_0 not in forwarder.progress  # the next batch begins at the commit


def test_what_was_processed_is_the_later_of_this_workers_position_and_the_groups_commit() -> None:
    # The sink keeps its position for the whole run: a partition it lost and took back must not be
    # read again from where it left it, when others wrote beyond and committed.
    processed = from_commit({ORDERS_0: 50}, {ORDERS_0: 20})
    assert processed(ORDERS_0) == 49
    assert from_commit({ORDERS_0: 10}, {ORDERS_0: 20})(ORDERS_0) == 20
    assert from_commit({}, {})(ORDERS_0) == -1  # never committed, nothing processed here: from 0
