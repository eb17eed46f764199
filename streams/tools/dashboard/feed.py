"""What feeds the dashboard's state: the namespace's topics, read from their beginning, and group lag.

The reader is a group-less aiokafka consumer (nothing committed, no group joined, so workers never see
it); it resumes from where it was after a broker error. The lag probe compares the worker group's
committed offsets with the end of every partition the group consumes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as SyncPartition
from kafka.errors import KafkaError

from streams.contracts.topics import GROUP_TOPICS
from streams.runtime.admin import aiokafka_config, client_config, committed, partitions_of
from streams.settings import Settings
from streams.tools.dashboard.state import FED_TOPICS, DashboardState, Fed

RETRY_S = 2.0
LAG_INTERVAL_S = 2.0


class TopicsMissing(RuntimeError):
    """The namespace's topics do not exist (yet)."""


async def follow_topics(settings: Settings, state: DashboardState) -> None:
    """Fold every record of the namespace's topics into ``state``, forever; errors shown, retried."""
    names = {settings.topic(t): t for t in FED_TOPICS}
    positions: dict[TopicPartition, int] = {}
    while True:
        try:
            await _read(settings, names, state, positions)
        except (KafkaError, OSError, TopicsMissing) as exc:
            state.set_reader_error(f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(RETRY_S)


async def _read(
    settings: Settings, names: dict[str, str], state: DashboardState, positions: dict[TopicPartition, int]
) -> None:
    consumer = AIOKafkaConsumer(**aiokafka_config(settings), group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        partitions = await _partitions(settings, list(names))
        consumer.assign(partitions)
        for tp in partitions:
            if tp in positions:
                consumer.seek(tp, positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        state.set_reader_error(None)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                topic = names[tp.topic]
                for r in records:
                    state.fold(Fed(topic, r.key, r.value, r.timestamp, tuple(r.headers)))
                if records:
                    positions[tp] = records[-1].offset + 1
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, names: list[str]) -> list[TopicPartition]:
    found = await asyncio.to_thread(partitions_of, settings, names, 5)
    missing = [n for n, parts in found.items() if not parts]
    if missing:
        raise TopicsMissing(f"waiting for topics {', '.join(missing)} (`flashsale topics` creates them)")
    return [TopicPartition(n, p) for n, parts in found.items() for p in parts]


class GroupLag:
    """Committed vs end offsets of a consumer group over the topics it consumes (blocking calls)."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings, self.group = settings, group
        self.names = {settings.topic(t): t for t in GROUP_TOPICS}
        self._clients: tuple[KafkaAdminClient, KafkaConsumer] | None = None

    def measure(self) -> dict[str, Any]:
        """``{"group", "total", "by_topic": {topic: lag}, "committed": any offsets yet}``."""
        try:
            admin, consumer = self._clients or self._connect()
            tps = [
                SyncPartition(name, p)
                for name in self.names
                for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            ends, done = consumer.end_offsets(tps), committed(admin, self.group, tps)
        except Exception:
            self.close()  # connect afresh next time
            raise
        by_topic = dict.fromkeys(self.names.values(), 0)
        for tp in tps:
            by_topic[self.names[tp.topic]] += max(ends[tp] - done[tp], 0)
        total = sum(by_topic.values())
        return {"group": self.group, "total": total, "by_topic": by_topic, "committed": any(done.values())}

    def _connect(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        config = client_config(self.settings)
        admin = KafkaAdminClient(**config, client_id="flashsale-dashboard")
        self._clients = (admin, KafkaConsumer(**config, group_id=None, enable_auto_commit=False))
        return self._clients

    def close(self) -> None:
        if self._clients is not None:
            for client in self._clients:
                client.close()
            self._clients = None


async def follow_lag(settings: Settings, state: DashboardState, group: str) -> None:
    """Measure ``group``'s lag every ``LAG_INTERVAL_S`` into ``state`` (an error is shown, retried)."""
    probe = GroupLag(settings, group)
    try:
        while True:
            try:
                state.set_lag(await asyncio.to_thread(probe.measure))
            except (KafkaError, OSError) as exc:
                state.set_lag({"group": group, "error": f"{type(exc).__name__}: {exc}"[:300]})
            await asyncio.sleep(LAG_INTERVAL_S)
    finally:
        await asyncio.to_thread(probe.close)
