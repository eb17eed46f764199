"""Bad input becomes data: the original bytes on ``dead-letters`` with where they came from and why.

Whatever its size: a message the broker accepted can be larger than a dead letter may be (its
copy carries headers on top, and an input topic's ``max.message.bytes`` may be raised above what the
app's producer sends). Such a copy keeps as much of the original as fits and says so in headers
(``truncated``, ``original_size``, ``original_sha256``, and ``original_key_size`` /
``original_key_sha256`` when the key had to be cut too); the source coordinates fetch the original.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faust.types import EventT

from streams import metrics
from streams.logs import coordinates
from streams.runtime.outbox import Outbox

log = logging.getLogger(__name__)

REASON_MAX = 1000  # bytes of the error_message header
# Room kept under the producer's max_request_size: the request's own framing, and headers that a
# library might add after the estimate (the estimate already counts one record batch's header).
RECORD_MARGIN = 1024
Headers = list[tuple[str, bytes]]


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


def record_limit(app: faust.types.AppT) -> int:
    """The largest record the app sends, as :func:`record_size` counts: the producer's
    ``max_request_size`` (Faust's ``producer_max_request_size``) less :data:`RECORD_MARGIN`.

    The topics it sends to accept at least that (the broker's default ``max.message.bytes`` is
    1,048,588; the app's producer sends at most 1,000,000).
    """
    return int(app.conf.producer_max_request_size) - RECORD_MARGIN


def record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
    """Upper bound of a record's size in a batch of its own (aiokafka's own estimate)."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))


def dead_letter_headers(origin: Origin, error: BaseException) -> Headers:
    """Headers naming the source topic/partition/offset and the error's class and message."""
    return [
        ("source_topic", origin.topic.encode()),
        ("source_partition", str(origin.partition).encode()),
        ("source_offset", str(origin.offset).encode()),
        ("error_class", type(error).__name__.encode()),
        ("error_message", _bounded(str(error), REASON_MAX)),
    ]


def _bounded(text: str, limit: int) -> bytes:
    """``text`` as UTF-8, cut to at most ``limit`` bytes on a character boundary."""
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore").encode()


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode()


def fit(
    key: bytes | None, value: bytes | None, headers: Headers, limit: int
) -> tuple[bytes | None, bytes | None, Headers]:
    """The dead letter of ``key`` and ``value`` as sent: whole if it fits in ``limit``, else cut.

    A cut value keeps its first bytes, and the headers gain ``truncated=true``, ``original_size``
    and ``original_sha256``; a key too large to leave room is cut the same way (``original_key_*``).

    >>> key, value, headers = fit(b"k", b"x" * 5000, [], limit=1200)
    >>> dict(headers)["original_size"], len(value) < 1200, record_size(key, value, headers) <= 1200
    (b'5000', True, True)
    """
    if record_size(key, value, headers) <= limit:
        return key, value, headers
    headers = [*headers, ("truncated", b"true")]
    if key is not None and record_size(key, b"", headers) > limit // 2:  # no room left for the value
        headers += [("original_key_size", str(len(key)).encode()), ("original_key_sha256", _digest(key))]
        key = key[: limit // 4]
    if value is not None and record_size(key, value, headers) > limit:
        headers += [("original_size", str(len(value)).encode()), ("original_sha256", _digest(value))]
        room = limit - record_size(key, b"", headers) - 8  # 8: the value's length grows its varint
        value = value[: max(room, 0)]
    return key, value, headers


async def send_dead_letter(topic: faust.TopicT, event: EventT, error: BaseException, outbox: Outbox) -> None:
    """Publish ``event``'s original key and value to ``topic`` (delivery in ``outbox``) and count it."""
    await send_dead_value(topic, Origin.of(event.message), event.message.value, error, outbox)


async def send_dead_value(
    topic: faust.TopicT, origin: Origin, value: bytes | None, error: BaseException, outbox: Outbox
) -> None:
    """Publish ``value`` as it came from ``origin`` to ``topic`` (delivery in ``outbox``) and count it;
    cut to fit (see :func:`fit`) when the copy would be larger than the app's producer sends."""
    key, value, headers = fit(origin.key, value, dead_letter_headers(origin, error), record_limit(topic.app))
    await outbox.send(topic, key=key, value=value, headers=headers)
    metrics.DEAD_LETTERS.labels(topic=origin.topic, error=type(error).__name__).inc()
    log.warning(
        "dead letter from %s[%s]@%s: %s",
        origin.topic, origin.partition, origin.offset, str(error)[:200],
        extra={**coordinates(origin), "error_class": type(error).__name__},
    )  # fmt: skip
