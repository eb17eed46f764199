"""Faust tables of encoded state (:mod:`streams.runtime.codec`), written for an explicit partition.

A Faust table writes its changelog to the partition of the *current* event; in a batch
(``take_events``) that is not the event a key belongs to, so batch agents name the partition.
Tables are declared with ``value_type=bytes``: the changelog carries exactly the codec's bytes, and the
table holds them. On recovery every changelog value is decoded before it is taken: one that does not
decode is refused — logged with its topic, partition and offset, counted in
``flashsale_state_refused_total`` — and the key keeps what it held before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import faust
from faust.serializers import codecs
from faust.types import EventT

from streams import metrics
from streams.runtime.codec import StateCodec, StateError
from streams.runtime.outbox import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")


class StateTable(faust.Table, Generic[T]):
    """A table whose values are ``codec``'s bytes; recovery refuses values that do not decode."""

    def __init__(self, app: faust.App, codec: StateCodec[T], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.codec = codec

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        super().apply_changelog_batch([event for event in batch if self.readable(event)])

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


def state_table(app: faust.App, name: str, codec: StateCodec[T]) -> StateTable[T]:
    """A changelog-backed table of ``codec`` values keyed by str."""
    table = StateTable(
        app, codec, name=name, default=None, key_type=str, value_type=bytes, beacon=app.tables.beacon
    )
    app.tables.add(table)  # what ``app.Table`` does with the table it builds
    return table


def load(table: StateTable[T], key: str) -> T | None:
    """The value stored under ``key``, or None."""
    raw = table.data.get(key)
    return table.codec.decode(raw) if raw is not None else None


async def put(table: StateTable[T], partition: int, key: str, value: T, outbox: Outbox) -> None:
    """Store ``value`` under ``key``, its changelog record on ``partition`` sent via ``outbox``
    (an ``Outbox(app)``: state is written by the hundred per batch, as record batches).

    Settle the outbox before the batch is acknowledged: an offset could otherwise be committed
    before the state that applied it is durable.
    """
    raw = table.codec.encode(value)
    table.data[key] = raw
    # The bytes Faust itself would write: key_type=str with the json serializer, value_type=bytes raw.
    await outbox.send_bytes(
        table.changelog_topic.get_topic_name(), key=codecs.dumps("json", key), value=raw, partition=partition
    )
