"""The users' state and each of its input partitions advance together.

``user-positions`` holds, per ``clicks``/``orders`` partition, the offset of the last record the users'
state applied; it is written after the users it covers, so a restored position is never ahead of them.
A record at or before it is skipped; one beyond the next is taken only after the stretch before it,
read from the broker and decoded as the stream's records are (refused ones dead-lettered). Faust can
commit past records a batch withheld around a rebalance (in a partition its group never committed), a
recovery can restore a state older than the offset the stream resumes from, and records can reach a
batch out of order around a seek: applied as they came, a later event would move its user's offset
past an earlier one, which would then pass for a redelivery. The per-SKU path does the same with its
clock's position (:meth:`streams.runtime.clock.PartitionClock.place`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from streams.contracts.records import Click, Event
from streams.runtime.catchup import ReadEvent, ReadRange
from streams.runtime.forwarding import source_name
from streams.runtime.ingest import decode_in_order
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import StateTable, load, put
from streams.settings import Settings

log = logging.getLogger(__name__)
InOrder = Sequence[tuple[EventT, Event | None]]  # a partition's events by offset; None: refused when decoded
Known = dict[TP, int]  # a batch's positions: last offset applied per partition (-1: none)


class Positions:
    """The ``user-positions`` table, and the stretches of input it makes a batch read first."""

    def __init__(self, table: StateTable[int], settings: Settings, read_range: ReadRange) -> None:
        self.table, self.settings, self.read_range = table, settings, read_range
        self.event_time_policy = settings.event_time_policy()

    async def in_order(
        self, known: Known, event: EventT, record: Event | None, dead_letters: faust.TopicT | None
    ) -> InOrder:
        """``event``, after the stretch of its partition that the state has not applied (read from the
        broker); nothing when the state has applied it already. ``known`` moves to its offset."""
        message = event.message
        position = self.at(known, message.tp)
        if message.offset <= position:
            return []
        stretch: InOrder = []
        if message.offset > position + 1:
            log.warning("%s[%s]: users' state at offset %s, stream at %s; reading the stretch between",
                        message.topic, message.partition, position, message.offset)  # fmt: skip
            stretch = await self.read(message.tp, position + 1, message.offset, dead_letters)
        known[message.tp] = message.offset
        return [*stretch, (event, record)]

    def at(self, known: Known, tp: TP) -> int:
        """The offset of ``tp``'s last record the state applied (as the batch left it); -1 while none is
        stored. A fresh state has applied nothing: a stream that begins later is read from the start."""
        if tp not in known:
            stored = load(self.table, self.source(tp), tp.partition)
            known[tp] = -1 if stored is None else stored
        return known[tp]

    async def read(self, tp: TP, start: int, stop: int, dead_letters: faust.TopicT | None) -> InOrder:
        """The records of ``tp`` from ``start`` to before ``stop``, decoded (refused ones dead-lettered,
        as the agent's)."""
        records = await self.read_range(self.settings, tp.topic, tp.partition, start, stop)
        events: list[Any] = [ReadEvent.of(record) for record in records]  # as Faust events, to the decoder
        return await decode_in_order(events, dead_letters, self.settings.topic_prefix, self.event_time_policy)

    async def write(self, known: Known, kept: frozenset[TP], outbox: Outbox) -> None:
        """Send the positions of the partitions in ``kept`` (settle ``outbox`` after the users they cover)."""
        for tp, position in known.items():
            if tp in kept and position >= 0:
                await put(self.table, tp.partition, self.source(tp), position, outbox)

    def source(self, tp: TP) -> str:
        return source_name(tp.topic, tp.partition, self.settings.topic_prefix)


def searches(events: InOrder) -> list[str]:
    """The search queries of ``events``' clicks."""
    return [
        record.query
        for _, record in events
        if isinstance(record, Click) and record.action == "search" and record.query
    ]
