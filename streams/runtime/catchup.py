"""Read a stretch of one partition directly: records a restored state has not applied yet.

Faust's table recovery can leave a state older than the offset its stream resumes from (it replays
changelogs while a batch may still be writing). The per-SKU agent then reads the missing stretch
itself with a group-less consumer, rather than moving Faust's own consumer under it.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.runtime.admin import aiokafka_config
from streams.settings import Settings


async def read_range(
    settings: Settings, topic: str, partition: int, start: int, stop: int, timeout_s: float = 60
) -> list[ConsumerRecord]:
    """The records of ``topic[partition]`` at offsets ``start`` ≤ offset < ``stop``, in order (those
    retention has not deleted yet)."""
    consumer = AIOKafkaConsumer(**aiokafka_config(settings), group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, max(start, (await consumer.beginning_offsets([tp]))[tp]))
        stop = min(stop, (await consumer.end_offsets([tp]))[tp])
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while await consumer.position(tp) < stop:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}[{partition}]: could not read offsets {start}..{stop - 1}")
            fetched = await consumer.getmany(tp, timeout_ms=500)
            records += [r for r in fetched.get(tp, []) if r.offset < stop]
        return records
    finally:
        await consumer.stop()
