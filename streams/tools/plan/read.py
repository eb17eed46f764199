"""``flashsale plan``, step 1: read the history the stream kept, the way ``replay`` reads a range.

``sku-status`` records stamped in [FROM, TO) (each partition's range found with ``offsets_for_times``,
read by a group-less consumer that commits nothing) and the ``catalog`` (every SKU's latest version
stamped before TO: category, base price, campaign) become a :class:`models.plan.history.History`.
``sku-status`` is compacted: a stretch the broker has compacted keeps one record per SKU, which the
history leaves out as a gap (the interval is too long to say when in the day its units sold).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from models.plan.history import History, from_status
from streams.contracts.topics import CATALOG, SKU_STATUS
from streams.settings import Settings
from streams.tools.replay.copy import consumer_for, epoch_ms, read


class PlanError(ValueError):
    """A plan that cannot be made; the message is one line for the user."""


def _records(
    settings: Settings, topic: str, from_ts: datetime | None, to_ts: datetime | None
) -> Iterator[ConsumerRecord]:
    """``topic``'s records stamped in [from, to) (None: unbounded), partition by partition."""
    consumer = consumer_for(settings)
    try:
        if topic not in consumer.topics():
            raise PlanError(f"topic {topic!r} does not exist: no history to plan from")
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        starts, stops = dict(begins), dict(ends)
        if from_ts is not None:
            found = consumer.offsets_for_times(dict.fromkeys(tps, epoch_ms(from_ts)))
            starts = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in tps}
        if to_ts is not None:
            found = consumer.offsets_for_times(dict.fromkeys(tps, epoch_ms(to_ts)))
            stops = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in tps}
        for tp in tps:
            yield from read(consumer, tp, starts[tp], stops[tp])
    finally:
        consumer.close()


def _decoded(record: ConsumerRecord, topic: str) -> dict[str, Any] | None:
    """The record's JSON value; None for a tombstone; PlanError for a value that is not JSON."""
    if record.value is None:
        return None
    try:
        value = json.loads(record.value)
    except ValueError:
        raise PlanError(f"{topic}/{record.partition}@{record.offset} is not JSON") from None
    if not isinstance(value, dict) or "sku" not in value:
        raise PlanError(f"{topic}/{record.partition}@{record.offset} has no sku")
    return value


def read_catalog(settings: Settings, to_ts: datetime | None) -> dict[str, dict[str, Any]]:
    """Each SKU's latest catalog value stamped before ``to_ts`` (a tombstone removes the SKU)."""
    topic = settings.topic(CATALOG)
    latest: dict[str, tuple[int, dict[str, Any] | None]] = {}
    for record in _records(settings, topic, None, to_ts):
        value = _decoded(record, topic)
        sku = value["sku"] if value is not None else (record.key or b"").decode()
        if latest.get(sku, (-1, None))[0] <= record.timestamp:
            latest[sku] = (record.timestamp, value)
    return {sku: value for sku, (_, value) in latest.items() if value is not None}


def read_history(
    settings: Settings,
    from_ts: datetime | None = None,
    to_ts: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> History:
    """The history of ``sku-status`` in [from, to) with the catalogue; PlanError when there is none."""
    topic = settings.topic(SKU_STATUS)
    statuses, stamps = [], []
    for n, record in enumerate(_records(settings, topic, from_ts, to_ts), start=1):
        value = _decoded(record, topic)
        if value is not None:
            statuses.append(value)
            stamps.append(record.timestamp / 1000.0)
        if progress is not None and n % 10_000 == 0:
            progress(n)
    first, last = from_ts.isoformat() if from_ts else "the start", to_ts.isoformat() if to_ts else "the end"
    span = f" from {first} to {last}"
    if not statuses:
        raise PlanError(f"no sku-status records{span} on {topic!r}: nothing to learn demand from")
    catalog = read_catalog(settings, to_ts)
    if not catalog:
        raise PlanError(f"no catalog records on {settings.topic(CATALOG)!r}: categories and prices unknown")
    history = from_status(statuses, catalog, stamps)
    if not len(history.units):
        raise PlanError(
            f"the {len(statuses)} sku-status records{span} hold no interval with stock to learn from"
        )
    return history
