"""The one door to Faust's and aiokafka's private attributes (faust-streaming 0.15, aiokafka 0.14).

Every private attribute the worker relies on is named in :data:`REQUIRED` and reached only through the
functions below. :func:`missing` checks at worker start that each exists in the installed versions (the
worker prints one line and exits when one does not); the functions raise when a path cannot work, never
answer with a silent default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.serializers import codecs
from faust.stores import rocksdb as faust_rocksdb
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, EventT
from faust.types.tuples import Message
from rocksdict import WriteBatch

# (class, attribute, what it is for): class annotations or members of the installed versions.
REQUIRED = (
    (Consumer, "_acked", "acknowledged offsets per partition (a commit stall re-counts them)"),
    (Consumer, "_acked_index", "the same, as a set"),
    (Consumer, "_gap", "skipped offsets per partition"),
    (Consumer, "_committed_offset", "what Faust believes is committed (idle marks, stall repair)"),
    (faust_aiokafka.Consumer, "_thread", "the thread that owns aiokafka's consumer (fetch times)"),
    (faust_aiokafka.AIOKafkaConsumerThread, "_ensure_consumer", "aiokafka's started consumer"),
    (faust_aiokafka.Producer, "_producer", "aiokafka's started producer (record batches)"),
    (faust.Record, "_options", "a record class's field descriptors (strict decoding, JSON Schemas)"),
    (faust_rocksdb.Store, "_db_for_partition", "a table partition's RocksDB (batches write many keys)"),
    (faust_rocksdb.Store, "rocksdb_options", "how a table partition's RocksDB is opened (shared memory)"),
    (TableManager, "recovery", "the tables' recovery service (which changelog partitions are standbys)"),
    (Recovery, "standby_tps", "the changelog partitions a worker keeps standby copies of"),
    (Message, "acked", "set on a message no agent of this worker may acknowledge (its partition left)"),
)


class InternalsError(RuntimeError):
    """Faust or aiokafka no longer has what this worker relies on."""


def _has(cls: type, name: str) -> bool:
    return any(name in vars(klass) or name in getattr(klass, "__annotations__", {}) for klass in cls.__mro__)


def missing() -> list[str]:
    """The required private attributes the installed Faust/aiokafka lack, one line each.

    >>> missing()
    []
    """
    return [
        f"{cls.__module__}.{cls.__name__}.{name} ({why})"
        for cls, name, why in REQUIRED
        if not _has(cls, name)
    ]


def record_fields(record_cls: type[faust.Record]) -> Mapping[str, Any]:
    """Field name → Faust's field descriptor (``required``, ``type``, ``default``) of ``record_cls``."""
    return record_cls._options.descriptors


def committed_offsets(app: faust.App) -> Mapping[TP, int | None]:
    """What Faust believes each partition's committed offset is (None: nothing committed yet)."""
    return app.consumer._committed_offset  # type: ignore[attr-defined]


def lowest_acked(app: faust.App, tp: TP) -> int | None:
    """The lowest offset of ``tp`` Faust counts as done and not yet committed: acknowledged, or in a gap
    of offsets it knows will not come (compacted away, control records). None: nothing counted."""
    consumer = app.consumer
    acked = consumer._acked.get(tp)  # type: ignore[attr-defined]
    gaps = consumer._gap.get(tp)  # type: ignore[attr-defined]
    lows = [min(acked)] if acked else []
    if acked and gaps:
        lows.append(min(interval.begin for interval in gaps))
    return min(lows) if lows else None


def highest_acked(app: faust.App, tp: TP) -> int | None:
    """The highest offset of ``tp`` acknowledged and not yet committed (None: none)."""
    acked = app.consumer._acked.get(tp)  # type: ignore[attr-defined]
    return max(acked) if acked else None


def recount_acks(consumer: Consumer, tp: TP, committed: int) -> None:
    """Make Faust's consumer count the acknowledgements of ``tp`` afresh from ``committed``.

    Faust (0.15) commits the first unbroken run of acked offsets above what it believes committed,
    and believes a commit that failed: after losses its count can skip records for good or advance
    one short run per commit. Clearing it is what Faust itself does for a partition it is assigned.
    """
    consumer._acked.pop(tp, None)
    consumer._acked_index.pop(tp, None)
    consumer._gap.pop(tp, None)
    consumer._committed_offset[tp] = committed or None  # None for offset 0, as Faust's own seek has it


