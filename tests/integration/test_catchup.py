"""Reading a stretch of one partition directly (the per-SKU and user agents' catch-up), on the real
broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from kafka import KafkaProducer

from streams.contracts.records import Click
from streams.contracts.topics import CLICKS, SKU_EVENTS
from streams.runtime.admin import aiokafka_config, client_config, ensure_topics
from streams.runtime.catchup import ReadEvent, read_range
from streams.runtime.ingest import decode_in_order
from streams.settings import Settings

pytestmark = pytest.mark.integration


def produce(settings: Settings, topic: str, partition: int, count: int) -> None:
    producer = KafkaProducer(**client_config(settings), acks="all")
    for i in range(count):
        producer.send(topic, value=f"r{i}".encode(), partition=partition)
    producer.flush()
    producer.close()


async def test_read_range_returns_exactly_the_stretch_asked_for(settings: Settings) -> None:
    ensure_topics(settings)
    topic = settings.topic(SKU_EVENTS)
    produce(settings, topic, 1, 20)

    middle = await read_range(settings, topic, 1, 5, 12)
    assert [(r.offset, r.value) for r in middle] == [(i, f"r{i}".encode()) for i in range(5, 12)]
    tail = await read_range(settings, topic, 1, 15, 99)  # a stop beyond the end: up to the end
    assert [r.offset for r in tail] == list(range(15, 20))
    assert await read_range(settings, topic, 0, 0, 10) == []  # an empty partition: nothing, at once


async def test_read_range_starts_where_retention_left_the_partition(settings: Settings) -> None:
    """A fresh state reads its partition "from offset 0": records already deleted are skipped."""
    ensure_topics(settings)
    topic = settings.topic(SKU_EVENTS)
    produce(settings, topic, 2, 10)
    admin = AIOKafkaAdminClient(**aiokafka_config(settings))
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 2): RecordsToDelete(before_offset=4)})
    finally:
        await admin.close()

    assert [r.offset for r in await read_range(settings, topic, 2, 0, 8)] == [4, 5, 6, 7]


async def test_a_stretch_read_directly_decodes_as_the_streams_events_do(settings: Settings) -> None:
    """The user agents take a stretch they read themselves through the same decoder: an event where it
    was, with its record, and a refused one (no valid click) with None."""
    ensure_topics(settings)
    topic = settings.topic(CLICKS)
    at = datetime(2026, 11, 11, 12, tzinfo=UTC)
    click = Click(event_id="e1", user_id="u1", action="click", sku="A", ts=at)
    producer = KafkaProducer(**client_config(settings), acks="all")
    for value in (click.dumps(), b"{not json"):
        producer.send(topic, key=b"u1", value=value, partition=3, timestamp_ms=int(at.timestamp() * 1000))
    producer.flush()
    producer.close()

    events = [ReadEvent.of(r) for r in await read_range(settings, topic, 3, 0, 2)]
    decoded = await decode_in_order(events, None, settings.topic_prefix, settings.event_time_policy())  # type: ignore[arg-type]
    assert [(e.message.tp, e.message.offset, e.message.timestamp) for e, _ in decoded] == [
        ((topic, 3), 0, at.timestamp()), ((topic, 3), 1, at.timestamp())
    ]  # fmt: skip
    assert decoded[0][1] == click and decoded[1][1] is None
