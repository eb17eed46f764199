"""Bad events mixed into the scripted sale on all four input topics: each one is dead-lettered with
its reason and source coordinates, and the good events are processed exactly as in a clean run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streams.settings import Settings

pytestmark = pytest.mark.e2e


def bad_events(sale: Any, message: type) -> list[tuple[Any, str]]:
    """(message, expected reason) for each bad event, at event times in the middle of the sale."""

    def at(seconds: float) -> str:
        return sale.at(seconds).isoformat()

    def order(**changes: Any) -> dict[str, Any]:
        return {"event_id": "bad-order", "order_id": "bad", "user_id": "buyer-1", "sku": "sku-knife",
                "quantity": 1, "unit_price": 36.0, "ts": at(150), **changes}  # fmt: skip

    def click(**changes: Any) -> dict[str, Any]:
        return {"event_id": "bad-click", "user_id": "alice", "sku": "sku-earbuds", "action": "click",
                "query": None, "ts": at(150), **changes}  # fmt: skip

    def level(**changes: Any) -> dict[str, Any]:
        return {
            "event_id": "bad-stock",
            "sku": "sku-knife",
            "on_hand": 5,
            "inbound": 0,
            "ts": at(150),
            **changes,
        }

    campaign = sale.campaign

    def item(**changes: Any) -> dict[str, Any]:
        return {"sku": "sku-bad", "title": "Cast Iron Skillet", "category": "kitchen", "base_price": 30.0,
                "campaign": campaign, "updated_at": at(150), **changes}  # fmt: skip

    no_sku = {k: v for k, v in order().items() if k != "sku"}
    no_user = {k: v for k, v in click().items() if k != "user_id"}
    no_title = {k: v for k, v in item().items() if k != "title"}
    cases: list[tuple[str, bytes, Any, str]] = [
        ("orders", b"buyer-1", b'{"event_id": "o", "quantity": ', "not JSON"),
        ("orders", b"buyer-2", order(quantity="2"), "quantity must be an integer"),
        ("orders", b"buyer-3", order(quantity=-3), "quantity must be >= 1"),
        ("orders", b"buyer-4", no_sku, "sku is missing"),
        ("orders", b"buyer-5", order(unit_price=float("nan")), "NaN is not valid JSON"),
        ("orders", b"buyer-6", order(ts="3024-11-11T12:00:00+00:00"), "outside 2000..2100"),
        ("orders", b"buyer-0", order(ts=at(150 + 3 * 86400)), "away from the Kafka timestamp"),
        ("clicks", b"alice", click(action="purchase"), "action must be one of"),
        ("clicks", b"alice", no_user, "user_id is missing"),
        ("clicks", b"bob", b"\xff\xfe{}", "not UTF-8"),
        ("clicks", b"bob", click(action="search"), "a search needs a query"),
        ("clicks", b"alice", click(sku=42), "sku must be a string"),
        ("stock", b"sku-knife", level(on_hand=-5), "on_hand must be >= 0"),
        ("stock", b"sku-pan", level(sku="sku-pan", inbound="ten"), "inbound must be an integer"),
        ("stock", b"sku-mat", level(sku="sku-mat", ts="2026-11-11T12:00:00"), "has no time zone"),
        ("stock", b"sku-earbuds", b"[1, 2]", "must be a JSON object"),
        ("catalog", b"sku-bad-1", item(campaign={**campaign, "discount": 0.9}), "discount must lie within"),
        ("catalog", b"sku-bad-2", item(base_price=float("nan")), "NaN is not valid JSON"),
        ("catalog", b"sku-bad-3", no_title, "title is missing"),
        (
            "catalog",
            b"sku-bad-4",
            item(campaign={**campaign, "ends_at": campaign["starts_at"]}),
            "must be before",
        ),
    ]
    out = []
    for i, (topic, key, value, reason) in enumerate(cases):
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        out.append((message(topic, key, raw, sale.at(90 + 30 * i).timestamp()), reason))
    return out


def test_bad_events_are_dead_lettered_and_good_ones_processed(
    settings: Settings,
    db_schema: str,
    sale: Any,
    publish: Callable,
    start_worker: Callable,
    read_topic: Callable,
    e2e: Any,
) -> None:
    bad = bad_events(sale, e2e.message)
    reasons = dict(bad)  # message → the reason it must be rejected for
    messages = sorted(sale.messages + [m for m, _ in bad], key=lambda m: m.ts)
    sent = publish(settings, messages)
    start_worker(settings)
    expected = e2e.replay_decisions(sale.messages, settings)  # a clean run: the good events only

    restock_topic = read_topic(settings, "restock")
    discount_topic = read_topic(settings, "discount-adjustments")
    restocks = restock_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["restock"]))
    discounts = discount_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["discount"]))
    assert e2e.decisions_of(restocks) == expected["restock"]
    assert e2e.decisions_of(discounts) == expected["discount"]

    # Every good order, stock level and catalog item reached the per-SKU topic.
    per_sku = [s for s in sent if s.message not in reasons and s.message.topic != "clicks"]
    wanted = {(f"{s.message.topic}/{s.partition}", s.offset) for s in per_sku}

    def forwarded(records: list[Any]) -> set[tuple[str, int]]:
        headers = [h for r in records if (h := dict(r.headers))["kind"] not in (b"mark", b"nudge")]
        return {(h["source"].decode(), int(h["source_offset"])) for h in headers}

    read_topic(settings, "sku-events").until(lambda rs: forwarded(rs) >= wanted)

    # Every good click of the clickers was learnt and recommended on.
    clicks = {m.data["event_id"] for m in sale.of("clicks")}
    read_topic(settings, "recommendations").until(
        lambda rs: clicks <= {json.loads(r.value)["source_event_id"] for r in rs}
    )

    # Every bad event, and nothing else, is a dead letter naming its source and its reason.
    dead_reader = read_topic(settings, "dead-letters")
    dead_reader.until(lambda rs: len(rs) >= len(bad))
    dead = {}
    for record in dead_reader.to_end():
        h = {k: v.decode() for k, v in record.headers}
        dead[(h["source_topic"], int(h["source_partition"]), int(h["source_offset"]))] = (record, h)
    bad_sent = {(s.topic, s.partition, s.offset): s.message for s in sent if s.message in reasons}
    assert set(dead) == set(bad_sent)
    for coordinates, m in bad_sent.items():
        record, h = dead[coordinates]
        assert (record.key, record.value) == (m.key, m.value)
        assert h["error_class"] == "InvalidEvent" and reasons[m] in h["error_message"], h