def last_fetch_ms(app: faust.App, tp: TP) -> int | None:
    """When aiokafka last had a fetch response for ``tp`` (epoch ms; it updates the high watermark with
    each one, records or not); None while the consumer has not started, ``tp`` is not assigned here
    or has had no fetch yet."""
    try:
        consumer = app.consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
    except faust_aiokafka.ConsumerNotStarted:
        return None
    if tp not in consumer.assignment():
        return None
    return consumer.last_poll_timestamp(tp)


Committed = Mapping[TP, int | None]  # per partition; None where the group never committed it


def after_seek_to_committed(app: faust.App, then: Callable[[Committed], Awaitable[None]]) -> None:
    """Run ``then`` with the committed offsets each time Faust seeks its partitions back to their commits
    (at the end of every rebalance's recovery, before streams resume)."""
    consumer: Any = app.consumer  # ``seek_to_committed`` is on Faust's Consumer, not on its ConsumerT
    seek_to_committed = consumer.seek_to_committed

    async def seek_then() -> Committed:
        committed = await seek_to_committed()
        await then(committed)
        return committed

    consumer.seek_to_committed = seek_then


def withhold_acks(events: Iterable[EventT]) -> None:
    """Keep ``events`` from being acknowledged: ``take_events`` acknowledges a whole batch when the agent
    asks for the next one, but these were not applied (their partition went to another worker while the
    batch ran). An acknowledgement would stay in the consumer's books after the rebalance and, should
    the partition come back, let a commit pass them before they are read again, and a crash then lose
    them. Marked as acknowledged, they are left out of the books; their new owner reads them."""
    for event in events:
        event.message.acked = True


def standby_partitions(app: AppT) -> set[TP]:
    """The changelog partitions this worker keeps standby copies of (not its own tables' partitions)."""
    manager = app.tables
    if not isinstance(manager, TableManager):
        raise InternalsError(f"tables are managed by a {type(manager).__name__}, not Faust's TableManager")
    return manager.recovery.standby_tps


def kafka_producer(app: faust.App) -> AIOKafkaProducer:
    """The started aiokafka producer under Faust's; raises before it has started."""
    producer = app.producer._producer  # type: ignore[attr-defined]
    if producer is None:
        raise InternalsError("Faust's producer has not started: no aiokafka producer to send batches with")
    return producer


def stored_key(key: str) -> bytes:
    """A str table key as Faust writes it to changelogs and RocksDB (the json codec)."""
    return codecs.dumps("json", key)


def local_get(table: faust.Table, partition: int, key: str) -> bytes | None:
    """The value ``table`` holds locally for ``key`` of ``partition``.

    Faust's RocksDB store picks a key's database by the partition of the *current* event; a batch
    spans partitions, so the partition is named here.
    """
    store = table.data
    if isinstance(store, faust_rocksdb.Store):
        value: bytes | None = store._db_for_partition(partition).get(stored_key(key))
        return value
    return store.get(key)


def local_put(table: faust.Table, partition: int, values: Mapping[str, bytes]) -> None:
    """Store ``values`` (key → bytes) for ``partition`` in ``table``'s local store, as one write."""
    store = table.data
    if isinstance(store, faust_rocksdb.Store):
        batch = WriteBatch(raw_mode=True)
        for key, value in values.items():
            batch.put(stored_key(key), value)
        store._db_for_partition(partition).write(batch)
    else:
        store.update(values)


def open_rocksdb_with(table: faust.Table, options: type[faust_rocksdb.RocksDBOptions]) -> None:
    """Have ``table``'s RocksDB store (if it has one) open its databases with ``options``, a subclass of
    Faust's, given the table's options. Before the worker starts: no database is open yet."""
    store = table.data
    if isinstance(store, faust_rocksdb.Store):
        store.rocksdb_options = options(**(store.options or {}), use_rocksdict=store.use_rocksdict)
