"""Replay, step 1: find a time range on the live input topics and copy exactly those records.

The range of each partition is found with ``offsets_for_times``: from the first record stamped at or
after FROM to the first stamped at or after TO (half-open, so back-to-back ranges never overlap).
Records are copied with their key, value, headers and Kafka timestamp into the *same partition* of
``<namespace>.<topic>``, by a group-less consumer (nothing is ever committed for the live group).
``catalog`` is a compacted table: its copy starts with the latest version of each SKU before FROM,
so a replay from the middle of a sale still knows the items and their campaigns.

The manifest (the compacted topic ``<namespace>.replay-manifest``) records the resolved ranges before
anything is copied; a destination partition's end offset then says how many of its planned records
landed, so an interrupted copy resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streams.contracts.topics import CATALOG, INPUT_TOPICS
from streams.runtime.admin import client_config, message_limits
from streams.settings import Settings

MANIFEST = "replay-manifest"
MANIFEST_KEY = b"manifest"
STALL_S = 30.0  # a read that makes no progress for this long is an error, not a hang


class ReplayError(ValueError):
    """A replay that cannot start or go on; the message is one line for the user."""


@dataclass
class PartitionRange:
    """Source offsets of one partition: ``snapshot`` (catalog state before FROM), then [start, end)."""

    start: int
    end: int
    snapshot: list[int] = field(default_factory=list)


@dataclass
class Manifest:
    """What a replay namespace holds: the request, the resolved ranges and how far it got."""

    namespace: str
    source_prefix: str
    from_ts: str
    to_ts: str
    topics: list[str]
    partitions: int
    ranges: dict[str, list[PartitionRange]]
    model_path: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    state: str = "copying"  # copying → copied → done
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        """Records to copy at most (compaction gaps inside a range make the real count lower)."""
        return sum(len(r.snapshot) + r.end - r.start for rs in self.ranges.values() for r in rs)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        data["ranges"] = {t: [PartitionRange(**r) for r in rs] for t, rs in data["ranges"].items()}
        return cls(**data)


def epoch_ms(ts: datetime) -> int:
    return round(ts.astimezone(UTC).timestamp() * 1000)


def consumer_for(settings: Settings) -> KafkaConsumer:
    """A group-less consumer: it can read anything and commit nothing."""
    return KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)


def source_partitions(consumer: KafkaConsumer, live: Settings, topics: list[str]) -> int:
    """The partition count shared by the live input topics (the per-SKU watermark expects all of them)."""
    existing = consumer.topics()
    for topic in topics:
        if live.topic(topic) not in existing:
            raise ReplayError(f"topic {live.topic(topic)!r} does not exist: nothing to replay from it")
    counts = {
        t: len(consumer.partitions_for_topic(live.topic(t)) or ())
        for t in INPUT_TOPICS
        if live.topic(t) in existing
    }
    if len(set(counts.values())) != 1:
        raise ReplayError(f"input topics differ in partition count ({counts}); a replay needs them equal")
    return counts[topics[0]]


def resolve_ranges(
    live: Settings, topics: list[str], from_ts: datetime, to_ts: datetime
) -> tuple[int, dict[str, list[PartitionRange]]]:
    """``(partitions, {topic: [range of partition 0, 1, …]})`` of records stamped in [from, to)."""
    consumer = consumer_for(live)
    try:
        partitions = source_partitions(consumer, live, topics)
        tps = [TopicPartition(live.topic(t), p) for t in topics for p in range(partitions)]
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        starts = consumer.offsets_for_times(dict.fromkeys(tps, epoch_ms(from_ts)))
        stops = consumer.offsets_for_times(dict.fromkeys(tps, epoch_ms(to_ts)))
        ranges: dict[str, list[PartitionRange]] = {}
        for topic in topics:
            for tp in (TopicPartition(live.topic(topic), p) for p in range(partitions)):
                start = starts[tp].offset if starts[tp] is not None else ends[tp]
                stop = stops[tp].offset if stops[tp] is not None else ends[tp]
                snapshot = latest_versions(consumer, tp, begins[tp], start) if topic == CATALOG else []
                ranges.setdefault(topic, []).append(PartitionRange(start, max(start, stop), snapshot))
    finally:
        consumer.close()
    if all(r.end == r.start for rs in ranges.values() for r in rs):
        span = f"from {from_ts.isoformat()} to {to_ts.isoformat()}"
        raise ReplayError(f"empty range: no records {span} on {', '.join(topics)}")
    return partitions, ranges


def read(consumer: KafkaConsumer, tp: TopicPartition, start: int, end: int) -> Iterator[ConsumerRecord]:
    """The records of ``tp`` in [start, end), in offset order."""
    if start >= end:
        return
    consumer.assign([tp])
    if consumer.beginning_offsets([tp])[tp] > start:
        raise ReplayError(f"{tp.topic}/{tp.partition}: offsets from {start} were deleted (retention)")
    consumer.seek(tp, start)
    last_progress = time.monotonic()
    while consumer.position(tp) < end:
        records = consumer.poll(timeout_ms=500, max_records=5000).get(tp, [])
        if records:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_S:
            raise ReplayError(f"{tp.topic}/{tp.partition}: no records after offset {consumer.position(tp)}")
        yield from (r for r in records if r.offset < end)


def latest_versions(consumer: KafkaConsumer, tp: TopicPartition, begin: int, start: int) -> list[int]:
    """Offsets (before ``start``) of the latest version of each key; deleted keys (tombstones) left out."""
    latest: dict[bytes | None, int] = {}
    for record in read(consumer, tp, begin, start):
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.offset
    return sorted(latest.values())


def planned_records(
    consumer: KafkaConsumer, tp: TopicPartition, planned: PartitionRange, skip: int
) -> Iterator[ConsumerRecord]:
    """The partition's planned records after the first ``skip`` (those already copied)."""
    snapshot = planned.snapshot[skip:]
    if snapshot:
        wanted = set(snapshot)
        yield from (r for r in read(consumer, tp, snapshot[0], planned.start) if r.offset in wanted)
    skip = max(skip - len(planned.snapshot), 0)
    for record in read(consumer, tp, planned.start, planned.end):
        if skip:
            skip -= 1
            continue
        yield record


