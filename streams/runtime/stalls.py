"""Commit stalls: a partition whose committed offset falls behind what this worker has read.

Around a rebalance or a broker restart Faust can lose records it had fetched (delivered to no
stream, never acked), stop fetching a partition, or lose count of its acknowledgements (it takes a
commit that failed during the outage for done). The partition's committed offset then stops
moving, or moves only a few offsets per commit, though every later record is processed, and the
group's lag stays up for good (chaos runs saw it in about 1 run in 6; faust-streaming issue #629
describes partitions left behind after a rebalance). A worker whose commit on a partition it holds
has not got, within ``commit_stall_s``, past the highest offset it had acknowledged when that wait
began (with nothing acknowledged past it: has not moved while there is more to read), seeks the
partition back to its committed offset, counts its acknowledgements afresh from there
and resumes fetching it: the records come again, and the agents skip what they already applied
(offsets kept per source and per SKU inbox), so the only cost is reading them twice.

Faust itself seeks every partition with a commit back to it as a rebalance's recovery ends, which
brings back what it dropped meanwhile; the worker does the same for partitions never committed, seeking
them to their start (:func:`read_uncommitted_from_start`). Before that, a worker that joined while the
group had committed nothing (its user agents still waiting for the catalog) read whole partitions into
nowhere, a minute's stall each.

A record lost or withheld around a rebalance shows sooner, as a hole in the partition's
acknowledgements (later records acknowledged, it not): such a partition is read again from its commit
after ``ack_hole_s`` (seconds) instead of a whole ``commit_stall_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

from streams import metrics
from streams.app import Flashsale, group_id
from streams.contracts.topics import GROUP_TOPICS
from streams.runtime.admin import aiokafka_config
from streams.runtime.faust_internals import (
    Committed,
    after_seek_to_committed,
    highest_acked,
    lowest_acked,
    recount_acks,
)
from streams.runtime.faust_internals import committed_offsets as believed_committed
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class StallTracker:
    """Which partitions' commits fell behind: a commit that has not got, within ``patience_s``, past
    the highest offset acknowledged when the wait began, or, with nothing acknowledged past it, has
    not moved while records were read or the log holds records past it. (Not the read position:
    under a backlog a worker reads far ahead of what it has processed, and a commit that follows
    the processing is no stall.)

    >>> t = StallTracker(patience_s=60)
    >>> tp = TP("orders", 0)
    >>> t.stalled(tp, committed=49, position=272, end=272, now=0, acked=150)
    False
    >>> t.stalled(tp, 149, 272, 290, now=59, acked=151)  # short of 151: the wait goes on
    False
    >>> t.stalled(tp, 150, 272, 300, now=60, acked=200)  # a minute on, still short of 151: seek back
    True
    >>> t.stalled(tp, 150, 272, 300, now=61, acked=200)  # and patience again before the next seek
    False
    """

    patience_s: float
    waits: dict[TP, tuple[int, float]] = field(default_factory=dict)  # tp → (offset awaited, since)

    def stalled(
        self, tp: TP, committed: int, position: int, end: int, now: float, acked: int | None = None
    ) -> bool:
        """``acked``: the highest offset of ``tp`` acknowledged and not yet committed (None: none)."""
        if max(position, end) <= committed:
            self.waits.pop(tp, None)  # nothing past the commit: nothing to wait for
            return False
        awaited = acked + 1 if acked is not None and acked >= committed else committed + 1
        wait = self.waits.get(tp)
        if wait is None or committed >= wait[0]:
            self.waits[tp] = (awaited, now)  # the commit got there: a new wait begins
            return False
        if now - wait[1] < self.patience_s:
            return False
        self.waits[tp] = (awaited, now)
        return True

    def forget(self) -> None:
        self.waits.clear()


@dataclass
class HoleTracker:
    """Which partitions have a hole in their acknowledgements that Faust will not commit past: later
    offsets are acknowledged, the ones from the commit on are not. (Faust commits past one missing
    offset, and counts known gaps as done: :func:`~streams.runtime.faust_internals.lowest_acked`.) A
    partition's records are acknowledged in offset order, so a hole that lasts ``patience_s`` does not
    close by itself: the record was withheld from a batch around a rebalance, or lost by Faust around
    one, and no commit of the partition can pass it.

    >>> t = HoleTracker(patience_s=5)
    >>> t.stuck(TP("orders", 0), committed=100, lowest_acked=101, now=0)  # Faust commits past one
    False
    >>> t.stuck(TP("orders", 0), 100, lowest_acked=103, now=1), t.stuck(TP("orders", 0), 100, 140, now=5)
    (False, False)
    >>> t.stuck(TP("orders", 0), 100, 180, now=6)  # 100…102 still missing 5 s on: read again
    True
    """

    patience_s: float
    since: dict[TP, tuple[int, float]] = field(default_factory=dict)  # tp → (commit it stands at, since)

    def stuck(self, tp: TP, committed: int | None, lowest_acked: int | None, now: float) -> bool:
        if committed is None or lowest_acked is None or lowest_acked - committed <= 1:
            self.since.pop(tp, None)
            return False
        seen = self.since.get(tp)
        if seen is None or seen[0] != committed:
            self.since[tp] = (committed, now)
            return False
        if now - seen[1] < self.patience_s:
            return False
        del self.since[tp]  # patience again before the next read
        return True


async def read_again(consumer: Any, tp: TP, committed: int) -> None:
    """Seek ``tp`` back to its ``committed`` offset, count its acknowledgements afresh from there and
    resume fetching it (fetching may have stopped altogether). Counted: ``flashsale_commit_stalls_total``."""
    await consumer.seek(tp, committed)
    recount_acks(consumer, tp, committed)
    consumer.resume_partitions({tp})
    metrics.COMMIT_STALLS.labels(topic=tp.topic).inc()


class GroupOffsets:
    """The group's committed offsets as the broker holds them (what lag is measured on), through one
    admin client made on first use and dropped after a failure."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.group = settings, group_id(settings)
        self.client: AIOKafkaAdminClient | None = None

    async def read(self) -> dict[TP, int]:
        async def ask() -> dict[TP, int]:
            if self.client is None:
                client = AIOKafkaAdminClient(**aiokafka_config(self.settings), request_timeout_ms=10_000)
                await client.start()
                self.client = client
            offsets = await self.client.list_consumer_group_offsets(self.group)
            return {TP(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

        try:
            return await asyncio.wait_for(ask(), timeout=self.settings.commit_stall_s / 8)
        except Exception:
            client, self.client = self.client, None  # a fresh client next time
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), timeout=5)
            raise


