"""Policy evaluation: metrics on hand-made ledgers, the in-process adaptive path, forecasts, hit-rates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.policy.sku_state import Decision
from models.sim.evaluation import AdaptivePolicy, evaluate, forecast_mae, policy_metrics, to_sim
from models.sim.ledger import Ledger, SkuOutcome
from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent
from models.sim.policies import Restock, SetDiscount, run_policy
from models.sim.recommendation_evaluation import (
    ShadowRecommender,
    discoveries,
    hit_rate_at_k,
    popularity_hit_rate,
)

TINY = ScenarioConfig(
    seed=3, n_users=150, n_skus=6, duration_minutes=30, campaign_offset_minutes=5, campaign_minutes=20,
    sessions_per_minute=30.0, restock_lead_minutes=3,
)  # fmt: skip
T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)


def outcome(sku: str, initial: int, sold: int, arrived: int, leftover: int, stockout: int) -> SkuOutcome:
    return SkuOutcome(
        sku=sku, category="audio", base_price=10.0, in_campaign=True, elasticity=2.0, initial_stock=initial,
        units_sold=sold, revenue=sold * 7.0, lost_units=1, stockout_minutes=stockout, restocked_units=arrived,
        arrived_units=arrived, leftover=leftover, mean_campaign_discount=0.3,
    )  # fmt: skip


def test_policy_metrics_of_a_hand_made_ledger() -> None:
    skus = (outcome("a", 10, 8, 0, 2, 0), outcome("b", 5, 9, 5, 1, 4))
    empty = np.zeros((2, 3))
    ledger = Ledger(skus, empty, empty, empty, empty, empty, {}, 0, 0)
    m = policy_metrics(ledger)
    assert m["revenue"] == 17 * 7.0 and m["units"] == 17
    assert m["sell_through"] == round(17 / 20, 4)  # sold / (initial + arrived)
    assert (m["stockout_minutes"], m["leftover"], m["restocked_units"]) == (4, 3, 5)


def test_hit_rate_counts_only_the_latest_list_shown_before_the_order() -> None:
    shown = [(1.0, "u1", ("a", "b")), (5.0, "u1", ("c",)), (9.0, "u2", ("a",))]
    orders = [
        (4.0, "u1", "a", 1),  # list at 1.0 holds a: hit
        (6.0, "u1", "a", 1),  # superseded by the list at 5.0: miss
        (9.0, "u2", "a", 1),  # shown at the same instant, not before: miss
        (9.5, "u3", "a", 1),  # never shown a list: miss
    ]
    assert hit_rate_at_k(orders, shown) == 0.25
    assert hit_rate_at_k(orders[:1], [(1.0, "u1", ("b", "a"))], k=1) == 0.0  # beyond k
    assert hit_rate_at_k([], shown) == 0.0


def test_popularity_hit_rate_uses_units_in_the_window_before_each_order() -> None:
    orders = [(0.0, "u1", "a", 3), (0.0, "u2", "b", 1), (10.0, "u3", "a", 1), (700.0, "u4", "b", 1)]
    # t=0: nothing before (both miss); t=10: a leads by units (hit); t=700: the window [100, 700) is empty.
    assert popularity_hit_rate(orders, k=1, window_s=600) == 0.25
    assert popularity_hit_rate(orders, k=2, window_s=1000) == 0.5  # t=700 now sees a and b


def test_forecast_mae_against_seasonal_naive_on_known_series() -> None:
    sold = np.array([[0, 2, 0, 2, 0, 2], [1, 1, 1, 1, 1, 1]])
    scores, runs = forecast_mae(sold, season=1)
    # Seasonal-naive (season 1 = last value) misses by 2 on every alternate step and by 0 on the flat row.
    assert scores["seasonal_naive_mae"] == pytest.approx(1.0)
    assert np.isnan(runs[0]["forecast"][0]) and not np.isnan(runs[0]["forecast"][1:]).any()
    assert all((r["lo"][1:] <= r["forecast"][1:] + 1e-9).all() for r in runs)


def test_decisions_become_market_actions() -> None:
    discount = Decision("discount", "s1", T0, {"new_discount": 0.4})
    restock = Decision("restock", "s1", T0, {"quantity": 12})
    assert to_sim(discount) == SetDiscount("s1", 0.4) and to_sim(restock) == Restock("s1", 12)


def test_adaptive_path_is_deterministic() -> None:
    runs = [AdaptivePolicy(lag_minutes=1) for _ in range(2)]
    ledgers = [run_policy(TINY, policy) for policy in runs]
    assert ledgers[0].summary() == ledgers[1].summary()
    assert [d.fields for d in runs[0].decisions] == [d.fields for d in runs[1].decisions]
    assert runs[0].decisions, "the tiny scenario should take some decisions"


def test_adaptive_path_orders_a_step_by_event_time_like_the_worker() -> None:
    market = FlashSaleMarket(TINY)
    steps = [market.initial_events(), *(market.step(1) for _ in range(TINY.duration_minutes))]
    ordered, shuffled = AdaptivePolicy(), AdaptivePolicy()
    rng = random.Random(0)
    for m, events in enumerate(steps):
        now = TINY.minute_start(m)
        ordered.observe(events, now)
        mixed = list(events)
        rng.shuffle(mixed)
        shuffled.observe(mixed, now)
    assert [d.fields["event_id"] for d in ordered.decisions] == [
        d.fields["event_id"] for d in shuffled.decisions
    ]


def test_lag_holds_decisions_back_one_step() -> None:
    eager, lagged = AdaptivePolicy(), AdaptivePolicy(lag_minutes=1)
    market = FlashSaleMarket(TINY)
    events: list[SimEvent] = market.initial_events()
    out_eager, out_lagged = [], []
    for _ in range(TINY.campaign_end_minute):
        out_eager.append(eager(events, market.now))
        out_lagged.append(lagged(events, market.now))
        events = market.step(1)
    assert out_lagged[0] == [] and out_lagged[1:] == out_eager[:-1]


def test_shadow_recommender_debounces_records_orders_and_judges_popularity_alike() -> None:
    def at(s: float) -> str:
        return (T0 + timedelta(seconds=s)).isoformat()

    campaign = {"campaign_id": "c", "starts_at": at(0), "ends_at": at(3600)}
    catalog = [
        SimEvent(
            "catalog",
            s,
            {"sku": s, "title": f"{s} speaker", "category": c, "campaign": campaign, "updated_at": at(0)},
        )
        for s, c in (("a", "audio"), ("b", "toys"))
    ]
    clicks = [
        SimEvent("clicks", "u1", {"event_id": f"c{t}", "user_id": "u1", "sku": "a", "action": a, "ts": at(t)})
        for a, t in (("view", 1), ("click", 3), ("add_to_cart", 7))
    ]
    order = SimEvent(
        "orders", "u1", {"event_id": "o", "user_id": "u1", "sku": "a", "quantity": 2, "ts": at(8)}
    )
    rec = ShadowRecommender(k=1, debounce_s=5.0)
    rec.observe([*catalog, *clicks, order])
    assert [t for t, _, _ in rec.shown] == [T0.timestamp() + 1, T0.timestamp() + 7]  # 3 s and 8 s wait
    assert rec.shown[-1][2] == ("b",)  # "a" was just touched: something new takes the one slot
    assert rec.orders == [(T0.timestamp() + 8, "u1", "a", 2)]
    assert discoveries(rec.orders, rec.shown, rec.first_touch) == []  # u1 touched "a" before any list
    assert hit_rate_at_k(rec.orders, rec.shown, k=1) == 0.0
    rec.recent_share = 1.0  # seen-lately items may fill the list: the stream's setting, 1.0
    later = {"event_id": "c20", "user_id": "u1", "sku": "b", "action": "view", "ts": at(120)}
    rec.observe([SimEvent("clicks", "u1", later)])
    assert rec.shown[-1][2] == ("b",) and rec.lists[("u1", "c20")][0][0] == "b"  # "a" bought: never again
    for lists in rec.popular.values():  # popularity at the same moments, under the same rules
        assert [t for t, _, _ in lists] == [t for t, _, _ in rec.shown]
        assert lists[-1][2] == ("b",)  # "a" sold the most, but u1 bought it
    assert rec._ranker is not None and rec._ranker[1].choose(rec._ranker[1].sales, 1) == ("a",)  # to others


def test_evaluate_reports_every_policy_forecast_and_hit_rate() -> None:
    report = evaluate(TINY).report
    assert list(report["policies"]) == ["static", "best_static", "adaptive", "clairvoyant"]
    for policy in report["policies"].values():
        assert {"revenue", "units", "sell_through", "stockout_minutes", "leftover"} <= policy.keys()
    assert report["policy_labels"]["clairvoyant"] == "clairvoyant plan (knows true demand)"
    revenue = {name: p["revenue"] for name, p in report["policies"].items()}
    assert revenue["best_static"] >= revenue["static"]  # the campaign's own discount is a candidate
    assert TINY.min_discount <= report["best_static_discount"] <= TINY.max_discount
    assert {"mae", "seasonal_naive_mae"} <= report["forecast"].keys()
    recs = report["recommendations"]
    assert recs["lists"] > 0 and 0 < recs["novel_orders"] <= recs["orders"]
    for key in (
        "hit_rate_at_10",
        "popularity_hit_rate_at_10",
        "novel_hit_rate_at_10",
        "popularity_novel_hit_rate_at_10",
    ):
        assert 0.0 <= recs[key] <= 1.0
    assert set(recs["popularity_readings"]) == {"recent_units", "units_so_far", "at_order_time"}
    assert (
        recs["popularity_readings"]["units_so_far"]["novel_hit_rate"]
        == recs["popularity_novel_hit_rate_at_10"]
    )