def write_manifest(live: Settings, manifest: Manifest) -> None:
    """Store ``manifest`` as the latest value of the namespace's manifest topic."""
    producer = KafkaProducer(**client_config(live), acks="all")
    try:
        topic = f"{manifest.namespace}.{MANIFEST}"
        producer.send(topic, key=MANIFEST_KEY, value=manifest.to_json(), partition=0).get(timeout=30)
    finally:
        producer.close()


def read_manifest(live: Settings, namespace: str) -> Manifest | None:
    """The namespace's manifest, or None when it has none."""
    consumer = consumer_for(live)
    try:
        tp = TopicPartition(f"{namespace}.{MANIFEST}", 0)
        if tp.topic not in consumer.topics():
            return None
        end = consumer.end_offsets([tp])[tp]
        begin = consumer.beginning_offsets([tp])[tp]
        values = [r.value for r in read(consumer, tp, begin, end) if r.key == MANIFEST_KEY and r.value]
        return Manifest.from_json(values[-1]) if values else None
    finally:
        consumer.close()


def topic_size(settings: Settings, topic: str) -> int:
    """Messages in ``topic`` now (0 when it does not exist)."""
    consumer = consumer_for(settings)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return 0
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        consumer.close()


def copy_records(live: Settings, manifest: Manifest, progress: Callable[[int], None]) -> int:
    """Copy the manifest's planned records that are not in the namespace yet; returns all copied."""
    consumer = consumer_for(live)
    producer = KafkaProducer(
        **client_config(live), acks="all", enable_idempotence=True, linger_ms=20, batch_size=1 << 18,
        max_request_size=copy_request_size(live, manifest),
    )  # fmt: skip
    try:
        targets = {
            (t, p): TopicPartition(f"{manifest.namespace}.{t}", p)
            for t in manifest.topics
            for p in range(manifest.partitions)
        }
        landed = consumer.end_offsets(list(targets.values()))
        progress(sum(landed.values()))
        for (topic, p), target in targets.items():
            planned = manifest.ranges[topic][p]
            if landed[target] > len(planned.snapshot) + planned.end - planned.start:
                raise ReplayError(f"{target.topic}/{p} holds more than was planned: restart with --overwrite")
            source = TopicPartition(live.topic(topic), p)
            futures = []
            for record in planned_records(consumer, source, planned, landed[target]):
                headers = list(record.headers or [])
                futures.append(
                    producer.send(
                        target.topic,
                        key=record.key,
                        value=record.value,
                        headers=headers,
                        partition=p,
                        timestamp_ms=record.timestamp,
                    )
                )
                if len(futures) >= 10_000:
                    progress(_confirm(producer, futures))
            progress(_confirm(producer, futures))
        return sum(consumer.end_offsets(list(targets.values())).values())
    finally:
        producer.close()
        consumer.close()


def copy_request_size(live: Settings, manifest: Manifest) -> int:
    """A request size that fits any record the replayed live topics accept (their ``max.message.bytes``,
    which the namespace's copies share), at least the client's default."""
    admin = KafkaAdminClient(**client_config(live), client_id="flashsale-replay")
    try:
        limits = message_limits(admin, [live.topic(t) for t in manifest.topics])
    finally:
        admin.close()
    return max([1 << 20, *(limit + 1024 for limit in limits.values())])


def _confirm(producer: KafkaProducer, futures: list[Any]) -> int:
    """Wait until the broker has every record sent; raises the first failure; returns how many."""
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    count = len(futures)
    futures.clear()
    return count