def read_uncommitted_from_start(app: faust.App) -> None:
    """At the end of each rebalance's recovery Faust seeks every partition with a commit back to it, so
    records fetched meanwhile and dropped (a cleared stream buffer, a fetch cut short) come again. A
    partition its group never committed it leaves where the fetch got to: seek it back to its start."""

    async def seek_to_start(committed: Committed) -> None:
        changelogs, held = app.tables.changelog_topics, app.consumer.assignment()
        for tp in (TP(tp.topic, tp.partition) for tp, offset in committed.items() if not offset):
            if tp.topic not in changelogs and tp in held:  # changelogs: read by recovery, not by streams
                await app.consumer.seek(tp, 0)

    after_seek_to_committed(app, seek_to_start)


def watch(flashsale: Flashsale) -> None:
    """Register both repairs on the worker: ack holes (every ``ack_hole_s / 5`` seconds) and commit stalls
    (every ``commit_stall_s / 4``), each reading a partition again from the broker's commit."""
    app, settings = flashsale.app, flashsale.settings
    offsets, watched = GroupOffsets(settings), {settings.topic(t) for t in GROUP_TOPICS}
    app.timer(interval=max(settings.ack_hole_s / 5, 0.1))(hole_repair(app, settings, offsets, watched))
    app.timer(interval=settings.commit_stall_s / 4)(stall_repair(app, settings, offsets, watched))
    read_uncommitted_from_start(app)


def hole_repair(
    app: faust.App, settings: Settings, offsets: GroupOffsets, watched: set[str]
) -> Callable[[], Awaitable[None]]:
    """A timer: read again the partitions whose acknowledgements have had a hole for ``ack_hole_s``."""
    holes = HoleTracker(settings.ack_hole_s)

    async def fill_ack_holes() -> None:
        if app.rebalancing:
            holes.since.clear()
            return
        believed, now = believed_committed(app), time.monotonic()
        stuck = [tp for tp in app.consumer.assignment() if tp.topic in watched
                 and holes.stuck(tp, believed.get(tp), lowest_acked(app, tp), now)]  # fmt: skip
        if not stuck:
            return
        try:
            committed = await offsets.read()
        except Exception as exc:  # a broker outage: the hole is still there next round
            log.warning("ack-hole repair skipped a round (%r)", exc)
            return
        for tp in stuck:
            if tp in app.consumer.assignment() and not app.rebalancing:
                offset = max(committed.get(tp, 0), 0)
                log.warning("%s[%s]: offsets from %s never acknowledged, later ones were; reading again "
                            "from the commit", tp.topic, tp.partition, offset)  # fmt: skip
                await read_again(app.consumer, tp, offset)

    return fill_ack_holes


def stall_repair(
    app: faust.App, settings: Settings, offsets: GroupOffsets, watched: set[str]
) -> Callable[[], Awaitable[None]]:
    """A timer: read again the partitions whose commit stalled (see the module docstring)."""
    tracker = StallTracker(settings.commit_stall_s)

    async def position(tp: TP) -> int:
        """The consumer's read position of ``tp``; 0 if it cannot say soon (a fetcher still resetting)."""
        with contextlib.suppress(Exception):
            return await asyncio.wait_for(app.consumer.position(tp), timeout=5) or 0
        return 0

    async def unstick_commits() -> None:
        if app.rebalancing:
            tracker.forget()  # offsets move under a rebalance: look again once it is over
            return
        try:
            committed = await offsets.read()
            for tp in app.consumer.assignment():
                if tp.topic not in watched or app.rebalancing:
                    continue
                offset = max(committed.get(tp, 0), 0)  # never committed: the group reads from the start
                read, end = await position(tp), app.consumer.highwater(tp) or 0
                if tracker.stalled(tp, offset, read, end, time.monotonic(), highest_acked(app, tp)):
                    log.warning("%s[%s]: committed offset %s fell behind for %.0f s (read up to %s, log "
                                "end %s); reading again from the commit", tp.topic, tp.partition, offset,
                                settings.commit_stall_s, read, end)  # fmt: skip
                    await read_again(app.consumer, tp, offset)
        except Exception as exc:  # a broker outage or a rebalance under way: look again next time
            log.warning("commit-stall watch skipped a round (%r)", exc)

    return unstick_commits
