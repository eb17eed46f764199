"""The sends of one batch, settled (stored by the broker) before the batch is acknowledged.

Faust commits acknowledged input offsets on a timer and does not wait for the producer's own
queue, so a worker killed right after a commit would lose records it had only queued. Every agent
therefore collects the deliveries of what a batch sends and settles them before it takes the next
batch. An agent that also writes table state settles its outputs *first*: state then never records
work whose outputs the broker may not have, and a crash in between only makes the batch run again,
re-sending the same records under the same deterministic ids (at-least-once, deduplicated downstream).

Table state is *staged* with its changelog record (:meth:`Outbox.stage`) and reaches the worker's
local store only once that record is stored, and only if the caller's ``keep_state`` still holds
then (no rebalance began meanwhile): a table recovery running alongside could otherwise overwrite
the newer local value with an older changelog one, and the input that made it would be lost.

Records an agent sends by the hundred per batch (recommendations, table state) are already bytes:
:meth:`Outbox.send_bytes` packs them into one Kafka record batch per partition, sent on
:meth:`Outbox.settle`, instead of one Faust send each. Faust's per-message send path (serialisers,
futures, callbacks) cost more than the agents' own work; a batch is one request and one future.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from streams.runtime.faust_internals import kafka_producer

_partitioner = DefaultPartitioner()  # the one aiokafka (and so Faust) uses for keyed sends

Stored = Mapping[tuple[str, int], int]  # (topic, partition) → an offset the broker has stored there
Writes = dict[tuple[int, str], bytes]  # (partition, key) → encoded value


class LocalState(Protocol):
    """Where staged state goes once its changelog records are stored (a state table)."""

    def store(self, writes: Writes, stored: Stored) -> None: ...


def _always() -> bool:
    return True


class Outbox:
    """Deliveries not yet confirmed by the broker, and record batches not yet sent.

    ``app`` is needed for :meth:`send_bytes` only: its Kafka producer sends the record batches.
    """

    def __init__(self, app: faust.App | None = None) -> None:
        self._pending: list[Awaitable[Any]] = []
        self._app = app
        self._open: dict[tuple[str, int], Any] = {}  # (topic, partition) → aiokafka BatchBuilder
        self._partitions: dict[str, list[int]] = {}
        self._staged: dict[LocalState, Writes] = {}

    async def send(self, topic: faust.TopicT, **kwargs: Any) -> None:
        """``topic.send(**kwargs)``, its delivery kept for :meth:`settle`."""
        self.add(await topic.send(**kwargs))

    async def send_bytes(
        self,
        topic: str,
        *,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Add a serialised record to ``topic``'s batch for ``partition`` (default: the key's, as Faust
        partitions it); sent by :meth:`settle`, or earlier when the batch is full. ``timestamp`` is
        epoch seconds (default: now). Records of one partition keep their order."""
        producer = self._producer()
        if partition is None:
            if key is None:
                raise ValueError("send_bytes needs a key or a partition")
            partition = await self._partition_of(producer, topic, key)
        stamp = None if timestamp is None else int(timestamp * 1000)
        record = {"timestamp": stamp, "key": key, "value": value, "headers": list(headers)}
        where = (topic, partition)
        batch = self._open.get(where)
        if batch is not None and batch.append(**record) is not None:
            return
        if batch is not None:  # full: send it, start the next
            await self._submit(producer, where, batch)
        batch = self._open[where] = producer.create_batch()
        if batch.append(**record) is None:
            raise ValueError(f"a record of {len(value)} bytes does not fit in a producer batch")

    def add(self, delivery: Awaitable[Any]) -> None:
        self._pending.append(delivery)

    def stage(self, table: LocalState, partition: int, key: str, value: bytes) -> None:
        """Hand ``value`` to ``table``'s local store at the next :meth:`settle` (its changelog record
        must be sent through this outbox first)."""
        self._staged.setdefault(table, {})[partition, key] = value

    def __len__(self) -> int:
        return len(self._pending) + len(self._open)

    async def settle(self, *, keep_state: Callable[[], bool] = _always) -> None:
        """Wait until the broker has stored everything sent so far (raises if a send failed), then
        store the staged state locally if ``keep_state()`` says so (asked after the last wait)."""
        stored = await self.deliver()
        staged, self._staged = self._staged, {}
        if staged and keep_state():
            for table, writes in staged.items():
                table.store(writes, stored)

    async def deliver(self) -> Stored:
        """Send what is open and wait for every delivery; the highest offset stored per partition."""
        if self._open:
            producer = self._producer()
            for where, batch in list(self._open.items()):
                await self._submit(producer, where, batch)
        pending, self._pending = self._pending, []
        stored: dict[tuple[str, int], int] = {}
        for metadata in await asyncio.gather(*pending):
            offset = getattr(metadata, "offset", None)
            if offset is not None:
                where = (metadata.topic, metadata.partition)
                stored[where] = max(offset, stored.get(where, -1))
        return stored

    def _producer(self) -> AIOKafkaProducer:
        if self._app is None:
            raise RuntimeError("send_bytes needs an Outbox(app)")
        return kafka_producer(self._app)

    async def _partition_of(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return int(_partitioner(key, partitions, partitions))

    async def _submit(self, producer: AIOKafkaProducer, where: tuple[str, int], batch: Any) -> None:
        del self._open[where]
        topic, partition = where
        count = batch.record_count()
        self.add(_last_record(await producer.send_batch(batch, topic, partition=partition), count))


class Delivered(NamedTuple):
    topic: str
    partition: int
    offset: int


async def _last_record(delivery: Awaitable[Any], count: int) -> Delivered:
    """Where the last of a record batch's ``count`` records was stored (the broker answers the first)."""
    metadata = await delivery
    return Delivered(metadata.topic, metadata.partition, metadata.offset + count - 1)
