"""Reading a stretch of one partition directly (the per-SKU agent's catch-up), on the real broker."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from kafka import KafkaProducer

from streams.contracts.topics import SKU_EVENTS
from streams.runtime.admin import aiokafka_config, client_config, ensure_topics
from streams.runtime.catchup import read_range
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
