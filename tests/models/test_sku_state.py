"""SkuState: event-time buckets, what the forecaster learns, and when decisions are (not) taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.policy.sku_state import SkuPolicy, SkuState

T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)


def at(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


def campaign(start: float, end: float, lead: int = 10) -> dict:
    iso = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    return {"campaign_id": "c1", "starts_at": iso(start), "ends_at": iso(end), "discount": 0.2,
            "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": lead}  # fmt: skip


def order(quantity: int) -> dict:
    return {"order_id": "o", "quantity": quantity, "unit_price": 10.0}


def test_buckets_close_on_event_time_including_empty_ones() -> None:
    state = SkuState("s1")
    state.apply({"on_hand": 100, "inbound": 0}, at(0))
    state.apply(order(3), at(0.5))
    state.advance(at(3))
    assert state.closed_buckets == 3 and state.forecaster.n_seen == 3
    assert state.forecaster.total == 3  # 3 units, then two empty buckets


def test_sold_out_buckets_do_not_teach_zero_demand() -> None:
    state = SkuState("s1")
    state.apply({"on_hand": 0, "inbound": 0}, at(0))
    state.advance(at(5))
    assert state.closed_buckets == 5 and state.forecaster.n_seen == 0


def test_restock_when_demand_outruns_stock_but_not_for_after_the_sale() -> None:
    def run(sale_end: float) -> list[str]:
        state = SkuState("s1", SkuPolicy(review_buckets=5))
        state.apply({"title": "t", "campaign": campaign(0, sale_end)}, at(0))
        state.apply({"on_hand": 20, "inbound": 0}, at(0))
        kinds = []
        for minute in range(10):
            state.apply(order(5), at(minute + 0.5))
            kinds += [d.kind for d in state.advance(at(minute + 1))]
        return kinds

    assert "restock" in run(sale_end=120)  # a long sale: stock must come in
    assert "restock" not in run(sale_end=12)  # it would arrive after the sale ends


def test_decisions_are_deterministic() -> None:
    def decisions() -> list[tuple[str, dict]]:
        state = SkuState("s1")
        state.apply({"title": "t", "campaign": campaign(0, 60)}, at(0))
        state.apply({"on_hand": 500, "inbound": 0}, at(0))
        return [(d.kind, d.fields) for d in state.advance(at(20))]

    first = decisions()
    assert first and first == decisions()
    assert all(fields["event_id"] for _, fields in first)


def test_status_forecasts_the_open_bucket_with_its_band() -> None:
    state = SkuState("s1", SkuPolicy(service_level=0.9))
    state.apply({"on_hand": 50, "inbound": 7}, at(0))
    for minute in range(6):
        state.apply(order(2 + minute % 2), at(minute + 0.5))
    state.advance(at(6))
    status = state.status()
    forecast = status["forecast"]
    assert status["inbound"] == 7 and status["units_sold"] == 15
    assert forecast["bucket"] == (T0 + timedelta(minutes=6)).isoformat()  # the bucket now open
    assert forecast["level"] == 0.9
    assert 0 <= forecast["lo"] < forecast["units"] < forecast["hi"]


def test_an_order_beyond_the_known_stock_is_counted_and_flagged_as_oversold() -> None:
    state = SkuState("sku-1")
    state.apply({"title": "Phone", "campaign": None}, at(0))
    state.apply(order(5), at(0.5))  # before any stock level: nothing to judge it by
    state.apply({"on_hand": 3, "inbound": 0, "ts": "…"}, at(1))
    state.apply(order(2), at(1))  # the stock event of the same instant already counts it
    state.apply(order(2), at(2))  # 3 on hand: fine
    state.apply(order(2), at(3))  # 1 left: one unit beyond it
    state.apply(order(1), at(4))  # none left: all of it
    assert state.units_sold == 12  # the sales happened
    assert (state.oversold_units, state.oversold_orders) == (2, 2)
    state.apply({"on_hand": 4, "inbound": 0, "ts": "…"}, at(5))  # a restock arrived
    state.apply(order(4), at(6))
    status = state.status()
    assert (status["oversold_units"], status["oversold_orders"]) == (2, 2)


def test_a_sale_that_reports_stock_after_each_order_is_never_oversold() -> None:
    state, on_hand = SkuState("sku-1"), 4
    state.apply({"on_hand": on_hand, "inbound": 0, "ts": "…"}, at(0))
    for minute in (1, 2, 3, 4):  # the simulator's way: each order, then the stock it left, same time
        on_hand -= 1
        state.apply({"on_hand": on_hand, "inbound": 0, "ts": "…"}, at(minute))  # stock sorts first
        state.apply(order(1), at(minute))
    assert on_hand == 0 and state.oversold_units == 0
