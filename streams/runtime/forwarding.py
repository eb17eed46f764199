"""Re-key per-SKU inputs onto the internal ``sku-events`` topic, followed by event-time marks.

Forwarded events keep their original bytes; headers say what they are and where they came from,
so the per-SKU agent can drop duplicates (a source offset it has already received) and order
events deterministically. Marks (see :mod:`streams.runtime.clock`) go to every partition after the events
they vouch for; a timer marks caught-up source partitions idle, once a fetch made after they were
found caught up confirms it, so the watermark never stalls on a quiet source nor passes events that
the broker already holds.
Callers :meth:`Forwarder.settle` after each batch, so no input offset is committed before what it
forwarded is stored.

A source's records are forwarded in offset order, with no hole (:meth:`Forwarder.in_order`): each SKU's
inbox drops a record below the last it received from that source as a redelivery.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import faust
from faust.types import TP, EventT

from streams import metrics
from streams.contracts.decoding import TooLarge
from streams.runtime.catchup import ReadStretch, from_commit, in_order
from streams.runtime.deadletters import record_size
from streams.runtime.faust_internals import committed_offsets, last_fetch_ms
from streams.runtime.outbox import Outbox


class Control(StrEnum):
    """Records on ``sku-events`` that are not events (their ``kind`` header)."""

    MARK = "mark"  # a source reached an event time (or is idle)
    NUDGE = "nudge"  # nothing: wakes the per-SKU agent of a partition whose state lags its stream


def source_name(topic: str, partition: int, prefix: str = "") -> str:
    """``orders/3`` for partition 3 of ``<prefix>.orders``."""
    base = topic[len(prefix) + 1 :] if prefix and topic.startswith(prefix + ".") else topic
    return f"{base}/{partition}"


async def nothing_to_read(topic: str, partition: int, start: int, stop: int) -> list[Any]:
    raise RuntimeError(f"{topic}[{partition}]: offsets {start}..{stop - 1} are missing; nothing reads them")


@dataclass
class SourceProgress:
    offset: int = -1  # the last offset processed, every one before it too (-1: none since taken)
    time: float = 0.0
    marked: float | None = None
    idle_marked: bool = False
    caught_up_since: float | None = None  # when the idle timer first found it caught up (epoch s)


def last_fetch(app: faust.App, tp: TP) -> float | None:
    """When the consumer last had a fetch response for ``tp`` (epoch s), or None while unknown."""
    fetched_ms = last_fetch_ms(app, tp)
    return fetched_ms / 1000 if fetched_ms is not None else None


@dataclass
class Forwarder:
    """Forwards events of one agent's source topic and marks its progress."""

    target: faust.TopicT
    partitions: int
    prefix: str = ""
    max_record: int = 1_000_000  # the largest record the producer sends (deadletters.record_limit)
    mark_every_s: float = 1.0
    clock: Callable[[], float] = time.time  # the same clock as aiokafka's fetch times
    fetched_at: Callable[[faust.App, TP], float | None] = last_fetch
    read: ReadStretch = nothing_to_read  # a stretch of a source partition, from the broker
    progress: dict[TP, SourceProgress] = field(default_factory=dict)
    outbox: Outbox = field(default_factory=Outbox)
    # The agent and the idle timer both mark; one at a time, so the last mark on the wire is the
    # one ``idle_marked`` describes (else a late "active" mark could hide an idle one for good).
    marking: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def forward(
        self, event: EventT, kind: str, sku: str, event_time: float, ids: tuple[str, ...] = ()
    ) -> None:
        """Send ``event``'s bytes to the partition of ``sku``, with ``ids``
        (:func:`streams.runtime.dedup.event_ids`) in a header; raises :class:`TooLarge` (nothing sent) when
        the copy would exceed ``max_record`` (a valid value under a huge key)."""
        message = event.message
        headers = [
            ("kind", kind.encode()),
            ("source", source_name(message.topic, message.partition, self.prefix).encode()),
            ("source_offset", str(message.offset).encode()),
            ("event_time", repr(event_time).encode()),
        ]
        if ids:
            headers.append(("ids", json.dumps(ids).encode()))
        if message.key is not None:  # kept for a dead letter that must carry the original key
            headers.append(("source_key", message.key))
        size = record_size(sku.encode(), message.value, headers)
        if size > self.max_record:
            limit = self.max_record
            raise TooLarge(f"too large to forward: {size} bytes with its headers, the limit is {limit}")
        await self.outbox.send(self.target, key=sku.encode(), value=message.value, timestamp=event_time,
                               headers=headers)  # fmt: skip
        metrics.EVENTS_OUT.labels(topic=self.target.get_topic_name()).inc()

    async def in_order(self, events: Sequence[EventT], committed: Mapping[TP, int | None]) -> list[Any]:
        """``events`` in their partitions' order, with no hole (:func:`streams.runtime.catchup.in_order`);
        ``committed``: the group's committed offsets, where a partition this worker has processed
        nothing of since it took it begins."""
        done = {tp: state.offset for tp, state in self.progress.items()}
        return await in_order(events, from_commit(committed, done), self.read)

    def seen(self, event: EventT, event_time: float | None) -> None:
        """Note that ``event`` was processed (valid or not) at ``event_time``."""
        message = event.message
        state = self.progress.setdefault(message.tp, SourceProgress())
        state.offset = max(state.offset, message.offset)
        state.idle_marked, state.caught_up_since = False, None
        if event_time is not None:
            state.time = max(state.time, event_time)

    async def mark_progress(self, held: Collection[TP]) -> None:
        """After a batch: mark the ``held`` sources whose event time moved on by ``mark_every_s``.

        Only partitions the batch held: progress left from an earlier tenure is stale. A copy of the
        progress is walked: while a mark is sent, the idle timer or a rebalance may add or drop one.
        """
        for tp, state in list(self.progress.items()):
            if tp not in held:
                continue
            if state.marked is None or state.time - state.marked >= self.mark_every_s:
                await self._mark(tp, state, False, self.outbox)

    async def mark_idle(self, app: faust.App, topic: str) -> None:
        """Mark this worker's caught-up partitions of ``topic`` idle (called by a timer).

        Caught up = everything below the consumer's last known high watermark was processed here, or
        the group's committed offset is at the high watermark (a partition this worker has read
        nothing of since it took it over). Not the fetch position: fetched records may still wait for
        the agent. The high watermark is only as fresh as the last fetch response, so a partition
        whose producer is still sending can look caught up for a moment: it is marked idle only once
        a fetch response that came after it was first found caught up (and no new event since) shows
        it still is. The timer settles its own marks: the agent's outbox is the agent's to settle.
        """
        committed = committed_offsets(app)
        outbox, now = Outbox(), self.clock()
        for tp in list(app.consumer.assignment()):
            if tp.topic != topic or tp not in app.consumer.assignment():  # a rebalance while a mark was sent
                continue
            state = self.progress.setdefault(tp, SourceProgress())
            highwater = app.consumer.highwater(tp)
            if highwater is None or state.idle_marked:
                continue
            done = max(state.offset + 1, committed.get(tp) or 0)  # 0: never committed
            if done < highwater:
                state.caught_up_since = None
            elif state.caught_up_since is None:
                state.caught_up_since = now
            elif (self.fetched_at(app, tp) or 0.0) > state.caught_up_since:
                await self._mark(tp, state, True, outbox)
        await outbox.settle()

    def forget(self, lost: Iterable[TP]) -> None:
        """Drop the progress of partitions this worker lost (if one comes back, others moved it on and
        marked it meanwhile: it is marked afresh) or whose batch failed (it begins again at the commit)."""
        for tp in lost:
            self.progress.pop(tp, None)

    async def _mark(self, tp: TP, state: SourceProgress, idle: bool, outbox: Outbox) -> None:
        value = json.dumps(
            {"source": source_name(tp.topic, tp.partition, self.prefix), "time": state.time, "idle": idle}
        ).encode()
        async with self.marking:
            for partition in range(self.partitions):
                await outbox.send(
                    self.target, value=value, partition=partition, headers=[("kind", Control.MARK.encode())]
                )
            state.marked, state.idle_marked = state.time, idle

    async def settle(self) -> None:
        """Wait until everything forwarded and marked so far is stored by the broker."""
        await self.outbox.settle()
