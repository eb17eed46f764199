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


def test_restock_when_demand_outruns_stock_sized_for_what_is_left_of_the_sale() -> None:
    def run(sale_end: float) -> list[int]:
        state = SkuState("s1", SkuPolicy(review_buckets=5))
        state.apply({"title": "t", "campaign": campaign(0, sale_end)}, at(0))
        state.apply({"on_hand": 20, "inbound": 0}, at(0))
        ordered = []
        for minute in range(10):
            state.apply(order(5), at(minute + 0.5))
            ordered += [d.fields["quantity"] for d in state.advance(at(minute + 1)) if d.kind == "restock"]
        return ordered

    long_sale = run(sale_end=120)
    assert long_sale and sum(long_sale) > 5 * 40  # a long sale: stock for most of what is left of it
    assert run(sale_end=10) == []  # it would land after the sale: nobody to sell it to
    last_minute = run(sale_end=12)  # it lands for the sale's last minute: sized for that minute
    assert len(last_minute) == 1 and last_minute[0] < 20


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


def live_sale(policy: SkuPolicy, on_hand: int = 500) -> SkuState:
    state = SkuState("s1", policy)
    state.apply({"title": "t", "campaign": campaign(0, 60)}, at(0))
    state.apply({"on_hand": on_hand, "inbound": 0}, at(0))
    return state


def test_the_first_discount_change_waits_for_evidence_and_says_so() -> None:
    state = live_sale(SkuPolicy(min_evidence_buckets=4, discount_cooldown_minutes=0))
    changes = []
    for minute in range(8):
        state.apply(order(1), at(minute + 0.5))
        changes += [(minute, d) for d in state.advance(at(minute + 1)) if d.kind == "discount"]
    first_minute, first = changes[0]
    assert first_minute == 3  # the 4th campaign bucket closes at minute 4: the first that may move
    assert "first change, after 4 campaign minutes of sales (4 units)" in first.fields["reason"]
    assert all("first change" not in d.fields["reason"] for _, d in changes[1:])
    eager = live_sale(SkuPolicy(min_evidence_buckets=0))
    eager.apply(order(1), at(0.5))
    assert [d.kind for d in eager.advance(at(1))] == ["discount"]  # without the rule: at once


def test_the_demand_model_learns_the_discount_the_catalog_published() -> None:
    state = live_sale(SkuPolicy(min_evidence_buckets=99))
    seen: list[tuple[float, bool]] = []
    original = state.demand.learn_one

    def spy(units: float, discount: float, live: bool) -> None:
        seen.append((discount, live))
        original(units, discount, live)

    state.demand.learn_one = spy  # type: ignore[method-assign]
    state.advance(at(2))
    republished = {**campaign(0, 60), "discount": 0.45}  # the shop applied a discount: same campaign
    state.apply({"title": "t", "campaign": republished}, at(2))
    assert state.live_discount == 0.45 and state.discount == 0.2  # ours stays what we decided
    state.advance(at(3))
    assert seen == [(0.2, True), (0.2, True), (0.45, True)]


def test_a_supplier_that_takes_less_than_ordered_gets_no_more_orders_this_campaign() -> None:
    def run(accepts: bool) -> tuple[list[int], bool]:
        state = live_sale(SkuPolicy(restock_confirm_buckets=2, min_evidence_buckets=99), on_hand=10)
        ordered_at: list[int] = []
        inbound = 0
        for minute in range(12):
            state.apply(order(3), at(minute + 0.5))
            state.apply({"on_hand": 5, "inbound": inbound}, at(minute + 0.9))  # the shop's stock report
            new = [d.fields["quantity"] for d in state.advance(at(minute + 1)) if d.kind == "restock"]
            inbound += sum(new) if accepts else 0
            ordered_at += [minute] * len(new)
        return ordered_at, state.supplier_short_at is not None

    ordered_at, short = run(accepts=False)
    # The first order (end of minute 0) may show as inbound until 2 minutes later; the report of
    # minute 3 is the first to say it did not, and no order follows it.
    assert short and ordered_at[0] == 0 and max(ordered_at) <= 2
    ordered_at, short = run(accepts=True)
    assert not short and ordered_at
