"""Bad input becomes data: the original bytes on ``dead-letters`` with where they came from and why."""

from __future__ import annotations

import logging

import faust
from faust.types import EventT

from streams import metrics
from streams.logs import coordinates

log = logging.getLogger(__name__)

REASON_MAX = 1000


def dead_letter_headers(event: EventT, error: BaseException) -> list[tuple[str, bytes]]:
    """Headers naming the source topic/partition/offset and the error's class and message."""
    message = event.message
    return [
        ("source_topic", message.topic.encode()),
        ("source_partition", str(message.partition).encode()),
        ("source_offset", str(message.offset).encode()),
        ("error_class", type(error).__name__.encode()),
        ("error_message", str(error)[:REASON_MAX].encode("utf-8", "replace")),
    ]


async def send_dead_letter(topic: faust.TopicT, event: EventT, error: BaseException) -> None:
    """Publish ``event``'s original key and value to ``topic`` and count it."""
    message = event.message
    await topic.send(key=message.key, value=message.value, headers=dead_letter_headers(event, error))
    metrics.DEAD_LETTERS.labels(topic=message.topic, error=type(error).__name__).inc()
    log.warning(
        "dead letter from %s[%s]@%s: %s",
        message.topic, message.partition, message.offset, str(error)[:200],
        extra={**coordinates(message), "error_class": type(error).__name__},
    )  # fmt: skip
