"""Event time: the payload's own time, checked against what the mode says the Kafka timestamp is.

``FLASHSALE_EVENT_TIME=kafka`` (the contract, the default): producers set each message's Kafka
timestamp to the event time, and the payload's ``ts`` (``updated_at`` for the catalog) carries the
same instant. A payload time more than ``MAX_SKEW`` away from the Kafka timestamp is a producer bug.

``FLASHSALE_EVENT_TIME=payload``: for producers that cannot set Kafka timestamps (kcat, most
command-line tools), whose messages are stamped when they are sent. The Kafka timestamp is then
only the send time, and an event cannot have been sent before it happened: its payload time may be
behind the send time by at most ``FLASHSALE_PAYLOAD_TIME_MAX_AGE_H`` (a backfill), and ahead of it
by at most ``MAX_AHEAD`` (producers' clocks drift a little).

In both modes the pipeline's event time is the payload's time (microseconds; the same value a replay
and an in-process evaluation of the models see); the mode decides how far from the message's Kafka
timestamp it may lie. Both checks read only the message, never the wall clock, so a replay refuses
exactly what the live run refused.

>>> from datetime import UTC
>>> sent = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
>>> backfill = EventTimePolicy("payload", max_age=timedelta(hours=72))
>>> backfill.refusal(sent - timedelta(hours=30), sent) is None
True
>>> backfill.refusal(sent - timedelta(hours=73), sent).split(";")[0]
'payload time is 3 days, 1:00:00 behind the Kafka (send) timestamp'
>>> EventTimePolicy("kafka").refusal(sent - timedelta(hours=30), sent).split(" (")[0]
'event time is 1 day, 6:00:00 away from the Kafka timestamp'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

EventTimeSource = Literal["kafka", "payload"]

# Kafka timestamp = event time (the contract); a payload ts far from it is a producer bug.
MAX_SKEW = timedelta(days=1)
# Producers' clocks drift a little; an event from further in the future than this cannot be true.
MAX_AHEAD = timedelta(minutes=5)
# Payload mode: a backfill of up to three days (Friday's sale sent on Monday). Forwarded events and
# decisions are stamped with event time, and Kafka's default 7-day retention (where a cluster keeps
# it; the local stack and docker-compose turn it off) deletes older ones as soon as they are written.
DEFAULT_MAX_AGE_H = 72.0


def payload_time(record: Any) -> datetime | None:
    """The event time an input record carries: ``ts``, or ``updated_at`` for a catalog item."""
    return getattr(record, "ts", None) or getattr(record, "updated_at", None)


def event_seconds(record: Any) -> float:
    """:func:`payload_time` as epoch seconds: the time the per-SKU and per-user paths order by."""
    ts = payload_time(record)
    if ts is None:
        raise ValueError(f"{type(record).__name__} carries no event time")
    return float(ts.timestamp())


@dataclass(frozen=True)
class EventTimePolicy:
    """What a message's Kafka timestamp is, and so how far its payload time may be from it."""

    source: EventTimeSource = "kafka"
    max_age: timedelta = timedelta(hours=DEFAULT_MAX_AGE_H)

    @classmethod
    def of(cls, source: EventTimeSource, max_age_h: float) -> EventTimePolicy:
        """From the settings' ``event_time`` and ``payload_time_max_age_h``."""
        return cls(source, timedelta(hours=max_age_h))

    def refusal(self, event_ts: datetime, kafka_ts: datetime) -> str | None:
        """Why an event at ``event_ts`` (payload) cannot be true for a message stamped ``kafka_ts``;
        None when it can."""
        if self.source == "kafka":
            skew = abs(event_ts - kafka_ts)
            if skew <= MAX_SKEW:
                return None
            return (
                f"event time is {skew} away from the Kafka timestamp (a producer that cannot set "
                "Kafka timestamps needs FLASHSALE_EVENT_TIME=payload)"
            )
        if event_ts - kafka_ts > MAX_AHEAD:
            ahead = event_ts - kafka_ts
            return f"payload time is {ahead} ahead of the Kafka (send) timestamp (at most {MAX_AHEAD})"
        if kafka_ts - event_ts > self.max_age:
            hours = self.max_age / timedelta(hours=1)
            return (
                f"payload time is {kafka_ts - event_ts} behind the Kafka (send) timestamp; a backfill may "
                f"be at most {hours:g} h old (FLASHSALE_PAYLOAD_TIME_MAX_AGE_H)"
            )
        return None


KAFKA_TIME = EventTimePolicy()  # the contract: our own output topics are always stamped this way
