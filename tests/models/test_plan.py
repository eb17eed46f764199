"""``flashsale plan``'s maths: the history it reads, the demand model it fits, the plan it gives."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.plan.demand import FitOptions, hour_and_weekday
from models.plan.history import History, SkuInfo, Terms, from_minutes, from_status
from models.plan.learn import fit
from models.plan.recommend import PlanOptions, best_discounts, choose_windows, fluid_units, plan_sale
from models.plan.report import plan_report, table_lines
from models.plan.scenario import PlanScenario, sku_infos, stream_history
from models.sim.baselines import clairvoyant_plan
from models.sim.truth import MarketTruth, ScenarioConfig

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
# sku, category, elasticity, level (units/min at full price), category peak hour
SKUS = (
    ("A1", "toys", 2.2, 0.6),
    ("A2", "toys", 1.6, 0.3),
    ("B1", "beauty", 0.7, 0.5),
    ("B2", "beauty", 1.0, 0.4),
)
PEAK = {"toys": 19, "beauty": 9}
WEEKDAY = np.array([0.8, 0.9, 0.9, 1.0, 1.1, 1.3, 1.0])


def synthetic(days: int = 14, lift: float = 3.0, prices: bool = True, seed: int = 0) -> History:
    """10-minute rows from known parameters, with a 2-hour campaign (14:00, day 10 or the last) at
    random prices."""
    rng = np.random.default_rng(seed)
    t = MONDAY.timestamp() + 600.0 * np.arange(days * 144)
    hours, days_of_week = hour_and_weekday(t)
    day = min(10, days - 1)
    campaign = (t[day * 144 + 84], t[day * 144 + 96])
    inside = (t >= campaign[0]) & (t < campaign[1])
    rows = []
    for i, (_, category, elasticity, level) in enumerate(SKUS):
        gap = np.abs((hours - PEAK[category] + 12) % 24 - 12)
        shape = 0.3 + 2.0 * np.exp(-0.5 * (gap / 2.0) ** 2)
        d = np.where(inside, rng.choice([0.1, 0.3, 0.5], t.size), 0.0) if prices else np.zeros(t.size)
        mean = (
            10 * level * shape * WEEKDAY[days_of_week] * np.where(inside, lift, 1.0) * (1 - d) ** -elasticity
        )
        rows.append(np.column_stack([np.full(t.size, i), t, np.full(t.size, 10.0), rng.poisson(mean), d]))
    table = np.concatenate(rows)
    skus = tuple(SkuInfo(s, c, 20.0) for s, c, _, _ in SKUS)
    return History(
        skus,
        table[:, 0].astype(int),
        table[:, 1],
        table[:, 2],
        table[:, 3],
        table[:, 4],
        np.full(len(SKUS), 40),
        (campaign,),
        Terms(),
    )


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return fit(synthetic())


def status(sku: str, minute: int, sold: int, on_hand: int = 9, discount: float = 0.3) -> dict:
    bucket = (MONDAY + timedelta(minutes=minute)).isoformat()
    return {
        "sku": sku,
        "units_sold": sold,
        "on_hand": on_hand,
        "inbound": 1,
        "discount": discount,
        "forecast": {"bucket": bucket, "units": 0.0, "lo": 0.0, "hi": 1.0, "level": 0.9},
    }


def test_status_records_become_intervals_with_the_live_discount() -> None:
    campaign = {
        "campaign_id": "c",
        "starts_at": (MONDAY + timedelta(minutes=2)).isoformat(),
        "ends_at": (MONDAY + timedelta(minutes=4)).isoformat(),
        "discount": 0.3,
        "min_discount": 0.1,
        "max_discount": 0.6,
        "restock_lead_minutes": 15,
    }
    catalog = {"A": {"category": "toys", "base_price": 9.0, "campaign": campaign}}
    records = [status("A", m, n) for m, n in [(1, 0), (2, 1), (3, 3), (4, 4), (5, 6)]]
    records += [status("A", 200, 7), status("A", 201, 8, on_hand=0), status("GHOST", 3, 1)]
    h = from_status(records[::-1], catalog)  # any order
    assert h.units.tolist() == [1, 2, 1, 2]  # minutes 1, 2, 3, 4
    assert h.discount.tolist() == [0.0, 0.3, 0.3, 0.0]  # live only inside the campaign
    assert h.dropped == {"gap": 1, "sold_out": 1, "unknown_sku": 1}
    assert h.stock.tolist() == [1] and h.campaigns == ((MONDAY.timestamp() + 120, MONDAY.timestamp() + 240),)


def test_what_sku_status_says_is_what_the_market_sold() -> None:
    config = ScenarioConfig(
        seed=3,
        n_users=200,
        n_skus=6,
        start=MONDAY,
        duration_minutes=90,
        campaign_offset_minutes=30,
        campaign_minutes=30,
        sessions_per_minute=60.0,
    )
    records, ledger = stream_history(config)
    catalog = {r.key: r.value for r in records if r.topic == "catalog"}
    statuses = [r for r in records if r.topic == "sku-status"]
    seen = from_status([r.value for r in statuses], catalog, [r.ts for r in statuses])
    sold = {(seen.skus[i].sku, t): u for i, t, u in zip(seen.sku, seen.start, seen.units, strict=True)}
    truth = MarketTruth(config)
    kept = from_minutes(sku_infos(truth), MONDAY.timestamp(), ledger.sold, ledger.discount, ledger.on_hand)
    want = {(kept.skus[i].sku, t): u for i, t, u in zip(kept.sku, kept.start, kept.units, strict=True)}
    assert ledger.units_sold > 50
    assert {k: v for k, v in want.items() if k in sold} == sold  # all but each SKU's first minute
    assert len(sold) >= len(want) - config.n_skus


def test_fit_finds_each_categorys_peak_the_weekdays_the_lift_and_the_elasticities(model) -> None:  # type: ignore[no-untyped-def]
    hourly = model.hourly()
    for c, category in enumerate(model.categories):
        assert int(np.argmax(hourly[model.sku_category == c].sum(axis=0))) == PEAK[category]
    factor = np.exp(model.weekday)
    assert abs(factor[5] / factor[0] - WEEKDAY[5] / WEEKDAY[0]) < 0.1
    assert abs(np.exp(model.lift).mean() - 3.0) < 0.3
    truth = np.array([e for _, _, e, _ in SKUS])
    assert np.all(np.abs(model.elasticity - truth) < np.maximum(3 * model.elasticity_se, 0.15))
    assert model.covered_weekdays.all() and model.price_moved.all()


def test_without_price_moves_the_elasticity_is_the_prior() -> None:
    m = fit(synthetic(days=7, prices=False), FitOptions(elasticity_mean=1.3))
    assert not m.price_moved.any()
    np.testing.assert_allclose(m.elasticity, 1.3, atol=1e-6)


def test_an_empty_history_is_refused() -> None:
    h = synthetic(days=1)
    empty = replace(
        h, sku=h.sku[:0], start=h.start[:0], minutes=h.minutes[:0], units=h.units[:0], discount=h.discount[:0]
    )
    with pytest.raises(ValueError, match="nothing to learn"):
        fit(empty)


def test_fluid_sales_take_the_reorder_only_once_it_lands() -> None:
    sold = fluid_units(
        np.array([[10.0], [1.0]]), np.array([[10.0], [1.0]]), np.array([4.0, 4.0]), np.array([[5.0], [0.0]])
    )
    assert sold.tolist() == [[9.0], [2.0]]


def test_the_discount_is_the_clairvoyant_rule_on_the_demand_it_is_given() -> None:
    config = ScenarioConfig(
        seed=5,
        n_users=300,
        n_skus=12,
        duration_minutes=60,
        campaign_offset_minutes=0,
        campaign_minutes=60,
        p_buy=0.03,
        stock_coverage=(0.3, 3.0),
    )
    truth = MarketTruth(config)
    assert (truth.buy_probability(np.full(12, config.max_discount)) < config.max_buy).all()  # no cap: exact
    full_price = np.stack([truth.demand_rate(m, np.zeros(12)) for m in range(60)], axis=1)
    lead = config.restock_lead_minutes
    model = replace(fit(synthetic(days=1)), skus=sku_infos(truth), elasticity=truth.elasticity)
    terms = Terms(config.default_discount, config.min_discount, config.max_discount, lead)
    first, rest = (
        full_price[:, :lead].sum(axis=1, keepdims=True),
        full_price[:, lead:].sum(axis=1, keepdims=True),
    )
    _, discount, reorder = best_discounts(first, rest, model, truth.initial_stock, terms, PlanOptions())
    clairvoyant = clairvoyant_plan(truth)
    np.testing.assert_allclose(discount[:, 0], clairvoyant.discount)
    np.testing.assert_allclose(reorder[:, 0], clairvoyant.restock)
    assert len(set(clairvoyant.discount)) > 1  # stock and elasticity both mattered


def test_each_category_gets_its_own_peak_and_the_shortest_good_duration(model) -> None:  # type: ignore[no-untyped-def]
    stock = np.full(len(SKUS), 10_000)  # demand, not stock, decides
    choices = choose_windows(model, stock, Terms(), MONDAY.timestamp(), PlanOptions(durations=(60, 120)))
    for c, category in enumerate(model.categories):
        choice = choices[c]
        assert choice.start <= 60 * PEAK[category] < choice.start + choice.minutes
        assert choice.minutes == 120  # a longer sale earns more when stock is ample
    lenient = choose_windows(
        model, stock, Terms(), MONDAY.timestamp(), PlanOptions(durations=(60, 120), duration_tolerance=0.6)
    )
    assert {choice.minutes for choice in lenient.values()} == {60}


def test_where_stock_sells_out_anyway_the_window_still_takes_the_peak(model) -> None:  # type: ignore[no-untyped-def]
    stock = np.full(len(SKUS), 3)  # gone within minutes of any daytime opening
    choices = choose_windows(model, stock, Terms(), MONDAY.timestamp(), PlanOptions(durations=(60,)))
    for c, category in enumerate(model.categories):
        assert choices[c].start <= 60 * PEAK[category] < choices[c].start + 60, category
        revenue = choices[c].by_start
        assert (revenue >= 0.999 * revenue.max()).sum() > 1  # a tie the peak had to break


def test_the_plan_holds_its_stock_and_brackets_its_expectations(model) -> None:  # type: ignore[no-untyped-def]
    stock = np.array([5, 200, 50, 0])
    plan = plan_sale(model, stock, Terms(), datetime(2026, 11, 16, tzinfo=UTC), PlanOptions(draws=500))
    for s, now in zip(plan.skus, stock, strict=True):
        assert s.stock_now == now and s.starting_stock == now + s.reorder and s.reorder <= now
        assert s.units.lo <= s.units.expected <= s.units.hi + 1e-9
        assert s.units.hi <= s.starting_stock + 1e-9  # never more than it holds
    assert {c.category for c in plan.categories} == set(PEAK) and all(
        c.start.date().day == 16 for c in plan.categories
    )


def test_the_report_is_json_and_says_what_the_history_lacked() -> None:
    h = synthetic(days=3, prices=False)
    m = fit(h)
    plan = plan_sale(m, h.stock, Terms(), datetime(2026, 11, 5, tzinfo=UTC), PlanOptions(draws=200))
    report = json.loads(json.dumps(plan_report(plan, m, h)))
    assert len(report["categories"]) == 2 and len(report["skus"]) == len(SKUS)
    assert any("weekdays seen: Mon, Tue, Wed" in n for n in report["notes"])
    assert any("prices moved for 0 of 4" in n for n in report["notes"])
    lines = table_lines(plan, rows=2)
    assert len(lines) == 2 + 2 + 2 + 2 and "toys" in "\n".join(lines)


def test_the_validation_scenario_keeps_the_shop_and_moves_prices_only_in_its_past_sale() -> None:
    from models.plan.scenario import simulate_history

    sc = PlanScenario(n_skus=8, n_users=200, history_days=1, sessions_per_minute=20.0)
    h = simulate_history(2, sc)
    inside = (h.start >= h.campaigns[0][0]) & (h.start < h.campaigns[0][1])
    assert inside.sum() == 8 * sc.past_sale_minutes and (h.discount[~inside] == 0).all()
    assert len(np.unique(h.discount[inside])) > 3
