"""The SKU path's wiring: forwarders of orders, stock and catalog onto ``sku-events``, the per-SKU
agent (its logic: :class:`streams.skus.processor.SkuProcessor`), and two timers.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping

import faust
from faust.types import TP

from streams import metrics
from streams.app import Flashsale
from streams.contracts.decoding import TooLarge
from streams.contracts.eventtime import EventTimePolicy, event_seconds
from streams.runtime.catchup import read_range
from streams.runtime.clock import PartitionClock
from streams.runtime.deadletters import record_limit, send_dead_letter
from streams.runtime.dedup import event_ids
from streams.runtime.faust_internals import committed_offsets, withhold_acks
from streams.runtime.forwarding import Control, Forwarder
from streams.runtime.ingest import batches, decode_batch
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import StateTable, load, state_table
from streams.runtime.tenure import Ownership, Tenure
from streams.skus.processor import SkuProcessor
from streams.skus.state import SKU_CLOCKS, SKU_SLOTS

log = logging.getLogger(__name__)
Agent = Callable[[faust.StreamT], Awaitable[None]]


def register(flashsale: Flashsale) -> None:
    """Register the forwarders, the per-SKU agent and their timers on ``flashsale.app``."""
    app, settings, topics = flashsale.app, flashsale.settings, flashsale.topics
    ownership = Ownership(app)
    for topic, kind in ((topics.orders, "order"), (topics.stock, "stock"), (topics.catalog, "catalog")):
        forwarder = Forwarder(topics.sku_events, settings.topic_partitions, settings.topic_prefix,
                              record_limit(app), read=functools.partial(read_range, settings))  # fmt: skip
        flashsale.forwarders[topic.get_topic_name()] = forwarder
        ownership.on_lost.append(forwarder.forget)
        app.agent(topic, name=f"forward-{kind}")(forwarding_agent(flashsale, forwarder, kind, ownership))

    @app.timer(interval=0.5)  # a partition is marked idle at the first tick after a fetch confirms it
    async def mark_idle_sources() -> None:
        for topic_name, forwarder in flashsale.forwarders.items():
            await forwarder.mark_idle(app, topic_name)

    clocks = state_table(app, "sku-clocks", SKU_CLOCKS)
    processor = SkuProcessor(settings, topics, state_table(app, "sku-slots", SKU_SLOTS), clocks,
                             lambda: Outbox(app), read_range)  # fmt: skip

    @app.agent(topics.sku_events, name="skus")
    async def skus(stream: faust.StreamT) -> None:
        async for events in batches(stream, settings.stream_batch_size, settings.stream_batch_wait_ms / 1000):
            metrics.BATCH_SIZE.labels(agent="skus").observe(len(events))
            await processor.process(events, await ownership.begin())

    app.timer(interval=5.0)(state_watchdog(flashsale, clocks))


def forwarding_agent(flashsale: Flashsale, forwarder: Forwarder, kind: str, ownership: Ownership) -> Agent:
    """The agent that forwards one source topic's good events to ``sku-events``."""
    settings, dead_letters = flashsale.settings, flashsale.topics.dead_letters
    event_time_policy = settings.event_time_policy()

    async def forward(stream: faust.StreamT) -> None:
        async for batch in batches(stream, settings.stream_batch_size, settings.stream_batch_wait_ms / 1000):
            tenure = await ownership.begin()
            events = [e for e in batch if tenure.holds(e.message.tp)]
            # The rest: their new owner's (this worker's too, when a rebalance gives them back): never
            # acknowledged, or a commit could pass them before they are read again (withhold_acks).
            withhold_acks(e for e in batch if not tenure.holds(e.message.tp))
            await forward_batch(forwarder, kind, events, tenure, committed_offsets(flashsale.app),
                                settings.topic_prefix, event_time_policy, dead_letters)  # fmt: skip

    return forward


async def forward_batch(
    forwarder: Forwarder,
    kind: str,
    events: list[faust.types.EventT],
    tenure: Tenure,
    committed: Mapping[TP, int | None],
    prefix: str,
    event_time_policy: EventTimePolicy,
    dead_letters: faust.TopicT,
) -> None:
    """Forward ``events`` in their partitions' order (:meth:`Forwarder.in_order`; bad ones: dead letters),
    then mark progress. A batch that fails (a send refused during an outage, a stretch that could not be
    read) is withheld: Faust would acknowledge it, and its records would be lost; the next batch of its
    partitions begins again at the group's commit, and so reads them first."""
    try:
        ordered = await forwarder.in_order(events, committed)
        decoded = await decode_batch(ordered, dead_letters, prefix, event_time_policy)
        good = {id(e): r for e, r in decoded}
        for event in ordered:
            record = good.get(id(event))
            event_time = event_seconds(record) if record is not None else None
            if record is not None and event_time is not None:
                try:
                    await forwarder.forward(event, kind, record.sku, event_time, event_ids(record))
                except TooLarge as exc:  # valid, but its copy cannot be sent: data, not a crash
                    await send_dead_letter(dead_letters, event, exc, forwarder.outbox)
            forwarder.seen(event, event_time)
        await forwarder.mark_progress(tenure.held)
        await forwarder.settle()
    except Exception as exc:
        log.warning("forwarding a batch of %s failed (%r); its records are read again", kind, exc)
        withhold_acks(events)
        forwarder.forget({e.message.tp for e in events})
        forwarder.outbox = Outbox()  # what it sent is read again: no later batch waits on it


def state_watchdog(flashsale: Flashsale, clocks: StateTable[PartitionClock]) -> Callable[[], Awaitable[None]]:
    """A timer that wakes the agent of a partition whose stream is ahead of its state while the state
    has not moved for a whole interval (a gap left by a rebalance, with nothing read after it): a
    nudge record makes the agent read the missing stretch."""
    app, sku_events = flashsale.app, flashsale.topics.sku_events
    stalled: dict[int, int] = {}  # partition → clock position at the watchdog's last look

    async def watch() -> None:
        name = sku_events.get_topic_name()
        try:
            for tp in app.consumer.assignment():
                if tp.topic != name or app.rebalancing:
                    continue
                clock = load(clocks, f"p{tp.partition}", tp.partition)
                applied = clock.position if clock is not None else -1
                position = await app.consumer.position(tp)
                was, stalled[tp.partition] = stalled.get(tp.partition), applied
                if was == applied and position is not None and position > applied + 1:
                    log.warning("%s[%s]: state at offset %s, stream at %s; nudging", name, tp.partition,
                                applied, position)  # fmt: skip
                    nudge = [("kind", Control.NUDGE.encode())]
                    await sku_events.send(value=b"{}", partition=tp.partition, headers=nudge)
        except Exception as exc:  # a broker outage: look again next time
            log.warning("state watchdog skipped a round (%s)", exc)

    return watch
