"""One batch of decoded clicks or orders → moved user vectors, recommendations and written slots.

The user agents (:mod:`streams.users.agents`) take, decode and hand batches here; everything a batch
does to users happens in :meth:`UserProcessor.process`, with its dependencies given explicitly (the
table, the catalog view, the settings, how sends are collected), so it runs without a broker.

Per event, in offset order: a record the state already holds is skipped, and one beyond the next of
its partition is taken only after the stretch before it, read from the broker
(:mod:`streams.users.positions`); per user, a redelivered offset is skipped too; a click on an SKU
the catalog has not listed is refused; a copy its producer re-sent (an id applied within the dedup
window) is dropped and counted; an event later than the allowed lateness behind its user's latest
from the same source is refused. Refused clicks are dead-lettered (orders: the per-SKU agent
dead-letters them). What remains moves the user's vector, and a user gets a fresh top-k at most once
per debounce interval of event time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import faust
import numpy as np
from faust.types import TP, EventT

from models.recommend.embeddings import UserVector, vector_norm
from models.recommend.reasons import Signal
from streams import metrics
from streams.contracts.decoding import InvalidEvent, LateEvent, UnknownSku
from streams.contracts.eventtime import event_seconds
from streams.contracts.records import Click, Order
from streams.runtime.catchup import ReadRange, read_range
from streams.runtime.deadletters import send_dead_letter
from streams.runtime.dedup import count_duplicate, event_ids
from streams.runtime.forwarding import source_name
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import StateTable, load, put
from streams.runtime.tenure import Tenure
from streams.settings import Settings
from streams.users.catalog_view import CatalogView
from streams.users.positions import InOrder, Known, Positions, searches
from streams.users.rankers import UserLists, Wanted
from streams.users.state import UserSlot

DeadLetterSender = Callable[[faust.TopicT, EventT, BaseException, Outbox], Awaitable[None]]
LearnableQueries = dict[str, tuple[np.ndarray, float]]  # query → (vector, norm), zero vectors left out


@dataclass
class UserBatch:
    """What one batch carries while it moves users."""

    agent: str
    dead_letters: faust.TopicT | None  # None: refused events are dropped (another agent sends them)
    tenure: Tenure
    queries: LearnableQueries
    outbox: Outbox
    slots: dict[str, tuple[TP, UserSlot]] = field(default_factory=dict)  # user → its partition, its slot
    positions: Known = field(default_factory=dict)  # last offset applied per partition (-1: none)
    wanted: list[Wanted] = field(default_factory=list)  # recommendations due, in event order


class UserProcessor:
    """Moves users' vectors and recommends to them, one decoded batch at a time.

    ``users``: the table of :class:`UserSlot`; ``positions``: the last offset applied per input partition;
    ``view``: the catalog (items, vectors, encoder);
    ``new_outbox``: an ``Outbox(app)`` per batch, for its recommendations, state and dead letters;
    ``recommendations``: the topic name recommendations go to; ``send_dead_letter``: how a refused
    event is dead-lettered; ``read_range``: how a stretch of a partition is read from the broker.
    """

    def __init__(
        self,
        users: StateTable[UserSlot],
        positions: StateTable[int],
        view: CatalogView,
        settings: Settings,
        new_outbox: Callable[[], Outbox],
        recommendations: str,
        send_dead_letter: DeadLetterSender = send_dead_letter,
        read_range: ReadRange = read_range,
    ) -> None:
        self.users, self.positions = users, Positions(positions, settings, read_range)
        self.view = view
        self.settings = settings
        self.new_outbox = new_outbox
        self.lists = UserLists(view, settings, recommendations)
        self.send_dead_letter = send_dead_letter
        self.dedup_window_s = 60 * settings.dedup_window_minutes
        # Both user agents write the same slots: one batch at a time (BERT runs alongside), or the later
        # write would undo the other's (a click lost from a vector, an id forgotten).
        self.slots_lock = asyncio.Lock()

    async def process(
        self,
        agent: str,
        events: InOrder,
        dead_letters: faust.TopicT | None,
        tenure: Tenure,
    ) -> frozenset[TP]:
        """Apply ``agent``'s decoded batch ``events`` (clicks or orders; None for one refused when
        decoded) for the partitions ``tenure`` holds: the batch's search queries are encoded together,
        then each event moves its user, in order. Returns the partitions whose users were written:
        events of any other partition were not applied here, and must not be acknowledged (their new
        owner reads them)."""
        learnable = await self._learnable_queries(searches(events))
        async with self.slots_lock:
            batch = UserBatch(agent, dead_letters, tenure, learnable, self.new_outbox())
            return await self._move_users(batch, events)

    async def _learnable_queries(self, queries: list[str]) -> LearnableQueries:
        """Each query's vector and norm, encoded in one BERT batch (in a thread: the loop runs on)."""
        if not queries:
            return {}
        misses_before = self.view.cache_misses
        with metrics.BERT_SECONDS.time():
            vectors = await asyncio.to_thread(self.view.encode_queries, queries)
        metrics.BERT_TEXTS.inc(self.view.cache_misses - misses_before)
        by_query = dict(zip(queries, vectors, strict=True))
        return {
            query: (vector, norm)
            for query, vector in by_query.items()
            if (norm := vector_norm(vector)) is not None
        }

    async def _move_users(self, batch: UserBatch, events: InOrder) -> frozenset[TP]:
        for taken in events:
            if not batch.tenure.holds(taken[0].message.tp):
                continue  # lost in a rebalance while BERT ran: its new owner reads it again
            ordered = await self.positions.in_order(batch.positions, *taken, batch.dead_letters)
            if len(ordered) > 1:  # a stretch read from the broker first: its searches too
                batch.queries.update(await self._learnable_queries(searches(ordered[:-1])))
            for event, record in ordered:
                if record is not None:  # None: refused when decoded, and dead-lettered then
                    assert isinstance(record, Click | Order)
                    await self._apply(batch, event, record)
        await self.lists.send(batch.wanted, batch.outbox)
        return await self._write(batch)

    async def _apply(self, batch: UserBatch, event: EventT, record: Click | Order) -> None:
        slot = self._slot(batch, record.user_id, event.message.tp)
        ts = await self._admit(batch, event, record, slot)
        if ts is not None:
            self._learn(batch, record, slot, ts)

    def _slot(self, batch: UserBatch, user_id: str, tp: TP) -> UserSlot:
        """The user's slot as this batch left it, else as stored, else a new one."""
        _, slot = batch.slots.get(user_id) or (tp, load(self.users, user_id, tp.partition))
        slot = slot or UserSlot(UserVector.empty(self.view.dim))
        batch.slots[user_id] = (tp, slot)
        return slot

    async def _admit(
        self, batch: UserBatch, event: EventT, record: Click | Order, slot: UserSlot
    ) -> float | None:
        """The event time of an event to apply, noted in ``slot``; None for a redelivery, a producer
        duplicate (counted) or a refused event (dead-lettered)."""
        message = event.message
        source = source_name(message.topic, message.partition, self.settings.topic_prefix)
        if not slot.accept(source, message.offset):
            return None
        ts = event_seconds(record)
        ids = tuple(f"{record.topic_name}:{i}" for i in event_ids(record))
        # A copy with a defect of its own is bad input, not a retry; a retry is often behind by now.
        refused = self._unlisted(record)
        if refused is None and slot.seen.duplicate(ids, ts, self.dedup_window_s):  # re-sent by its producer
            count_duplicate(batch.agent, record.topic_name)
            return None
        refused = refused or self._late(slot, source, ts)
        if refused is not None:
            if batch.dead_letters is not None:  # orders: the per-SKU agent dead-letters them
                await self.send_dead_letter(batch.dead_letters, event, refused, batch.outbox)
            return None
        slot.times.saw(source, ts)
        slot.seen.note(ids, ts)
        return ts

    def _unlisted(self, record: Click | Order) -> InvalidEvent | None:
        """A click on an SKU the catalog has not listed (orders: the per-SKU agent refuses them)."""
        if isinstance(record, Click) and record.sku and record.sku not in self.view.items:
            return UnknownSku(f"unknown sku {record.sku!r}: the catalog has not listed it")
        return None

    def _late(self, slot: UserSlot, source: str, ts: float) -> InvalidEvent | None:
        """A time this user's events from ``source`` already left behind by more than the lateness."""
        behind = slot.times.behind(source, ts)
        lateness = self.settings.allowed_lateness_s
        if behind > lateness:
            return LateEvent(f"event time is {behind:.0f} s behind this user's latest event from {source} "
                             f"(allowed lateness {lateness:g} s)")  # fmt: skip
        return None

    def _learn(self, batch: UserBatch, record: Click | Order, slot: UserSlot, ts: float) -> None:
        """Move the user's profile with what the event touched; a recommendation is due unless
        debounced."""
        action = "order" if isinstance(record, Order) else record.action
        what = (record.query if action == "search" else record.sku) or ""
        item = batch.queries.get(what) if action == "search" else self.view.learnable(what)
        if item is None:
            return  # an SKU not (yet) in the catalog moves nothing
        listed = self.view.items.get(what) if action != "search" else None
        slot.learn(what, action, ts, item, listed.category if listed else None)
        debounce_s = self.settings.recommendation_debounce_s
        if slot.recommended_at is None or ts - slot.recommended_at >= debounce_s:
            query = Signal("searched", what, item[0] / item[1]) if action == "search" else None
            batch.wanted.append(self._wanted(record.user_id, slot, record.event_id, ts, query))
            slot.recommended_at = ts
            lateness = self.settings.allowed_lateness_s
            slot.forget_old_ids(self.dedup_window_s, lateness)  # now and then is enough

    def _wanted(self, user_id: str, slot: UserSlot, event_id: str, ts: float, query: Signal | None) -> Wanted:
        recent_s = 60 * self.settings.recommendation_recent_minutes
        return Wanted(
            user_id, event_id, ts, slot.vector.embedding(), dict(slot.taste), query,
            slot.signals(self.view.describe), frozenset(slot.bought), frozenset(slot.recent(ts, recent_s)),
        )  # fmt: skip

    async def _write(self, batch: UserBatch) -> frozenset[TP]:
        """Store the batch's slots, for the partitions held throughout, once its outputs are stored;
        returns those partitions."""
        await batch.outbox.settle()  # recommendations stored before the vectors that made them (see outbox)
        kept = await batch.tenure.kept()  # written after any recovery, and only where no one else took over
        async with batch.tenure.writing():
            for user_id, (tp, slot) in batch.slots.items():
                if tp in kept:
                    await put(self.users, tp.partition, user_id, slot, batch.outbox)
            # Kept locally only if no rebalance began meanwhile (its recovery may overwrite newer values):
            # the changelog has the slots then, and the input is read again after the rebalance.
            await batch.outbox.settle(keep_state=lambda: batch.tenure.steady)
            if batch.tenure.steady:  # positions once the users they cover are stored (else they stay behind)
                await self.positions.write(batch.positions, kept, batch.outbox)
                await batch.outbox.settle(keep_state=lambda: batch.tenure.steady)
        return kept
