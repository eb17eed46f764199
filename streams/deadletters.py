"""Bad input becomes data: the original bytes on ``dead-letters`` with where they came from and why."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import EventT

from streams import metrics
from streams.logs import coordinates
from streams.outbox import Outbox

log = logging.getLogger(__name__)

REASON_MAX = 1000


@dataclass(frozen=True)
class Origin:
    """Where a message came from: its input topic, partition and offset, and its original key."""

    topic: str
    partition: int
    offset: int
    key: bytes | None

    @classmethod
    def of(cls, message: Any) -> Origin:
        """The origin of a Faust message or an aiokafka record (both carry these four)."""
        return cls(message.topic, message.partition, message.offset, message.key)


def dead_letter_headers(origin: Origin, error: BaseException) -> list[tuple[str, bytes]]:
    """Headers naming the source topic/partition/offset and the error's class and message."""
    return [
        ("source_topic", origin.topic.encode()),
        ("source_partition", str(origin.partition).encode()),
        ("source_offset", str(origin.offset).encode()),
        ("error_class", type(error).__name__.encode()),
        ("error_message", str(error)[:REASON_MAX].encode("utf-8", "replace")),
    ]


async def send_dead_letter(topic: faust.TopicT, event: EventT, error: BaseException, outbox: Outbox) -> None:
    """Publish ``event``'s original key and value to ``topic`` (delivery in ``outbox``) and count it."""
    await send_dead_value(topic, Origin.of(event.message), event.message.value, error, outbox)


async def send_dead_value(
    topic: faust.TopicT, origin: Origin, value: bytes | None, error: BaseException, outbox: Outbox
) -> None:
    """Publish ``value`` as it came from ``origin`` to ``topic`` (delivery in ``outbox``) and count it."""
    await outbox.send(topic, key=origin.key, value=value, headers=dead_letter_headers(origin, error))
    metrics.DEAD_LETTERS.labels(topic=origin.topic, error=type(error).__name__).inc()
    log.warning(
        "dead letter from %s[%s]@%s: %s",
        origin.topic, origin.partition, origin.offset, str(error)[:200],
        extra={**coordinates(origin), "error_class": type(error).__name__},
    )  # fmt: skip
