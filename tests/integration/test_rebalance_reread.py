"""What a rebalance does to a partition this member keeps, on the real broker (aiokafka, as Faust runs it).

``streams.runtime.tenure`` rests on this: every rebalance makes a fresh assignment, so the fetch position
of a partition kept through it goes back to its commit, or to the log's start if the group never
committed it. Records fetched before the rebalance therefore come again, in order, in every partition.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from kafka.admin import KafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration


class Assignments(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.assigned: list[set[TopicPartition]] = []

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.append(set(assigned))


async def read_some(consumer: AIOKafkaConsumer, tp: TopicPartition, at_least: int) -> list[int]:
    offsets: list[int] = []
    for _ in range(100):
        batch = await consumer.getmany(tp, timeout_ms=200, max_records=at_least - len(offsets))
        offsets += [r.offset for r in batch.get(tp, [])]
        if len(offsets) >= at_least:
            return offsets
    raise AssertionError(f"read {len(offsets)} of {at_least} records of {tp}")


async def test_a_kept_partition_is_read_again_from_its_commit_or_start(kafka_bootstrap: str) -> None:
    topic, group = f"reread-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    for partition in range(4):
        for i in range(50):
            await producer.send(topic, f"{partition}-{i}".encode(), partition=partition)
    await producer.stop()

    def member() -> tuple[AIOKafkaConsumer, Assignments]:
        listener = Assignments()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=10,
        )  # fmt: skip
        consumer.subscribe([topic], listener=listener)
        return consumer, listener

    first, first_seen = member()
    await first.start()
    second, second_seen = member()
    try:
        tps = [TopicPartition(topic, p) for p in range(4)]
        for tp in tps:
            assert await read_some(first, tp, 20) == list(range(20))
        committed = {tp: 10 for tp in tps[2:]}  # partitions 2 and 3 have a commit, 0 and 1 never had one
        await first.commit(committed)

        await second.start()
        after: dict[TopicPartition, list[int]] = {tp: [] for tp in tps}  # what the first member got since
        for _ in range(100):  # both members poll until the rebalance has given each a share
            got, _ = await asyncio.gather(first.getmany(timeout_ms=100), second.getmany(timeout_ms=100))
            if len(first_seen.assigned) >= 2:
                for tp, records in got.items():
                    after[tp] += [r.offset for r in records]
            if second_seen.assigned and len(first_seen.assigned) >= 2:
                break
        kept = first_seen.assigned[-1]
        assert len(kept) == 2 and len(second_seen.assigned[-1]) == 2  # one of each kind (round robin)
        for tp in kept:
            after[tp] += await read_some(first, tp, 5)
            start = committed.get(tp, 0)  # the commit, or the log's start
            assert after[tp][0] == start, f"{tp} went on from {after[tp][0]}, not from {start}"
        assert {committed.get(tp, 0) for tp in kept} == {0, 10}
    finally:
        await asyncio.gather(first.stop(), second.stop())
