"""Commit stalls: a partition whose committed offset stopped moving while this worker reads past it.

Around a rebalance or a broker restart Faust can lose records it had fetched (delivered to no
stream, never acked), or stop fetching a partition at all. The partition's committed offset then
never moves again, though every later record is processed, and the group's lag stays up for good
(chaos runs saw it in about 1 run in 6; faust-streaming issue #629 describes partitions left behind
after a rebalance). A worker that sees a partition it holds stuck like that for ``commit_stall_s``,
with records past the commit, seeks it back to its committed offset and resumes fetching it: the
records come again, and the agents skip what they already applied (offsets kept per source and per
SKU inbox), so the only cost is reading them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

from streams.admin import aiokafka_config
from streams.app import Flashsale, group_id
from streams.topics import DECISION_TOPICS, INPUT_TOPICS, SKU_EVENTS

log = logging.getLogger(__name__)


@dataclass
class StallTracker:
    """Which partitions have kept one committed offset for ``patience_s`` with records past it
    (``reached``: the furthest of the read position and the end of the log).

    >>> t = StallTracker(patience_s=60)
    >>> tp = TP("orders", 0)
    >>> t.stalled(tp, committed=49, reached=272, now=0), t.stalled(tp, 49, 272, now=59)
    (False, False)
    >>> t.stalled(tp, 49, 272, now=60)  # stuck for a minute: seek back
    True
    >>> t.stalled(tp, 49, 272, now=61)  # and patience again before the next seek
    False
    """

    patience_s: float
    since: dict[TP, tuple[int, float]] = field(default_factory=dict)  # tp → (committed, first seen)

    def stalled(self, tp: TP, committed: int, reached: int, now: float) -> bool:
        if reached <= committed:
            self.since.pop(tp, None)  # nothing past the commit: nothing to wait for
            return False
        seen = self.since.get(tp)
        if seen is None or seen[0] != committed:
            self.since[tp] = (committed, now)  # the commit moved: patience starts again
            return False
        if now - seen[1] < self.patience_s:
            return False
        self.since[tp] = (committed, now)
        return True

    def forget(self) -> None:
        self.since.clear()


def watch(fs: Flashsale) -> None:
    """Every ``commit_stall_s / 4`` seconds, read again the partitions this worker holds whose commit
    stalled (see the module docstring). Committed offsets come from the broker: what lag is measured on."""
    app, s = fs.app, fs.settings
    watched = {s.topic(t) for t in (*INPUT_TOPICS, SKU_EVENTS, *DECISION_TOPICS)}
    tracker = StallTracker(s.commit_stall_s)
    group = group_id(s)
    clients: list[AIOKafkaAdminClient] = []  # one admin client, made on first use, dropped on failure

    async def committed_offsets() -> dict[TP, int]:
        if not clients:
            client = AIOKafkaAdminClient(**aiokafka_config(s), request_timeout_ms=10_000)
            await client.start()
            clients.append(client)
        offsets = await clients[0].list_consumer_group_offsets(group)
        return {TP(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

    async def position(tp: TP) -> int:
        """The consumer's read position of ``tp``; 0 if it cannot say soon (a fetcher still resetting)."""
        with contextlib.suppress(Exception):
            return await asyncio.wait_for(app.consumer.position(tp), timeout=5) or 0
        return 0

    @app.timer(interval=s.commit_stall_s / 4)
    async def unstick_commits() -> None:
        if app.rebalancing:
            tracker.forget()  # offsets move under a rebalance: look again once it is over
            return
        try:
            committed = await asyncio.wait_for(committed_offsets(), timeout=s.commit_stall_s / 8)
            for tp in app.consumer.assignment():
                if tp.topic not in watched or app.rebalancing:
                    continue
                offset = max(committed.get(tp, 0), 0)  # never committed: the group reads from the start
                reached = max(await position(tp), app.consumer.highwater(tp) or 0)
                if tracker.stalled(tp, offset, reached, time.monotonic()):
                    log.warning("%s[%s]: committed offset stuck at %s for %.0f s (log end %s); reading "
                                "again from there", tp.topic, tp.partition, offset, s.commit_stall_s,
                                app.consumer.highwater(tp))  # fmt: skip
                    await app.consumer.seek(tp, offset)
                    app.consumer.resume_partitions({tp})  # fetching it may have stopped altogether
        except Exception as exc:  # a broker outage or a rebalance under way: look again next time
            log.warning("commit-stall watch skipped a round (%r)", exc)
            if clients:  # a fresh client next round
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(clients.pop().close(), timeout=5)
