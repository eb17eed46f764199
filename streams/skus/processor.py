"""The per-SKU agent's logic, one batch of ``sku-events`` at a time, with every dependency passed in.

``sku-events`` carries orders, stock and catalog events re-keyed by sku, plus event-time marks. Each
SKU keeps an inbox (events received but not yet behind the watermark, and the last source offset
received per source partition, so redelivered events are dropped) and a model state
(:class:`models.policy.sku_state.SkuState`). Events are applied in event-time order once the watermark
passes them; buckets that close emit restock and discount decisions with deterministic ids.

Each partition's clock also records the last ``sku-events`` offset applied, so state and input move
together: what is read again after a rebalance is skipped, and when the stream is ahead of the state
(Faust's recovery restored an older one) the processor reads the stretch in between itself.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from models.policy.sku_state import Decision, SkuPolicy, SkuState
from streams import metrics
from streams.contracts.decoding import LateEvent, UnknownSku
from streams.contracts.records import DiscountAdjustment, Restock
from streams.contracts.topics import CATALOG, ORDERS, STOCK, Topics
from streams.experiment.sender import OutcomeSender
from streams.runtime.catchup import ReadRange, with_gap
from streams.runtime.clock import Inbox, PartitionClock, Pending, expected_sources
from streams.runtime.deadletters import Origin, send_dead_value
from streams.runtime.dedup import count_duplicate
from streams.runtime.forwarding import Control
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import StateTable, load, put
from streams.runtime.tenure import Tenure
from streams.settings import Settings
from streams.skus.due import DueTimes
from streams.skus.forwarded import Forwarded, headers_of
from streams.skus.state import SkuSlot

log = logging.getLogger(__name__)
Slots = dict[str, SkuSlot]  # sku → slot, of one partition
# Changed slots a batch holds at most before storing them: when a watermark closes the buckets of
# every SKU, 10⁴ decoded slots (~10 kB each) and their outputs would otherwise be held at once.
SLOTS_HELD = 500


def sku_policy(settings: Settings) -> SkuPolicy:
    """The per-SKU decision knobs from settings (the stream and in-process evaluation share it)."""
    return SkuPolicy(
        bucket_minutes=settings.bucket_minutes,
        service_level=settings.service_level,
        max_discount_step=settings.discount_max_step,
        discount_cooldown_minutes=settings.discount_cooldown_minutes,
        season_buckets=max(settings.forecast_season_minutes // settings.bucket_minutes, 1),
        holdout_share=settings.holdout_share,
        min_evidence_buckets=math.ceil(settings.discount_min_evidence_minutes / settings.bucket_minutes),
        prior_elasticity=settings.discount_prior_elasticity,
        revenue_guard_z=settings.discount_revenue_guard_z,
        restock_horizon=settings.restock_horizon,
        restock_confirm_buckets=math.ceil(settings.restock_confirm_minutes / settings.bucket_minutes),
    )


class SkuProcessor:
    """Applies batches of ``sku-events``: inboxes, clocks, buckets, decisions, status and state.

    ``new_outbox`` gives the outbox of one batch (``Outbox(app)`` in the worker); ``read_range``
    reads a stretch of a partition directly (:func:`streams.runtime.catchup.read_range`).
    """

    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        slots: StateTable[SkuSlot],
        clocks: StateTable[PartitionClock],
        new_outbox: Callable[[], Outbox],
        read_range: ReadRange,
    ) -> None:
        self.settings, self.topics = settings, topics
        self.slots, self.clocks = slots, clocks
        self.new_outbox, self.read_range = new_outbox, read_range
        self.policy = sku_policy(settings)
        self.sources = expected_sources((ORDERS, STOCK, CATALOG), settings.topic_partitions)
        self.dedup_window_s = 60 * settings.dedup_window_minutes
        # The holdout experiment's closed buckets and marks (streams/experiment), when one runs.
        self.experiment = OutcomeSender(settings, topics) if settings.holdout_share > 0 else None
        self.due = DueTimes()  # which SKUs a moving watermark has work for
        self.status_topic = topics.sku_status.get_topic_name()

    async def process(self, events: Sequence[Any], tenure: Tenure) -> None:
        """One batch: take each record in order, close what the new watermarks close, then store."""
        outbox = self.new_outbox()  # settled after each phase
        self.due.begin(tenure.generation)
        clocks: dict[int, PartitionClock] = {}
        batch: dict[int, Slots] = {}  # partition → sku → slot, written once per batch
        for event in events:
            if not tenure.holds(event.message.tp) or not tenure.steady:
                continue  # its new owner reads it
            partition = event.message.partition
            clock = clocks.get(partition) or self.clock(partition)
            clocks[partition] = clock
            for message in await with_gap(event.message, clock, self.read_range, self.settings):
                if not tenure.steady:
                    break
                await self.take_safely(message, clock, batch.setdefault(partition, {}), outbox)
        for partition, clock in clocks.items():
            previous = clock.current
            watermark = clock.watermark()
            if watermark is not None and watermark != previous:
                slots = batch.setdefault(partition, {})
                await self.advance(partition, slots, clock, watermark, outbox, tenure)
        await self.store(batch, clocks, outbox, tenure)
        if not tenure.steady:
            self.due.forget()  # what this batch read may not be what the tables hold now

    def clock(self, partition: int) -> PartitionClock:
        stored = load(self.clocks, f"p{partition}", partition)
        return stored or PartitionClock(self.sources, self.settings.allowed_lateness_s)

    def slot(self, sku: str, partition: int, slots_here: Slots) -> SkuSlot:
        """The batch's slot of ``sku`` (of ``partition``): taken this batch, stored, or new."""
        current = slots_here.get(sku) or load(self.slots, sku, partition)
        return current or SkuSlot(Inbox(), SkuState(sku, self.policy))

    async def take_safely(
        self, message: Any, clock: PartitionClock, slots_here: Slots, outbox: Outbox
    ) -> None:
        """:meth:`take`; a record that is not what the forwarder writes becomes a dead letter."""
        try:
            await self.take(message, clock, slots_here, outbox)
        except Exception as exc:  # only a foreign writer could put such a message here
            await send_dead_value(self.topics.dead_letters, Origin.of(message), message.value, exc, outbox)

    async def take(self, message: Any, clock: PartitionClock, slots_here: Slots, outbox: Outbox) -> None:
        """Apply one record of the partition, unless the state already holds it."""
        if clock.place(message.offset) != "next":
            return
        clock.position = message.offset
        await self.receive(message, clock, slots_here, outbox)

    async def receive(self, message: Any, clock: PartitionClock, slots_here: Slots, outbox: Outbox) -> None:
        """Take a mark into the clock, or queue an event in its SKU's inbox (a lying time: dead letter).

        ``message``: a Faust message, or a record read by :func:`streams.runtime.catchup.read_range`.
        """
        headers = headers_of(message)
        if headers.get("kind") == Control.NUDGE.encode():
            return  # only there to wake this agent (see the state watchdog)
        if headers.get("kind") == Control.MARK.encode():
            mark = json.loads(message.value or b"")
            clock.mark(mark["source"], float(mark["time"]), bool(mark["idle"]))
            return
        event = Forwarded.of(message, headers)
        current = slots_here[event.sku] = self.slot(event.sku, message.partition, slots_here)
        clock.skus.add(event.sku)  # a copy too: the clock that saw it first may have been lost in a crash
        if await self.refused(event, message.value or b"", current, clock, outbox):
            return
        clock.received.saw(event.source, event.event_time)
        current.inbox.accept(event.source, event.offset, event.event_time, event.kind, message.value or b"",
                             event.key)  # fmt: skip
        self.due.received(message.partition, event.sku, event.event_time)
        current.seen.note(event.ids, event.event_time)

    async def refused(
        self, event: Forwarded, value: bytes, current: SkuSlot, clock: PartitionClock, outbox: Outbox
    ) -> bool:
        """Whether ``event`` stops here: received before, re-sent by its producer, or late."""
        source, event_time = event.source, event.event_time
        if not current.inbox.is_new(source, event.offset):
            clock.received.saw(source, event_time)
            return True  # forwarded again after a crash, or read again after one
        if current.seen.duplicate(event.ids, event_time, self.dedup_window_s):  # re-sent by its producer
            current.inbox.refuse(source, event.offset)
            clock.received.saw(source, event_time)
            count_duplicate("skus", source.rpartition("/")[0])
            return True
        behind, allowed = clock.behind(source, event_time), self.settings.allowed_lateness_s
        if behind <= allowed:
            return False
        current.inbox.refuse(source, event.offset)
        late = LateEvent(f"event time is {behind:.0f} s behind what {source} already reached "
                         f"(allowed lateness {allowed:g} s)")  # fmt: skip
        await send_dead_value(self.topics.dead_letters, self.origin(source, event.offset, event.key), value,
                              late, outbox)  # fmt: skip
        return True

    def origin(self, source: str, offset: int, key: bytes | None) -> Origin:
        """The input coordinates of a forwarded event (``orders/3`` → the prefixed orders topic)."""
        base, _, partition = source.rpartition("/")
        return Origin(self.settings.topic(base), int(partition), offset, key)

    async def advance(
        self,
        partition: int,
        batch: Slots,
        clock: PartitionClock,
        watermark: float,
        outbox: Outbox,
        tenure: Tenure,
    ) -> None:
        """Apply each SKU's due events in order and close its buckets behind ``watermark`` (SKUs with
        nothing behind it are not read: see :mod:`streams.skus.due`)."""
        done: Slots = {}  # changed by this advance and not yet stored
        for sku in self.due.due(partition, clock.skus, watermark):
            if not tenure.steady:
                return  # a rebalance began: what the tables hold may no longer be this batch's
            current = self.slot(sku, partition, batch)
            closed_before = current.state.closed_buckets
            due = current.inbox.due(watermark)
            decisions = await self.apply_due(current.state, due, outbox)
            decisions += current.state.advance(watermark)
            for decision in decisions:
                await self.emit(decision, outbox)
            if self.experiment is not None:
                await self.experiment.send(current.state, outbox)
            if current.state.closed_buckets != closed_before:  # every worker's recommendations see it
                lateness = self.settings.allowed_lateness_s
                current.seen.forget_before(watermark - lateness - self.dedup_window_s)
                status = json.dumps(current.state.status()).encode()  # one a minute for each SKU: batched
                await outbox.send_bytes(
                    self.status_topic, key=sku.encode(), value=status, timestamp=watermark
                )
            if due or current.state.closed_buckets != closed_before:
                batch[sku] = done[sku] = current  # changed: written back at the end of the batch
            self.due.visited(partition, sku, current)
            if len(done) >= SLOTS_HELD:  # enough held: stored now, and dropped from the batch
                for key in done:
                    del batch[key]
                if not await self.store_slots({partition: done}, outbox, tenure):
                    return
        if self.experiment is not None:  # after every SKU's outcomes: all buckets ending by then are in
            await self.experiment.mark(partition, watermark, outbox)

    async def apply_due(self, state: SkuState, due: list[Pending], outbox: Outbox) -> list[Decision]:
        """Apply events behind the watermark in order; what the SKU cannot take is a dead letter."""
        decisions: list[Decision] = []
        for event in due:
            data = json.loads(event.value)
            reason = state.rejects(data)
            if reason:
                origin = self.origin(event.source, event.offset, event.key)
                await send_dead_value(
                    self.topics.dead_letters, origin, event.value, UnknownSku(reason), outbox
                )
                continue
            decisions += state.advance(event.time)
            oversold_before = state.oversold_units
            state.apply(data, event.time)
            metrics.OVERSOLD_UNITS.inc(state.oversold_units - oversold_before)
        return decisions

    async def emit(self, decision: Decision, outbox: Outbox) -> None:
        topic, record = (
            (self.topics.restock, Restock(**decision.fields))
            if decision.kind == "restock"
            else (self.topics.discounts, DiscountAdjustment(**decision.fields))
        )
        await outbox.send(topic, key=decision.sku, value=record, timestamp=decision.ts.timestamp())
        metrics.EVENTS_OUT.labels(topic=topic.get_topic_name()).inc()

    async def store_slots(self, batch: dict[int, Slots], outbox: Outbox, tenure: Tenure) -> bool:
        """Outputs, then the slots of ``batch`` (emptied, so they can be freed); False, with nothing
        (more) stored, when a rebalance began. Slots stored ahead of their partition's clock are safe:
        input read again is skipped per SKU, and buckets closed are not closed again."""
        await outbox.settle()
        async with tenure.writing():
            if not tenure.steady:
                return False
            for partition, slots_here in batch.items():
                for sku, current in slots_here.items():
                    await put(self.slots, partition, sku, current, outbox)
                slots_here.clear()
            await outbox.settle(keep_state=lambda: tenure.steady)  # else a recovery may overwrite them
        return tenure.steady

    async def store(
        self, batch: dict[int, Slots], clocks: dict[int, PartitionClock], outbox: Outbox, tenure: Tenure
    ) -> None:
        """Outputs, then SKUs, then clocks, each stored before the next is written: restored state
        never holds work whose outputs are missing, nor a clock ahead of its SKUs (see outbox)."""
        if not await self.store_slots(batch, outbox, tenure):
            return  # the clocks stay behind, and the input is read again
        async with tenure.writing():
            if not tenure.steady:
                return
            for partition, clock in clocks.items():
                await put(self.clocks, partition, f"p{partition}", clock, outbox)
            await outbox.settle(keep_state=lambda: tenure.steady)
        for partition, clock in clocks.items():  # after everything it led to is stored (replay waits on it)
            metrics.SOURCES_IDLE.labels(partition=str(partition)).set(clock.all_idle())
