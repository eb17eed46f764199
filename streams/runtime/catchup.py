"""Read a stretch of one partition directly: records a restored state has not applied yet.

Faust's table recovery can leave a state older than the offset its stream resumes from (it replays
changelogs while a batch may still be writing). The per-SKU agent then reads the missing stretch
itself with a group-less consumer, rather than moving Faust's own consumer under it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.types import TP

from streams.runtime.admin import aiokafka_config
from streams.settings import Settings

log = logging.getLogger(__name__)
ReadRange = Callable[[Settings, str, int, int, int], Awaitable[list[Any]]]  # as read_range


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
