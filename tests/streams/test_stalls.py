"""The commit-stall watch: when a partition's commit counts as fallen behind, and how Faust's own
count of acknowledgements is started afresh so that records read again can be committed."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP, Message
from prometheus_client import REGISTRY

from streams.runtime.faust_internals import lowest_acked, recount_acks
from streams.runtime.stalls import HoleTracker, StallTracker, read_again, read_uncommitted_from_start

TP0 = TP("orders", 0)


def test_a_commit_that_keeps_up_with_reading_never_stalls() -> None:
    tracker = StallTracker(patience_s=60)
    # Every 15 s the worker reads 500 more records and commits what it had read 15 s before.
    moves = [tracker.stalled(TP0, committed=500 * i, position=500 * (i + 1), end=500 * (i + 3), now=15.0 * i)
             for i in range(40)]  # fmt: skip
    assert not any(moves)


def test_a_caught_up_partition_never_stalls() -> None:
    tracker = StallTracker(patience_s=60)
    assert not any(tracker.stalled(TP0, 49, 49, 49, now=float(t)) for t in range(0, 600, 15))


def test_a_stuck_commit_stalls_once_per_patience_and_per_partition() -> None:
    tracker = StallTracker(patience_s=60)
    other = TP("orders", 1)
    read = {TP0: 272, other: 49}  # only TP0 has records past its commit
    seen = [(t, tp) for t in range(0, 181, 15) for tp in (TP0, other)
            if tracker.stalled(tp, 49, read[tp], read[tp], float(t))]  # fmt: skip
    assert seen == [(60, TP0), (120, TP0), (180, TP0)]


def test_a_commit_creeping_far_behind_the_reading_stalls() -> None:
    """Moving, but 5 offsets per 15 s with 1,000 records read past it (seen after a broker restart)."""
    tracker = StallTracker(patience_s=60)
    seen = [t for t in range(0, 121, 15) if tracker.stalled(TP0, 800 + t // 3, 1900, 1900, float(t), 1899)]
    assert seen == [60, 120]


def test_a_backlog_read_far_ahead_of_its_processing_does_not_stall() -> None:
    """Read 50,000 records ahead; processed (acknowledged) 300 a minute, each committed 3 s later."""
    tracker = StallTracker(patience_s=60)
    seen = [t for t in range(0, 600, 3)
            if tracker.stalled(TP0, 5 * t, 50_000, 60_000, float(t), acked=5 * (t + 3) - 1)]  # fmt: skip
    assert seen == []


def test_a_partition_not_fetched_stalls_only_while_its_commit_stays() -> None:
    tracker = StallTracker(patience_s=60)
    stopped = [t for t in range(0, 61, 15) if tracker.stalled(TP0, 49, 49, 272, float(t))]
    assert stopped == [60]
    # A long backlog fetched a little at a time: the commit moves, so there is nothing to repair.
    tracker = StallTracker(patience_s=60)
    assert not any(tracker.stalled(TP0, 10 * t, 10 * t, 100_000, float(t)) for t in range(0, 600, 15))


def test_forget_restarts_patience_after_a_rebalance() -> None:
    tracker = StallTracker(patience_s=60)
    tracker.stalled(TP0, 49, 272, 272, now=0.0)
    tracker.forget()
    assert not tracker.stalled(TP0, 49, 272, 272, now=60.0)
    assert tracker.stalled(TP0, 49, 272, 272, now=120.0)


def _ack(consumer: Any, tp: TP, offsets: range) -> None:
    for offset in offsets:
        consumer.ack(Message(tp.topic, tp.partition, offset, 0.0, 0, {}, b"k", b"v", None, tp=tp))


def test_records_read_again_are_committed_once_acks_are_recounted() -> None:
    """Faust's real consumer believes offset 140 committed (its last commit was lost with the broker),
    while the broker holds 100. Read again from 100, the records commit only after the recount."""
    app = faust.App("stall-test", broker="kafka://127.0.0.1:1")
    consumer: Any = app.consumer  # its acknowledgement bookkeeping is private
    tp = TP("orders", 0)
    app.topics.acking_topics.add(tp.topic)
    consumer._committed_offset[tp] = 140
    _ack(consumer, tp, range(100, 140))
    assert consumer._new_offset(tp) is None  # below what it believes committed: never counted
    recount_acks(consumer, tp, 100)
    _ack(consumer, tp, range(100, 140))
    assert consumer._new_offset(tp) == 140
    assert not consumer._acked[tp]  # every offset counted, none left waiting


class StalledConsumer:
    """Faust's acknowledgement bookkeeping for one partition, with seek and resume recorded."""

    def __init__(self, tp: TP) -> None:
        self._acked: dict[TP, list[int]] = {tp: [150]}
        self._acked_index: dict[TP, set[int]] = {tp: {150}}
        self._gap: dict[TP, list[int]] = {tp: []}
        self._committed_offset: dict[TP, int | None] = {tp: 140}
        self.calls: list[tuple[str, Any]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.calls.append(("seek", (tp, offset)))

    def resume_partitions(self, tps: set[TP]) -> None:
        self.calls.append(("resume", tps))


async def test_reading_a_stalled_partition_again_seeks_resumes_and_is_counted() -> None:
    stalls = {"topic": TP0.topic}
    before = REGISTRY.get_sample_value("flashsale_commit_stalls_total", stalls) or 0.0
    consumer = StalledConsumer(TP0)
    await read_again(consumer, TP0, 100)
    assert consumer.calls == [("seek", (TP0, 100)), ("resume", {TP0})]
    assert consumer._committed_offset[TP0] == 100 and TP0 not in consumer._acked
    assert REGISTRY.get_sample_value("flashsale_commit_stalls_total", stalls) == before + 1


async def test_partitions_never_committed_are_read_from_their_start_when_faust_seeks_to_commits() -> None:
    """Seen here: a worker's first generation fetched two whole `orders` partitions while it recovered,
    and none of those records reached a stream; Faust seeks only partitions with a commit back to it, so
    these sat unread until the commit-stall watch, a minute later."""
    app = faust.App("seek-test", broker="kafka://127.0.0.1:1")
    users = app.Table("users")
    fresh, committed, zero = TP0, TP("orders", 1), TP("clicks", 0)
    changelog = TP(users.changelog_topic.get_topic_name(), 0)
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]  # the driver's calls into aiokafka
    sought: list[tuple[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int | None]:
        return {fresh: None, committed: 40, zero: 0, changelog: None}

    def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    thread.seek_to_committed, thread.seek = seek_to_committed, seek
    thread.assignment = lambda: {fresh, committed, zero, changelog}
    read_uncommitted_from_start(app)
    await app.consumer.perform_seek()  # what Faust runs as a rebalance's recovery ends
    assert sorted(sought) == [(zero, 0), (fresh, 0)]  # a changelog is read by recovery, never by streams
    assert app.consumer._read_offset[fresh] is None  # type: ignore[attr-defined]  # what Faust delivers anew


def test_a_hole_in_the_acknowledgements_blocks_faust_and_is_read_again_after_its_patience() -> None:
    """Offsets 100…102 withheld (fetched before a rebalance), 103…139 acknowledged: Faust
    never commits past the hole; the tracker says so once it has lasted ``patience_s``, not before."""
    app = faust.App("hole-test", broker="kafka://127.0.0.1:1")
    consumer: Any = app.consumer
    tp = TP("orders", 0)
    app.topics.acking_topics.add(tp.topic)
    consumer._committed_offset[tp] = 100
    _ack(consumer, tp, range(103, 140))
    assert consumer._new_offset(tp) is None and lowest_acked(app, tp) == 103
    holes = HoleTracker(patience_s=5)
    seen = [t for t in range(0, 12) if holes.stuck(tp, 100, lowest_acked(app, tp), float(t))]
    assert seen == [5, 11]  # once per patience while it lasts
    _ack(consumer, tp, range(100, 103))  # read again: the hole closes and the commit can pass
    assert not holes.stuck(tp, 100, lowest_acked(app, tp), 20.0) and consumer._new_offset(tp) == 140


def test_offsets_faust_knows_will_not_come_are_no_hole() -> None:
    """A compacted topic: offsets 100…102 were compacted away, so Faust put them in a gap when it fetched
    103; it commits past them, and so the tracker never calls them a hole."""
    app = faust.App("gap-test", broker="kafka://127.0.0.1:1")
    consumer: Any = app.consumer
    tp = TP("catalog", 0)
    app.topics.acking_topics.add(tp.topic)
    consumer._committed_offset[tp] = 99
    consumer._gap[tp].addi(100, 103)
    _ack(consumer, tp, range(103, 140))
    assert lowest_acked(app, tp) == 100 and consumer._new_offset(tp) == 140
    holes = HoleTracker(patience_s=5)
    assert not any(holes.stuck(tp, 99, lowest_acked(app, tp), float(t)) for t in range(20))


def test_acknowledgements_in_order_or_a_moving_commit_are_no_hole() -> None:
    holes = HoleTracker(patience_s=5)
    tp = TP("orders", 1)
    assert not any(holes.stuck(tp, 100 * t, 100 * t, float(t)) for t in range(20))  # in order
    assert not any(holes.stuck(tp, 100 * t, 100 * t + 7, float(t)) for t in range(20))  # commit moves
    assert not any(holes.stuck(tp, None, 7, float(t)) for t in range(20))  # nothing committed yet
    assert not any(holes.stuck(tp, 50, None, float(t)) for t in range(20))  # nothing acknowledged
