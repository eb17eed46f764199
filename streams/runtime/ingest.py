"""Decode batches of raw input events: good ones become records, bad ones become dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import faust
from faust.types import EventT

from streams import metrics
from streams.contracts.decoding import decode
from streams.contracts.eventtime import KAFKA_TIME, EventTimePolicy
from streams.contracts.records import RECORDS_BY_TOPIC, Event
from streams.runtime.deadletters import send_dead_letter
from streams.runtime.outbox import Outbox

E = TypeVar("E", bound=Event)


def batches(stream: faust.StreamT, size: int, within_s: float) -> AsyncIterator[Sequence[EventT]]:
    """Batches of up to ``size`` events, or whatever arrived within ``within_s``: the unit of work."""
    return cast(Any, stream).take_events(size, within=within_s)  # take_events is missing from StreamT


def record_type(topic: str, prefix: str) -> type[Event]:
    """The contract record of a (possibly namespaced) topic name."""
    base = topic[len(prefix) + 1 :] if prefix and topic.startswith(prefix + ".") else topic
    return RECORDS_BY_TOPIC[base]


async def decode_batch(
    events: Sequence[EventT],
    dead_letters: faust.TopicT | None,
    prefix: str = "",
    event_time: EventTimePolicy = KAFKA_TIME,
) -> list[tuple[EventT, Event]]:
    """Decode each event by its topic's contract; invalid ones go to ``dead_letters``.

    ``event_time``: how payload times are checked against Kafka timestamps (input topics: the
    settings' :meth:`~streams.settings.Settings.event_time_policy`; our own outputs: the contract).

    ``dead_letters=None`` skips invalid events silently: for a second agent on a topic whose
    first agent already dead-letters them.

    Any exception while decoding dead-letters that one event, so bad input never stops a worker.
    Dead letters are stored by the broker before this returns, so acknowledging the batch is safe.
    """
    good: list[tuple[EventT, Event]] = []
    outbox, now = Outbox(), datetime.now(UTC)  # one clock reading per batch
    for event in events:
        message = event.message
        metrics.EVENTS_IN.labels(topic=message.topic).inc()
        try:
            record_cls = record_type(message.topic, prefix)
            record = decode(record_cls, message.value, message.timestamp, now, event_time)
        except Exception as exc:  # InvalidEvent, or a decoder bug: neither may cost the events behind
            if dead_letters is not None:
                await send_dead_letter(dead_letters, event, exc, outbox)
        else:
            good.append((event, record))
    await outbox.settle()
    return good


async def decode_in_order(
    events: Sequence[EventT],
    dead_letters: faust.TopicT | None,
    prefix: str = "",
    event_time: EventTimePolicy = KAFKA_TIME,
) -> list[tuple[EventT, Event | None]]:
    """:func:`decode_batch`, keeping every event in its place: a refused one (dead-lettered) with None."""
    good = await decode_batch(events, dead_letters, prefix, event_time)
    decoded = {id(event): record for event, record in good}
    return [(event, decoded.get(id(event))) for event in events]
