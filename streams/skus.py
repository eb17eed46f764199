"""Per-SKU agent family: stock and catalog forwarding, and the per-SKU state that makes decisions.

``sku-events`` carries orders, stock and catalog events re-keyed by sku, plus event-time marks.
Each SKU keeps an inbox (events received but not yet behind the watermark, and the last source
offset received per source partition, so redelivered events are dropped) and a model state
(:class:`models.sku_state.SkuState`). Events are applied in event-time order once the watermark
passes them; buckets that close emit restock and discount decisions with deterministic ids.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import EventT

from models.sku_state import Decision, SkuPolicy, SkuState
from streams import metrics
from streams.app import Flashsale
from streams.clock import KIND_RANK, Inbox, PartitionClock, expected_sources
from streams.deadletters import send_dead_letter
from streams.forwarding import MARK, Forwarder
from streams.ingest import batches, decode_batch
from streams.records import DiscountAdjustment, Restock
from streams.settings import Settings
from streams.tablestate import load, put, settle, state_table
from streams.topics import CATALOG, ORDERS, STOCK


def _header(event: EventT, name: str) -> str:
    headers = event.message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


def _timestamp(record: Any) -> float:
    return float((getattr(record, "ts", None) or record.updated_at).timestamp())


def sku_policy(settings: Settings) -> SkuPolicy:
    """The per-SKU decision knobs from settings (the stream and in-process evaluation share it)."""
    return SkuPolicy(
        bucket_minutes=settings.bucket_minutes,
        service_level=settings.service_level,
        max_discount_step=settings.discount_max_step,
        discount_cooldown_minutes=settings.discount_cooldown_minutes,
        season_buckets=max(settings.forecast_season_minutes // settings.bucket_minutes, 1),
    )


@dataclass
class SkuSlot:
    """All state of one SKU in one table value, so that a crash can never split it."""

    inbox: Inbox
    state: SkuState


def register(fs: Flashsale) -> None:
    """Register stock/catalog forwarding and the per-SKU agent on ``fs.app``."""
    app, s, topics = fs.app, fs.settings, fs.topics
    within = s.stream_batch_wait_ms / 1000
    slots = state_table(app, "sku-slots")
    clocks = state_table(app, "sku-clocks")
    sources = expected_sources((ORDERS, STOCK, CATALOG), s.topic_partitions)
    policy = sku_policy(s)

    def new_slot(sku: str) -> SkuSlot:
        return SkuSlot(Inbox(), SkuState(sku, policy))

    def forwarding_agent(topic: faust.TopicT, kind: str) -> None:
        forwarder = Forwarder(topics.sku_events, s.topic_partitions, s.topic_prefix)
        fs.forwarders[topic.get_topic_name()] = forwarder

        async def forward(stream: faust.StreamT) -> None:
            async for events in batches(stream, s.stream_batch_size, within):
                good = {id(e): r for e, r in await decode_batch(events, topics.dead_letters, s.topic_prefix)}
                for event in events:
                    record = good.get(id(event))
                    event_time = _timestamp(record) if record is not None else None
                    if record is not None and event_time is not None:
                        await forwarder.forward(event, kind, record.sku, event_time)
                    forwarder.seen(event, event_time)
                await forwarder.mark_progress()

        app.agent(topic, name=f"forward-{kind}")(forward)

    forwarding_agent(topics.orders, "order")
    forwarding_agent(topics.stock, "stock")
    forwarding_agent(topics.catalog, "catalog")

    @app.timer(interval=1.0)
    async def mark_idle_sources() -> None:
        for topic, forwarder in fs.forwarders.items():
            await forwarder.mark_idle(app, topic)

    async def emit(decision: Decision) -> None:
        topic, record = (
            (topics.restock, Restock(**decision.fields))
            if decision.kind == "restock"
            else (topics.discounts, DiscountAdjustment(**decision.fields))
        )
        await topic.send(key=decision.sku, value=record, timestamp=decision.ts.timestamp())
        metrics.EVENTS_OUT.labels(topic=topic.get_topic_name()).inc()

    async def advance(batch: dict[str, SkuSlot], clock: PartitionClock, watermark: float) -> None:
        """Apply each SKU's due events in order and close its buckets behind ``watermark``."""
        for sku in sorted(clock.skus):
            current = batch.get(sku) or load(slots, sku) or new_slot(sku)
            decisions: list[Decision] = []
            closed_before = current.state.closed_buckets
            due = current.inbox.due(watermark)
            for event_time, _rank, _source, _offset, value in due:
                decisions += current.state.advance(event_time)
                current.state.apply(json.loads(value), event_time)
            decisions += current.state.advance(watermark)
            for decision in decisions:
                await emit(decision)
            if current.state.closed_buckets != closed_before:  # every worker's recommendations see it
                status = json.dumps(current.state.status()).encode()
                await topics.sku_status.send(key=sku.encode(), value=status, timestamp=watermark)
            if due or current.state.closed_buckets != closed_before:
                batch[sku] = current  # changed: written back once at the end of the batch

    def receive(event: EventT, clock: PartitionClock, slots_here: dict[str, SkuSlot]) -> None:
        """Take a mark into the clock, or queue an event in its SKU's inbox."""
        value = event.message.value or b""
        if _header(event, "kind") == MARK:
            mark = json.loads(value)
            clock.mark(mark["source"], float(mark["time"]), bool(mark["idle"]))
            return
        kind, source = _header(event, "kind"), _header(event, "source")
        offset, event_time = int(_header(event, "source_offset")), float(_header(event, "event_time"))
        sku = (event.message.key or b"").decode()
        if not sku or kind not in KIND_RANK:
            raise ValueError(f"not a forwarded event: kind={kind!r} sku={sku!r}")
        current = slots_here.get(sku) or load(slots, sku) or new_slot(sku)
        slots_here[sku] = current
        clock.skus.add(sku)
        current.inbox.accept(source, offset, event_time, kind, value)

    @app.agent(topics.sku_events, name="skus")
    async def skus(stream: faust.StreamT) -> None:
        async for events in batches(stream, s.stream_batch_size, within):
            metrics.BATCH_SIZE.labels(agent="skus").observe(len(events))
            clocks_seen: dict[int, PartitionClock] = {}
            deliveries: list[Awaitable[Any]] = []
            batch: dict[int, dict[str, SkuSlot]] = {}  # partition → sku → slot, written once per batch
            for event in events:
                partition = event.message.partition
                clock = clocks_seen.get(partition) or load(clocks, f"p{partition}")
                clock = clocks_seen[partition] = clock or PartitionClock(sources, s.allowed_lateness_s)
                try:
                    receive(event, clock, batch.setdefault(partition, {}))
                except Exception as exc:  # only a foreign writer could put such a message here
                    await send_dead_letter(topics.dead_letters, event, exc)
            for partition, clock in clocks_seen.items():
                previous = clock.current
                watermark = clock.watermark()
                slots_here = batch.setdefault(partition, {})
                if watermark is not None and watermark != previous:
                    await advance(slots_here, clock, watermark)
                for sku, current in slots_here.items():
                    deliveries.append(await put(slots, partition, sku, current))
                deliveries.append(await put(clocks, partition, f"p{partition}", clock))
            await settle(deliveries)
