"""Per-SKU agent family: stock and catalog forwarding, and the per-SKU state that makes decisions.

``sku-events`` carries orders, stock and catalog events re-keyed by sku, plus event-time marks.
Each SKU keeps an inbox (events received but not yet behind the watermark, and the last source
offset received per source partition, so redelivered events are dropped) and a model state
(:class:`models.policy.sku_state.SkuState`). Events are applied in event-time order once the watermark
passes them; buckets that close emit restock and discount decisions with deterministic ids.

Each partition's clock also records the last ``sku-events`` offset applied, so state and input move
together: what is read again after a rebalance is skipped, and when the stream is ahead of the state
(Faust's recovery restored an older one) the agent reads the stretch in between itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import faust

from models.policy.sku_state import Decision, SkuPolicy, SkuState
from streams import metrics
from streams.app import Flashsale
from streams.contracts.decoding import LateEvent, TooLarge, UnknownSku
from streams.contracts.eventtime import event_seconds
from streams.contracts.records import DiscountAdjustment, Restock
from streams.contracts.topics import CATALOG, ORDERS, STOCK
from streams.runtime.catchup import read_range
from streams.runtime.clock import KIND_RANK, Inbox, PartitionClock, expected_sources
from streams.runtime.deadletters import Origin, record_limit, send_dead_letter, send_dead_value
from streams.runtime.dedup import count_duplicate, event_ids, header_ids
from streams.runtime.forwarding import MARK, Forwarder
from streams.runtime.ingest import batches, decode_batch
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import load, put, state_table
from streams.runtime.tenure import Ownership, Tenure
from streams.settings import Settings
from streams.skus.state import SKU_CLOCKS, SKU_SLOTS, SkuSlot

log = logging.getLogger(__name__)
NUDGE = b"nudge"  # a no-op record kind on sku-events


def _headers(message: Any) -> dict[str, bytes]:
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {key: value if isinstance(value, bytes) else str(value).encode() for key, value in pairs}


def sku_policy(settings: Settings) -> SkuPolicy:
    """The per-SKU decision knobs from settings (the stream and in-process evaluation share it)."""
    return SkuPolicy(
        bucket_minutes=settings.bucket_minutes,
        service_level=settings.service_level,
        max_discount_step=settings.discount_max_step,
        discount_cooldown_minutes=settings.discount_cooldown_minutes,
        season_buckets=max(settings.forecast_season_minutes // settings.bucket_minutes, 1),
    )


def register(fs: Flashsale) -> None:
    """Register stock/catalog forwarding and the per-SKU agent on ``fs.app``."""
    app, s, topics = fs.app, fs.settings, fs.topics
    within = s.stream_batch_wait_ms / 1000
    slots = state_table(app, "sku-slots", SKU_SLOTS)
    clocks = state_table(app, "sku-clocks", SKU_CLOCKS)
    sources = expected_sources((ORDERS, STOCK, CATALOG), s.topic_partitions)
    policy = sku_policy(s)
    ownership = Ownership(app)
    event_time_policy = s.event_time_policy()
    dedup_window_s = 60 * s.dedup_window_minutes

    def new_slot(sku: str) -> SkuSlot:
        return SkuSlot(Inbox(), SkuState(sku, policy))

    def forwarding_agent(topic: faust.TopicT, kind: str) -> None:
        forwarder = Forwarder(topics.sku_events, s.topic_partitions, s.topic_prefix, record_limit(app))
        fs.forwarders[topic.get_topic_name()] = forwarder
        ownership.on_lost.append(forwarder.forget)

        async def forward(stream: faust.StreamT) -> None:
            async for batch in batches(stream, s.stream_batch_size, within):
                tenure = ownership.begin()
                events = [e for e in batch if tenure.holds(e.message.tp)]  # the rest: their new owner's
                decoded = await decode_batch(events, topics.dead_letters, s.topic_prefix, event_time_policy)
                good = {id(e): r for e, r in decoded}
                for event in events:
                    record = good.get(id(event))
                    event_time = event_seconds(record) if record is not None else None
                    if record is not None and event_time is not None:
                        try:
                            await forwarder.forward(event, kind, record.sku, event_time, event_ids(record))
                        except TooLarge as exc:  # valid, but its copy cannot be sent: data, not a crash
                            await send_dead_letter(topics.dead_letters, event, exc, forwarder.outbox)
                    forwarder.seen(event, event_time)
                await forwarder.mark_progress(tenure.held)
                await forwarder.settle()

        app.agent(topic, name=f"forward-{kind}")(forward)

    forwarding_agent(topics.orders, "order")
    forwarding_agent(topics.stock, "stock")
    forwarding_agent(topics.catalog, "catalog")

    @app.timer(interval=0.5)  # a partition is marked idle at the first tick after a fetch confirms it
    async def mark_idle_sources() -> None:
        for topic, forwarder in fs.forwarders.items():
            await forwarder.mark_idle(app, topic)

    async def emit(decision: Decision, outbox: Outbox) -> None:
        topic, record = (
            (topics.restock, Restock(**decision.fields))
            if decision.kind == "restock"
            else (topics.discounts, DiscountAdjustment(**decision.fields))
        )
        await outbox.send(topic, key=decision.sku, value=record, timestamp=decision.ts.timestamp())
        metrics.EVENTS_OUT.labels(topic=topic.get_topic_name()).inc()

    async def advance(
        batch: dict[str, SkuSlot], clock: PartitionClock, watermark: float, outbox: Outbox, tenure: Tenure
    ) -> None:
        """Apply each SKU's due events in order and close its buckets behind ``watermark``."""
        for sku in sorted(clock.skus):
            if not tenure.steady:
                return  # a rebalance began: what the tables hold may no longer be this batch's
            current = batch.get(sku) or load(slots, sku) or new_slot(sku)
            decisions: list[Decision] = []
            closed_before = current.state.closed_buckets
            due = current.inbox.due(watermark)
            for event_time, _rank, source, offset, value, key in due:
                data = json.loads(value)
                reason = current.state.rejects(data)
                if reason:
                    await send_dead_value(topics.dead_letters, origin(source, offset, key), value,
                                          UnknownSku(reason), outbox)  # fmt: skip
                    continue
                decisions += current.state.advance(event_time)
                oversold_before = current.state.oversold_units
                current.state.apply(data, event_time)
                metrics.OVERSOLD_UNITS.inc(current.state.oversold_units - oversold_before)
            decisions += current.state.advance(watermark)
            for decision in decisions:
                await emit(decision, outbox)
            if current.state.closed_buckets != closed_before:  # every worker's recommendations see it
                current.seen.forget_before(watermark - s.allowed_lateness_s - dedup_window_s)
                status = json.dumps(current.state.status()).encode()
                await outbox.send(topics.sku_status, key=sku.encode(), value=status, timestamp=watermark)
            if due or current.state.closed_buckets != closed_before:
                batch[sku] = current  # changed: written back once at the end of the batch

    def origin(source: str, offset: int, key: bytes | None) -> Origin:
        """The input coordinates of a forwarded event (``orders/3`` → the prefixed orders topic)."""
        base, _, partition = source.rpartition("/")
        return Origin(s.topic(base), int(partition), offset, key)

    async def receive(
        message: Any, clock: PartitionClock, slots_here: dict[str, SkuSlot], outbox: Outbox
    ) -> None:
        """Take a mark into the clock, or queue an event in its SKU's inbox (a lying time: dead letter).

        ``message``: a Faust message, or a record read by :func:`streams.runtime.catchup.read_range`.
        """
        value, headers = message.value or b"", _headers(message)
        if headers.get("kind") == NUDGE:
            return  # only there to wake this agent (see state_watchdog)
        if headers.get("kind") == MARK.encode():
            mark = json.loads(value)
            clock.mark(mark["source"], float(mark["time"]), bool(mark["idle"]))
            return
        kind, source = headers.get("kind", b"").decode(), headers.get("source", b"").decode()
        offset, event_time = int(headers["source_offset"]), float(headers["event_time"])
        sku = (message.key or b"").decode()
        if not sku or kind not in KIND_RANK:
            raise ValueError(f"not a forwarded event: kind={kind!r} sku={sku!r}")
        current = slots_here.get(sku) or load(slots, sku) or new_slot(sku)
        slots_here[sku] = current
        clock.skus.add(sku)  # a copy too: the clock that saw it first may have been lost in a crash
        if not current.inbox.is_new(source, offset):
            clock.received.saw(source, event_time)
            return  # forwarded again after a crash, or read again after one
        ids = header_ids(headers)
        if current.seen.duplicate(ids, event_time, dedup_window_s):  # re-sent by its producer
            current.inbox.refuse(source, offset)
            clock.received.saw(source, event_time)
            count_duplicate("skus", source.rpartition("/")[0])
            return
        key = headers.get("source_key")
        behind = clock.behind(source, event_time)
        if behind > s.allowed_lateness_s:
            current.inbox.refuse(source, offset)
            late = LateEvent(f"event time is {behind:.0f} s behind what {source} already reached "
                             f"(allowed lateness {s.allowed_lateness_s:g} s)")  # fmt: skip
            await send_dead_value(topics.dead_letters, origin(source, offset, key), value, late, outbox)
            return
        clock.received.saw(source, event_time)
        current.inbox.accept(source, offset, event_time, kind, value, key)
        current.seen.note(ids, event_time)

    stalled: dict[int, int] = {}  # partition → clock position at the watchdog's last look

    @app.timer(interval=5.0)
    async def state_watchdog() -> None:
        """Wake the agent of a partition whose stream is ahead of its state while the state has not
        moved for a whole interval (a gap left by a rebalance, with nothing read after it): a nudge
        record makes the agent read the missing stretch."""
        name = topics.sku_events.get_topic_name()
        try:
            for tp in app.consumer.assignment():
                if tp.topic != name or app.rebalancing:
                    continue
                clock = load(clocks, f"p{tp.partition}")
                applied = clock.position if clock is not None else -1
                position = await app.consumer.position(tp)
                was, stalled[tp.partition] = stalled.get(tp.partition), applied
                if was == applied and position is not None and position > applied + 1:
                    log.warning("%s[%s]: state at offset %s, stream at %s; nudging", name, tp.partition,
                                applied, position)  # fmt: skip
                    nudge = [("kind", NUDGE)]
                    await topics.sku_events.send(value=b"{}", partition=tp.partition, headers=nudge)
        except Exception as exc:  # a broker outage: look again next time
            log.warning("state watchdog skipped a round (%s)", exc)

    async def take(
        message: Any, clock: PartitionClock, slots_here: dict[str, SkuSlot], outbox: Outbox
    ) -> None:
        """Apply one record of the partition, unless the state already holds it."""
        if clock.place(message.offset) != "next":
            return
        clock.position = message.offset
        await receive(message, clock, slots_here, outbox)

    @app.agent(topics.sku_events, name="skus")
    async def skus(stream: faust.StreamT) -> None:
        async for events in batches(stream, s.stream_batch_size, within):
            metrics.BATCH_SIZE.labels(agent="skus").observe(len(events))
            tenure = ownership.begin()
            clocks_seen: dict[int, PartitionClock] = {}
            batch: dict[int, dict[str, SkuSlot]] = {}  # partition → sku → slot, written once per batch
            outbox = Outbox(app)  # settled after each phase below
            for event in events:
                if not tenure.holds(event.message.tp) or not tenure.steady:
                    continue  # its new owner reads it
                partition = event.message.partition
                clock = clocks_seen.get(partition) or load(clocks, f"p{partition}")
                clock = clocks_seen[partition] = clock or PartitionClock(sources, s.allowed_lateness_s)
                messages: list[Any] = [event.message]
                if clock.place(event.message.offset) == "gap":  # the stream is ahead of the state
                    start, topic = clock.position + 1, event.message.topic
                    log.warning("%s[%s]: state at offset %s, stream at %s; reading the stretch between",
                                topic, partition, start - 1, event.message.offset)  # fmt: skip
                    messages[:0] = await read_range(s, topic, partition, start, event.message.offset)
                for message in messages:
                    if not tenure.steady:
                        break
                    try:
                        await take(message, clock, batch.setdefault(partition, {}), outbox)
                    except Exception as exc:  # only a foreign writer could put such a message here
                        await send_dead_value(topics.dead_letters, Origin.of(message), message.value, exc,
                                              outbox)  # fmt: skip
            for partition, clock in clocks_seen.items():
                previous = clock.current
                watermark = clock.watermark()
                if watermark is not None and watermark != previous:
                    await advance(batch.setdefault(partition, {}), clock, watermark, outbox, tenure)
            # Outputs, then SKUs, then clocks, each stored before the next is written: restored state
            # never holds work whose outputs are missing, nor a clock ahead of its SKUs (see outbox).
            await outbox.settle()
            if not tenure.steady:
                continue  # store nothing: the clocks stay behind, and the input is read again
            for partition, slots_here in batch.items():
                for sku, current in slots_here.items():
                    await put(slots, partition, sku, current, outbox)
            await outbox.settle()
            if not tenure.steady:
                continue  # recovery may be restoring the tables: keep the clocks behind
            for partition, clock in clocks_seen.items():
                await put(clocks, partition, f"p{partition}", clock, outbox)
            await outbox.settle()
            for partition, clock in clocks_seen.items():  # after everything it led to is stored
                metrics.SOURCES_IDLE.labels(partition=str(partition)).set(clock.all_idle())
