"""Read a stretch of one partition directly: records a restored state has not applied yet, or that
the stream skipped.

Faust's table recovery can leave a state older than the offset its stream resumes from (it replays
changelogs while a batch may still be writing). The per-SKU agent then reads the missing stretch
itself with a group-less consumer, rather than moving Faust's own consumer under it. Agents without
a stored position (the forwarders, the sink) do the same for a stretch their stream skipped
(:func:`in_order`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.types import TP

from streams.runtime.admin import aiokafka_config
from streams.settings import Settings

log = logging.getLogger(__name__)
ReadRange = Callable[[Settings, str, int, int, int], Awaitable[list[Any]]]  # as read_range
ReadStretch = Callable[[str, int, int, int], Awaitable[list[Any]]]  # read_range with its settings given


class Placed(Protocol):
    """A partition's clock: the last offset its state applied, and where an offset falls from there."""

    position: int

    def place(self, offset: int) -> str: ...  # "gap" when offsets between were never applied


async def with_gap(message: Any, clock: Placed, read: ReadRange, settings: Settings) -> list[Any]:
    """``message``, after the stretch of its partition its state has not applied (a gap), read with
    ``read`` (:func:`read_range` in the worker)."""
    if clock.place(message.offset) != "gap":  # the stream is not ahead of the state
        return [message]
    start, topic, partition = clock.position + 1, message.topic, message.partition
    log.warning("%s[%s]: state at offset %s, stream at %s; reading the stretch between",
                topic, partition, start - 1, message.offset)  # fmt: skip
    return [*await read(settings, topic, partition, start, message.offset), message]


async def in_order(events: Sequence[Any], processed: Callable[[TP], int], read: ReadStretch) -> list[Any]:
    """``events`` (Faust events, in the stream's order), each after the stretch of its partition before
    it that was not processed yet, read with ``read`` (as :class:`ReadEvent`); those at or before
    ``processed(tp)``, the last offset of ``tp`` processed, left out.

    For agents without a stored position (the forwarders, the sink): Faust can skip records (dropped
    around a rebalance, an outage or a seek back) and hand them over only after later ones, when a repair
    reads the partition again from its commit; or commit past them (one missing offset, or a hole at the
    head of a partition its group never committed).
    """
    upto: dict[TP, int] = {}
    ordered: list[Any] = []
    for event in events:
        message = event.message
        tp, offset = message.tp, message.offset
        start = (upto[tp] if tp in upto else processed(tp)) + 1
        if offset < start:
            continue
        if offset > start:
            log.warning("%s[%s]: processed up to offset %s, stream at %s; reading the stretch between",
                        message.topic, message.partition, start - 1, offset)  # fmt: skip
            stretch = await read(message.topic, message.partition, start, offset)
            ordered += [ReadEvent.of(record) for record in stretch]
        upto[tp] = offset
        ordered.append(event)
    return ordered


def from_commit(committed: Mapping[TP, int | None], done: Mapping[TP, int]) -> Callable[[TP], int]:
    """The last offset of a partition processed: by this worker (``done``) or, before the group's commit
    (what Faust believes committed; none where the group never committed), by any."""
    return lambda tp: max(done.get(tp, -1), (committed.get(tp) or 0) - 1)


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


@dataclass(frozen=True)
class ReadMessage:
    """A record read by :func:`read_range`, with the fields of a Faust message the agents use."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # epoch seconds, as Faust's
    headers: list[tuple[str, bytes]]

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass(frozen=True)
class ReadEvent:
    """A record read by :func:`read_range`, shaped as the Faust event an agent takes."""

    message: ReadMessage

    @classmethod
    def of(cls, record: ConsumerRecord) -> ReadEvent:
        headers = list(record.headers or ())
        return cls(ReadMessage(record.topic, record.partition, record.offset, record.key, record.value,
                               record.timestamp / 1000, headers))  # fmt: skip
