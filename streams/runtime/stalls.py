"""Commit stalls: a partition whose committed offset falls behind what this worker has read.

Around a rebalance or a broker restart Faust can lose records it had fetched (delivered to no
stream, never acked), stop fetching a partition, or lose count of its acknowledgements (it takes a
commit that failed during the outage for done). The partition's committed offset then stops
moving, or moves only a few offsets per commit, though every later record is processed, and the
group's lag stays up for good (chaos runs saw it in about 1 run in 6; faust-streaming issue #629
describes partitions left behind after a rebalance). A worker whose commit on a partition it holds
has not reached, within ``commit_stall_s``, the offset it had read up to when that wait began,
seeks the partition back to its committed offset, counts its acknowledgements afresh from there
and resumes fetching it: the records come again, and the agents skip what they already applied
(offsets kept per source and per SKU inbox), so the only cost is reading them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

from streams import metrics
from streams.app import Flashsale, group_id
from streams.contracts.topics import GROUP_TOPICS
from streams.runtime.admin import aiokafka_config
from streams.runtime.faust_internals import recount_acks

log = logging.getLogger(__name__)


@dataclass
class StallTracker:
    """Which partitions' commits fell behind: a commit that has not reached, within ``patience_s``,
    the read position of when the wait began (or, if nothing was read past the commit, has not
    moved while the log holds records past it).

    >>> t = StallTracker(patience_s=60)
    >>> tp = TP("orders", 0)
    >>> t.stalled(tp, committed=49, position=272, end=272, now=0), t.stalled(tp, 52, 272, 290, now=59)
    (False, False)
    >>> t.stalled(tp, 55, 272, 300, now=60)  # a minute on, still short of 272: seek back
    True
    >>> t.stalled(tp, 55, 272, 300, now=61)  # and patience again before the next seek
    False
    """

    patience_s: float
    waits: dict[TP, tuple[int, float]] = field(default_factory=dict)  # tp → (offset awaited, since)

    def stalled(self, tp: TP, committed: int, position: int, end: int, now: float) -> bool:
        if max(position, end) <= committed:
            self.waits.pop(tp, None)  # nothing past the commit: nothing to wait for
            return False
        awaited = position if position > committed else committed + 1
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


async def read_again(consumer: Any, tp: TP, committed: int) -> None:
    """Seek ``tp`` back to its ``committed`` offset, count its acknowledgements afresh from there and
    resume fetching it (fetching may have stopped altogether). Counted: ``flashsale_commit_stalls_total``."""
    await consumer.seek(tp, committed)
    recount_acks(consumer, tp, committed)
    consumer.resume_partitions({tp})
    metrics.COMMIT_STALLS.labels(topic=tp.topic).inc()


def watch(flashsale: Flashsale) -> None:
    """Every ``commit_stall_s / 4`` seconds, read again the partitions this worker holds whose commit
    stalled (see the module docstring). Committed offsets come from the broker: what lag is measured on."""
    app, settings = flashsale.app, flashsale.settings
    watched = {settings.topic(t) for t in GROUP_TOPICS}
    tracker = StallTracker(settings.commit_stall_s)
    group = group_id(settings)
    clients: list[AIOKafkaAdminClient] = []  # one admin client, made on first use, dropped on failure

    async def committed_offsets() -> dict[TP, int]:
        if not clients:
            client = AIOKafkaAdminClient(**aiokafka_config(settings), request_timeout_ms=10_000)
            await client.start()
            clients.append(client)
        offsets = await clients[0].list_consumer_group_offsets(group)
        return {TP(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

    async def position(tp: TP) -> int:
        """The consumer's read position of ``tp``; 0 if it cannot say soon (a fetcher still resetting)."""
        with contextlib.suppress(Exception):
            return await asyncio.wait_for(app.consumer.position(tp), timeout=5) or 0
        return 0

    @app.timer(interval=settings.commit_stall_s / 4)
    async def unstick_commits() -> None:
        if app.rebalancing:
            tracker.forget()  # offsets move under a rebalance: look again once it is over
            return
        try:
            committed = await asyncio.wait_for(committed_offsets(), timeout=settings.commit_stall_s / 8)
            for tp in app.consumer.assignment():
                if tp.topic not in watched or app.rebalancing:
                    continue
                offset = max(committed.get(tp, 0), 0)  # never committed: the group reads from the start
                read, end = await position(tp), app.consumer.highwater(tp) or 0
                if tracker.stalled(tp, offset, read, end, time.monotonic()):
                    log.warning("%s[%s]: committed offset %s fell behind for %.0f s (read up to %s, log "
                                "end %s); reading again from the commit", tp.topic, tp.partition, offset,
                                settings.commit_stall_s, read, end)  # fmt: skip
                    await read_again(app.consumer, tp, offset)
        except Exception as exc:  # a broker outage or a rebalance under way: look again next time
            log.warning("commit-stall watch skipped a round (%r)", exc)
            if clients:  # a fresh client next round
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(clients.pop().close(), timeout=5)
