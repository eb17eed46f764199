"""Event time and its tolerance (streams/contracts/eventtime.py): which time an event has, what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from streams.contracts.decoding import InvalidEvent, decode
from streams.contracts.eventtime import KAFKA_TIME, MAX_AHEAD, MAX_SKEW, EventTimePolicy, event_seconds
from streams.contracts.records import CatalogItem, Order
from streams.settings import Settings

SENT = datetime(2026, 11, 11, 12, tzinfo=UTC)  # when kcat sent the message: its Kafka timestamp
PAYLOAD = EventTimePolicy("payload", max_age=timedelta(hours=72))


def order(ts: datetime) -> bytes:
    return json.dumps({
        "event_id": "e1", "order_id": "o1", "user_id": "u1", "sku": "s1", "quantity": 1, "unit_price": 9.5,
        "ts": ts.isoformat(),
    }).encode()  # fmt: skip


@pytest.mark.parametrize("behind", [timedelta(0), timedelta(hours=1), timedelta(hours=72)])
def test_payload_mode_takes_a_backfill_up_to_its_max_age(behind: timedelta) -> None:
    assert PAYLOAD.refusal(SENT - behind, SENT) is None
    assert decode(Order, order(SENT - behind), SENT.timestamp(), event_time=PAYLOAD).ts == SENT - behind


def test_payload_mode_refuses_what_is_older_than_its_max_age_and_names_the_setting() -> None:
    reason = PAYLOAD.refusal(SENT - timedelta(hours=72, seconds=1), SENT)
    assert reason is not None and "behind the Kafka (send) timestamp" in reason
    assert "at most 72 h" in reason and "FLASHSALE_PAYLOAD_TIME_MAX_AGE_H" in reason
    with pytest.raises(InvalidEvent, match="FLASHSALE_PAYLOAD_TIME_MAX_AGE_H"):
        decode(Order, order(SENT - timedelta(days=4)), SENT.timestamp(), event_time=PAYLOAD)


def test_payload_mode_refuses_an_event_sent_before_it_happened() -> None:
    assert PAYLOAD.refusal(SENT + MAX_AHEAD, SENT) is None  # clock drift is forgiven
    reason = PAYLOAD.refusal(SENT + MAX_AHEAD + timedelta(seconds=1), SENT)
    assert reason is not None and "ahead of the Kafka (send) timestamp" in reason
    # The contract's looser 1-day skew would have taken it.
    assert KAFKA_TIME.refusal(SENT + MAX_AHEAD + timedelta(seconds=1), SENT) is None


def test_kafka_mode_is_the_contract_and_points_backfills_to_payload_mode() -> None:
    assert KAFKA_TIME.refusal(SENT - MAX_SKEW, SENT) is None
    assert KAFKA_TIME.refusal(SENT + MAX_SKEW, SENT) is None
    reason = KAFKA_TIME.refusal(SENT - timedelta(hours=30), SENT)
    assert reason is not None and "away from the Kafka timestamp" in reason
    assert "FLASHSALE_EVENT_TIME=payload" in reason
    with pytest.raises(InvalidEvent, match="FLASHSALE_EVENT_TIME=payload"):
        decode(Order, order(SENT - timedelta(hours=30)), SENT.timestamp())


@pytest.mark.parametrize("policy", [KAFKA_TIME, PAYLOAD], ids=["kafka", "payload"])
def test_the_verdict_does_not_depend_on_when_it_is_read(policy: EventTimePolicy) -> None:
    """A replay a month later decides as the live run did: only the message's own times count."""
    for ts in (SENT - timedelta(hours=2), SENT - timedelta(hours=30), SENT - timedelta(days=5)):
        verdicts = set()
        for now in (SENT, SENT + timedelta(days=30)):
            try:
                decode(Order, order(ts), SENT.timestamp(), now=now, event_time=policy)
                verdicts.add("taken")
            except InvalidEvent as exc:
                verdicts.add(str(exc))
        assert len(verdicts) == 1, (policy.source, ts, verdicts)


def test_event_time_is_the_payload_time_of_every_input() -> None:
    item = decode(CatalogItem, json.dumps({
        "sku": "s1", "title": "T", "category": "audio", "base_price": 1.0, "updated_at": SENT.isoformat(),
    }).encode())  # fmt: skip
    assert event_seconds(item) == SENT.timestamp()
    late = SENT - timedelta(hours=2)
    assert event_seconds(decode(Order, order(late), SENT.timestamp(), event_time=PAYLOAD)) == late.timestamp()


def test_settings_choose_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLASHSALE_EVENT_TIME", "FLASHSALE_PAYLOAD_TIME_MAX_AGE_H"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().event_time_policy() == KAFKA_TIME
    monkeypatch.setenv("FLASHSALE_EVENT_TIME", "payload")
    monkeypatch.setenv("FLASHSALE_PAYLOAD_TIME_MAX_AGE_H", "1.5")
    assert Settings().event_time_policy() == EventTimePolicy("payload", timedelta(hours=1.5))
    with pytest.raises(ValidationError):
        Settings(event_time="send")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(payload_time_max_age_h=0)
