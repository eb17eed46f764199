"""The dashboard's state: records folded into the snapshot the page draws (no broker)."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.contracts.eventtime import EventTimePolicy
from streams.tools.dashboard.sku_row import MAX_BUCKETS
from streams.tools.dashboard.state import DashboardState, Fed

T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)
MINUTE_MS = 60_000


def ms(minutes: float) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def fed(topic: str, value: dict[str, Any] | bytes, minutes: float, headers: tuple = ()) -> Fed:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Fed(topic, b"k", raw, ms(minutes), headers)


def status(sku: str, minutes: float, forecast_for: float | None = None, **fields: Any) -> Fed:
    value: dict[str, Any] = {"sku": sku, "on_hand": 10, "inbound": 0, "discount": 0.2, "units_sold": 0}
    value.update(fields)
    if forecast_for is not None:
        value["forecast"] = {"bucket": iso(forecast_for), "units": 2.0, "lo": 0.5, "hi": 4.0, "level": 0.95}
    return fed("sku-status", value, minutes)


def order(sku: str, minutes: float, quantity: int = 1) -> Fed:
    value = {"event_id": f"e{minutes}", "order_id": f"o{minutes}", "user_id": "u1", "sku": sku,
             "quantity": quantity, "unit_price": 9.5, "ts": iso(minutes)}  # fmt: skip
    return fed("orders", value, minutes)


def restock(sku: str, minutes: float, event_id: str = "r1") -> Fed:
    value = {"event_id": event_id, "sku": sku, "quantity": 20, "on_hand": 3, "inbound": 0,
             "forecast_units": 12.5, "horizon_minutes": 15, "service_level": 0.95,
             "reason": "forecast 12.5 units over the lead time", "ts": iso(minutes)}  # fmt: skip
    return fed("restock", value, minutes)


def discount(sku: str, minutes: float, new: float, event_id: str = "d1") -> Fed:
    value = {"event_id": event_id, "sku": sku, "campaign_id": "c1", "old_discount": 0.2,
             "new_discount": new, "projected_sell_through": 0.7, "reason": "selling too slowly",
             "ts": iso(minutes)}  # fmt: skip
    return fed("discount-adjustments", value, minutes)


def folded(*records: Fed) -> DashboardState:
    state = DashboardState(bucket_s=60, namespace="ns1", group="flashsale.ns1")
    for record in records:
        state.fold(record)
    return state


def row(state: DashboardState, sku: str) -> dict[str, Any]:
    return next(r for r in state.snapshot()["skus"] if r["sku"] == sku)


def test_a_status_sets_stock_sales_discount_and_forecast_band() -> None:
    state = folded(status("A", 1, forecast_for=1, on_hand=7, inbound=5, units_sold=12, discount=0.3))
    got = row(state, "A")
    assert (got["on_hand"], got["inbound"], got["units_sold"], got["discount"]) == (7, 5, 12, 0.3)
    assert got["forecast"] == {"units": 2.0, "lo": 0.5, "hi": 4.0}
    assert state.snapshot()["totals"]["units_sold"] == 12
    assert got["oversold_units"] == 0  # a status from a worker that did not flag oversell


def test_units_sold_beyond_the_stock_are_shown() -> None:
    assert row(folded(status("A", 1, units_sold=12, oversold_units=2)), "A")["oversold_units"] == 2


def test_actuals_are_shown_for_closed_buckets_beside_their_forecast() -> None:
    state = folded(
        order("A", 0.2, 2), order("A", 1.5, 3), order("A", 2.1, 9),  # minute 2 is still open
        status("A", 1, forecast_for=1), status("A", 2, forecast_for=2),
    )  # fmt: skip
    points = state.snapshot("A")["series"]["points"]
    assert points == [
        [ms(0), 2, None, None, None],  # before the first status: no forecast
        [ms(1), 3, 2.0, 0.5, 4.0],
        [ms(2), None, 2.0, 0.5, 4.0],  # the open bucket: forecast only, its orders are still coming
    ]


def test_a_newer_discount_adjustment_wins_and_an_older_status_does_not_undo_it() -> None:
    state = folded(discount("A", 3, new=0.35), status("A", 2, discount=0.2))
    assert row(state, "A")["discount"] == 0.35
    state.fold(status("A", 4, discount=0.4))
    assert row(state, "A")["discount"] == 0.4


def test_a_redelivered_decision_is_listed_and_counted_once_with_its_reason() -> None:
    state = folded(restock("A", 1), restock("A", 1), discount("B", 2, new=0.3))
    snap = state.snapshot()
    assert [(d["kind"], d["sku"]) for d in snap["decisions"]] == [("discount", "B"), ("restock", "A")]
    assert snap["decisions"][1]["reason"] == "forecast 12.5 units over the lead time"
    assert "order 20" in snap["decisions"][1]["what"]
    assert row(state, "A")["last_decision"]["kind"] == "restock"
    assert (snap["totals"]["restocks"], snap["totals"]["discounts"]) == (1, 1)


def test_the_timeline_counts_decisions_per_minute_of_event_time_by_kind() -> None:
    state = folded(
        restock("A", 1.2, "r1"), restock("B", 1.9, "r2"), discount("A", 1.5, 0.3, "d1"),
        discount("A", 4.0, 0.35, "d2"),
    )  # fmt: skip
    assert state.snapshot()["timeline"] == [[ms(1), 2, 1], [ms(4), 0, 1]]


def test_recommendations_are_counted_per_minute() -> None:
    rec = {"user_id": "u1", "items": [], "model": "m", "source_event_id": "c1", "ts": iso(0)}
    state = folded(*(fed("recommendations", rec, m) for m in (0.1, 0.5, 0.9, 2.0)))
    assert state.snapshot()["recommendations_per_minute"] == [[ms(0), 3.0], [ms(2), 1.0]]


def test_dead_letters_are_grouped_by_their_error_class_header() -> None:
    def dead(error: str, source: str) -> Fed:
        headers = (("source_topic", source.encode()), ("error_class", error.encode()),
                   ("error_message", b"why " + error.encode()))  # fmt: skip
        return fed("dead-letters", b"\xff raw bytes", 0, headers)

    state = folded(dead("InvalidEvent", "ns1.orders"), dead("LateEvent", "ns1.stock"),
                   dead("InvalidEvent", "ns1.clicks"), fed("dead-letters", b"x", 0))  # fmt: skip
    letters = state.snapshot()["dead_letters"]
    assert [(d["reason"], d["count"]) for d in letters] == [
        ("InvalidEvent", 2),
        ("LateEvent", 1),
        ("unknown", 1),
    ]
    assert letters[0]["sources"] == {"orders": 1, "clicks": 1}
    assert letters[0]["last_message"] == "why InvalidEvent"
    assert state.snapshot()["reader"]["bad"] == {}  # a dead letter's own bytes are not the dashboard's


def test_bad_records_are_counted_and_the_state_goes_on() -> None:
    bad = [
        fed("sku-status", b"not json", 0),
        fed("sku-status", pickle.dumps({"sku": "A"}), 0),  # never unpickled: not JSON, so bad
        fed("sku-status", b'{"sku": "A", "on_hand": NaN}', 0),
        fed("sku-status", {"sku": "A", "on_hand": "7"}, 0),
        fed("orders", {"sku": "A", "quantity": 1}, 0),  # fields missing
        fed("restock", b"[1, 2]", 0),
        fed("no-such-topic", b"{}", 0),
    ]
    state = folded(*bad, status("A", 1, units_sold=4))
    reader = state.snapshot()["reader"]
    assert sum(reader["bad"].values()) == len(bad)
    assert reader["bad"]["sku-status"] == 4 and reader["records"]["sku-status"] == 5
    assert "no-such-topic" in reader["bad"] and reader["last_bad"].startswith("no-such-topic")
    assert row(state, "A")["units_sold"] == 4


def test_the_series_defaults_to_the_top_seller_and_any_sku_can_be_asked_for() -> None:
    state = folded(status("A", 1, units_sold=3, forecast_for=1), status("B", 1, units_sold=9))
    assert state.snapshot()["series"]["sku"] == "B"
    assert state.snapshot("A")["series"]["sku"] == "A"
    assert state.snapshot("nope")["series"]["sku"] == "B"
    json.dumps(state.snapshot(), allow_nan=False)  # the page's JSON: no NaN, nothing unserialisable


def test_series_keep_only_the_newest_buckets() -> None:
    state = folded(*(order("A", m) for m in range(MAX_BUCKETS + 10)))
    points = state.snapshot("A")["series"]["points"]
    assert len(points) == MAX_BUCKETS and points[0][0] == ms(10)


def test_each_change_moves_the_version_so_pages_are_pushed_again() -> None:
    state = folded()
    before = state.version
    state.fold(status("A", 1))
    state.set_lag({"group": "g", "total": 3, "by_topic": {"orders": 3}, "committed": True})
    state.set_lag({"group": "g", "total": 3, "by_topic": {"orders": 3}, "committed": True})  # unchanged
    assert state.version == before + 2
    assert state.snapshot()["lag"]["total"] == 3


def test_orders_of_a_kcat_backfill_count_in_their_own_minute_in_payload_mode() -> None:
    """Sent 30 h after they happened (kcat's send-time stamps): payload mode charts them at their
    payload minute; the contract's mode counts them as bad."""
    sent_later = [replace(order("A", m), timestamp_ms=ms(30 * 60 + m)) for m in (1, 1.5, 3)]
    payload = DashboardState(bucket_s=60, event_time=EventTimePolicy("payload", timedelta(hours=72)))
    for record in sent_later:
        payload.fold(record)
    assert payload.skus["A"].actuals == {ms(1): 2, ms(3): 1}
    assert payload.snapshot()["event_time"] == iso(3)
    contract = folded(*sent_later)
    assert "A" not in contract.skus and contract.snapshot()["reader"]["bad"] == {"orders": 3}
