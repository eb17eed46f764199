"""Contract records: round-trip, and strict rejection of invalid values with a clear reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from streams.contracts.decoding import MAX_EVENT_BYTES, InvalidEvent, decode
from streams.contracts.records import (
    CatalogItem,
    Click,
    Order,
    Recommendation,
    RecommendedItem,
    StockLevel,
    recommendation_bytes,
)

TS = "2026-11-11T12:00:00+00:00"
ORDER = {
    "event_id": "e1", "order_id": "o1", "user_id": "u1", "sku": "s1",
    "quantity": 2, "unit_price": 9.5, "ts": TS,
}  # fmt: skip
CAMPAIGN = {
    "campaign_id": "c1", "starts_at": TS, "ends_at": "2026-11-11T14:00:00+00:00", "discount": 0.2,
    "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 30,
}  # fmt: skip


def raw(value: object) -> bytes:
    return json.dumps(value).encode()


def test_order_round_trips_through_json() -> None:
    order = decode(Order, raw(ORDER))
    assert order.quantity == 2 and order.ts == datetime(2026, 11, 11, 12, tzinfo=UTC)
    assert decode(Order, order.dumps()) == order


def test_catalog_with_campaign_round_trips() -> None:
    item = decode(CatalogItem, raw({"sku": "s1", "title": "Earbuds", "category": "audio",
                                    "base_price": 59.0, "updated_at": TS, "campaign": CAMPAIGN}))  # fmt: skip
    assert item.campaign is not None and item.campaign.max_discount == 0.5
    assert decode(CatalogItem, item.dumps()) == item


def test_recommendation_with_items_round_trips() -> None:
    rec = Recommendation(
        user_id="u1",
        items=[RecommendedItem(sku="s1", score=0.9, reason="popular in this sale", reason_kind="popular")],
        model="minilm", source_event_id="e1", ts=datetime(2026, 11, 11, tzinfo=UTC),
    )  # fmt: skip
    again = decode(Recommendation, rec.dumps())
    assert again.items[0].sku == "s1" and again.items[0].reason_kind == "popular" and again.ts == rec.ts
    made_up = rec.dumps().replace(b'"popular"', b'"because I say so"')
    with pytest.raises(InvalidEvent, match="reason_kind"):  # a kind outside the vocabulary
        decode(Recommendation, made_up)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"quantity": 0}, "quantity must be >= 1"),
        ({"quantity": -3}, "quantity must be >= 1"),
        ({"quantity": "2"}, "quantity must be an integer"),
        ({"quantity": True}, "quantity must be an integer"),
        ({"unit_price": -1.0}, "unit_price must be >= 0"),
        ({"sku": None}, "sku is missing"),
        ({"sku": ""}, "sku must not be blank"),
        ({"sku": "x" * 1000}, "sku is 1000 characters"),
        ({"ts": "yesterday"}, "not an ISO-8601 timestamp"),
        ({"ts": "2026-11-11T12:00:00"}, "no time zone"),
        ({"ts": "2999-01-01T00:00:00+00:00"}, "outside 2000..2100"),
        ({"user_id": "u\x01"}, "user_id contains control characters"),
        ({"sku": "a\udfffb"}, "sku is not valid Unicode"),
    ],
)
def test_invalid_orders_are_rejected_with_reason(change: dict, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(Order, raw(ORDER | change))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"quantity": NaN}', "NaN is not valid JSON"),
        (b"x" * (MAX_EVENT_BYTES + 1), "exceeds"),
        (None, "tombstone"),
    ],
)
def test_undecodable_values_are_rejected(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(Order, value)


def test_click_actions_and_cross_field_rules() -> None:
    base = {"event_id": "c1", "user_id": "u1", "ts": TS}
    assert decode(Click, raw(base | {"action": "search", "query": "earbuds"})).sku is None
    with pytest.raises(InvalidEvent, match="must be one of"):
        decode(Click, raw(base | {"action": "buy", "sku": "s1"}))
    with pytest.raises(InvalidEvent, match="a search needs a query"):
        decode(Click, raw(base | {"action": "search"}))
    with pytest.raises(InvalidEvent, match="a view needs a sku"):
        decode(Click, raw(base | {"action": "view"}))


def test_campaign_bounds_are_checked() -> None:
    item = {"sku": "s1", "title": "T", "category": "audio", "base_price": 1.0, "updated_at": TS}
    with pytest.raises(InvalidEvent, match="within"):
        decode(CatalogItem, raw(item | {"campaign": CAMPAIGN | {"discount": 0.9}}))
    with pytest.raises(InvalidEvent, match="starts_at must be before"):
        decode(CatalogItem, raw(item | {"campaign": CAMPAIGN | {"ends_at": TS}}))


def test_event_time_far_from_kafka_timestamp_is_rejected() -> None:
    stock = raw({"event_id": "k1", "sku": "s1", "on_hand": 5, "inbound": 0, "ts": TS})
    kafka_ts = datetime(2026, 11, 11, 12, tzinfo=UTC).timestamp()
    assert decode(StockLevel, stock, kafka_ts).on_hand == 5
    with pytest.raises(InvalidEvent, match="away from the Kafka timestamp"):
        decode(StockLevel, stock, kafka_ts + 3 * 86400)


def test_event_time_ahead_of_the_clock_is_rejected() -> None:
    noon = datetime(2026, 11, 11, 12, tzinfo=UTC)
    assert decode(Order, raw(ORDER), now=noon - timedelta(minutes=4)).sku == "s1"  # drift is forgiven
    with pytest.raises(InvalidEvent, match="in the future"):
        decode(Order, raw(ORDER), now=noon - timedelta(minutes=6))


def test_recommendation_bytes_are_what_the_record_serialises_to() -> None:
    ts = datetime(2026, 11, 30, 9, 15, 1, 250_000, tzinfo=UTC)
    items = [("sku-1", 0.912345, "because you viewed Lamp", "viewed"), ("skü-2", -0.5, "popular", "popular"),
             ("sku-3", 1e-07, 'because you searched for "ä"', "searched")]  # fmt: skip
    record = Recommendation(
        user_id="user-ä",
        items=[RecommendedItem(sku=s, score=v, reason=r, reason_kind=k) for s, v, r, k in items],
        model="all-MiniLM-L6-v2", source_event_id="click-7", ts=ts,
    )  # fmt: skip
    assert recommendation_bytes("user-ä", items, "all-MiniLM-L6-v2", "click-7", ts) == record.dumps()
    assert (
        recommendation_bytes("u", [], "m", "e", ts)
        == Recommendation(user_id="u", items=[], model="m", source_event_id="e", ts=ts).dumps()
    )
