"""Faust tables of encoded state (:mod:`streams.runtime.codec`), read and written per named partition.

A Faust table writes its changelog to the partition of the *current* event, and its RocksDB store
picks the database by it; in a batch (``take_events``) that is not the event a key belongs to, so
batch agents name the partition. Tables are declared with ``value_type=bytes``: the changelog carries
exactly the codec's bytes, and the local store (memory or RocksDB) holds the same bytes.

A write is a changelog record first; the value reaches the local store once the broker has stored
that record (see :meth:`streams.runtime.outbox.Outbox.settle`), with the record's offset as the
store's *persisted offset*: a worker restarted on its data directory then reads only the changelog
after it, not the whole changelog.

On recovery every changelog value is decoded before it is taken: one that does not decode is refused
— logged with its topic, partition and offset, counted in ``flashsale_state_refused_total`` — and the
key keeps what it held before. Records taken are counted in ``flashsale_state_restored_total`` (recovery
of the partitions a worker holds) or ``flashsale_state_standby_total`` (standby copies kept for others).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import faust
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP, EventT
from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, WriteBufferManager

from streams import metrics
from streams.runtime.admin import COMPACT_DURING_SALE
from streams.runtime.codec import StateCodec, StateError
from streams.runtime.faust_internals import (
    local_get,
    local_put,
    open_rocksdb_with,
    standby_partitions,
    stored_key,
)
from streams.runtime.outbox import Outbox, Stored, Writes

log = logging.getLogger(__name__)
T = TypeVar("T")


class StateTable(faust.Table, Generic[T]):
    """A table whose values are ``codec``'s bytes; recovery refuses values that do not decode."""

    def __init__(self, app: faust.App, codec: StateCodec[T], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.codec = codec

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        readable = [event for event in batch if self.readable(event)]
        super().apply_changelog_batch(readable)
        standby = standby_partitions(self.app)
        kept_ready = sum(event.message.tp in standby for event in readable)
        metrics.STATE_STANDBY.labels(table=self.name).inc(kept_ready)
        metrics.STATE_RESTORED.labels(table=self.name).inc(len(readable) - kept_ready)

    def readable(self, event: EventT) -> bool:
        """Whether a changelog record holds a value this worker can read (a deletion always can)."""
        value = event.message.value
        if value is None:
            return True
        try:
            self.codec.decode(value)
        except StateError as exc:
            message = event.message
            log.error(
                "refused a %s changelog value at %s[%d]@%d: %s",
                self.name, message.topic, message.partition, message.offset, exc,
            )  # fmt: skip
            metrics.STATE_REFUSED.labels(table=self.name).inc()
            return False
        return True

    def store(self, writes: Writes, stored: Stored) -> None:
        """Take ``writes`` whose changelog records the broker has stored, and note how far each
        changelog partition is stored locally (``stored``: the highest stored offsets)."""
        by_partition: dict[int, dict[str, bytes]] = {}
        for (partition, key), raw in writes.items():
            by_partition.setdefault(partition, {})[key] = raw
        topic = self.changelog_topic.get_topic_name()
        for partition, values in by_partition.items():
            local_put(self, partition, values)
            if (offset := stored.get((topic, partition))) is not None:
                self.data.set_persisted_offset(TP(topic, partition), offset)


MIB = 1024 * 1024
SHARED_BLOCK_CACHE = 32 * MIB  # for every RocksDB database of the worker together
SHARED_WRITE_BUFFERS = 64 * MIB  # their memtables together: past it the largest are flushed


def rocksdb_options() -> dict[str, int]:
    """Per table partition: small write buffers (Faust's defaults are 3 x 64 MiB), so a worker's
    memory stays bounded however many users its partitions hold."""
    return {"write_buffer_size": 4 * MIB, "max_write_buffer_number": 2, "target_file_size_base": 8 * MIB}


class SharedMemoryOptions(faust_rocksdb.RocksDBOptions):
    """Faust's RocksDB options, except that every database of the worker (one per table partition,
    active or standby: 36 for 12 partitions of 3 tables) shares one block cache and one memtable
    budget, so RocksDB's memory is bounded whatever the partitions held; with a cache and two
    memtables each (8 + 2 × 4 MiB), 36 databases could take 576 MiB."""

    def as_options(self) -> Options:
        options = super().as_options()
        cache, buffers = shared_memory()
        table = BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(cache)
        table.set_index_type(BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(buffers)
        return options


@functools.cache
def shared_memory() -> tuple[Cache, WriteBufferManager]:
    """The worker's one block cache and memtable budget."""
    return Cache(SHARED_BLOCK_CACHE), WriteBufferManager(SHARED_WRITE_BUFFERS, False)


STANDBY_BUFFER = 64


def state_table(app: faust.App, name: str, codec: StateCodec[T]) -> StateTable[T]:
    """A changelog-backed table of ``codec`` values keyed by str, in the app's store."""
    table = StateTable(
        app, codec, name=name, default=None, key_type=str, value_type=bytes, beacon=app.tables.beacon,
        options=rocksdb_options() if app.conf.store.scheme == "rocksdb" else None,
        extra_topic_configs=COMPACT_DURING_SALE,  # a slot is rewritten on every batch its key is in
        # Standby copies apply changelog records in buffers of this many (Faust's default: 1,000), and a
        # rebalance applies what is buffered before the takeover's recovery reads the rest.
        standby_buffer_size=STANDBY_BUFFER,
    )  # fmt: skip
    open_rocksdb_with(table, SharedMemoryOptions)
    app.tables.add(table)  # what ``app.Table`` does with the table it builds
    return table


def load(table: StateTable[T], key: str, partition: int) -> T | None:
    """The value stored locally under ``key`` of ``partition``, or None."""
    raw = local_get(table, partition, key)
    return table.codec.decode(raw) if raw is not None else None


async def put(table: StateTable[T], partition: int, key: str, value: T, outbox: Outbox) -> None:
    """Write ``value`` under ``key``: its changelog record on ``partition`` goes via ``outbox`` (an
    ``Outbox(app)``: state is written by the hundred per batch, as record batches), and the local
    store takes it when that outbox settles, if the caller's ``keep_state`` holds then.

    Settle the outbox before the batch is acknowledged: an offset could otherwise be committed
    before the state that applied it is durable.
    """
    raw = table.codec.encode(value)
    # The bytes Faust itself would write: key_type=str with the json serializer, value_type=bytes raw.
    await outbox.send_bytes(table.changelog_topic.get_topic_name(), key=stored_key(key), value=raw,
                            partition=partition)  # fmt: skip
    outbox.stage(table, partition, key, raw)
