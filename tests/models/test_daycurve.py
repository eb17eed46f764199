"""The simulator's day curve: traffic by hour, weekday and category peak; a flat curve changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from models.sim.daycurve import TYPICAL_DAY, DayCurve
from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.sim.truth import MarketTruth

DAY = ScenarioConfig(
    seed=4,
    n_users=300,
    n_skus=16,
    start=datetime(2026, 11, 11, tzinfo=UTC),
    duration_minutes=1440,
    campaign_offset_minutes=600,
    campaign_minutes=60,
    sessions_per_minute=20.0,
    day_curve=TYPICAL_DAY,
    stock_coverage=(3.0, 4.0),
)
FLAT = DayCurve(hourly=(1.0,) * 24)


def hourly_units(config: ScenarioConfig) -> tuple[np.ndarray, MarketTruth]:
    market = FlashSaleMarket(config)
    market.initial_events()
    market.step(config.duration_minutes)
    return market.ledger().sold.reshape(config.n_skus, 24, 60).sum(axis=2), market.truth


def test_a_flat_day_curve_gives_exactly_the_events_of_no_curve() -> None:
    config = replace(DAY, duration_minutes=90, campaign_offset_minutes=20, day_curve=None)
    runs = []
    for curve in (None, FLAT):
        market = FlashSaleMarket(replace(config, day_curve=curve))
        runs.append(market.initial_events() + market.step(90))
    assert runs[0] == runs[1] and len(runs[0]) > 1000


def test_sales_follow_the_shop_curve_and_each_category_peaks_at_its_hour() -> None:
    units, truth = hourly_units(DAY)
    shop = units.sum(axis=0)
    assert shop[20:23].sum() > 4 * shop[2:5].sum()  # the evening peak against the night
    names = [truth.catalog[i].category for i in range(DAY.n_skus)]
    peaks = dict(TYPICAL_DAY.category_peaks)
    share = units / np.maximum(shop, 1)  # a category's share of the hour's units
    for category in ("electronics", "sports"):
        rows = [i for i, n in enumerate(names) if n == category]
        by_hour = share[rows].sum(axis=0)
        hour = int(peaks[category])
        assert by_hour[hour - 1 : hour + 2].mean() > 1.5 * by_hour[(hour + 12) % 24], category


def test_expected_demand_carries_the_day_curve() -> None:
    truth = MarketTruth(DAY)
    rate = np.stack([truth.demand_rate(m, np.zeros(DAY.n_skus)) for m in range(0, 1440, 60)], axis=1)
    flat = MarketTruth(replace(DAY, day_curve=FLAT))
    base = np.stack([flat.demand_rate(m, np.zeros(DAY.n_skus)) for m in range(0, 1440, 60)], axis=1)
    weights = truth.category_weight
    assert weights is not None and flat.category_weight is not None
    mid = DAY.minute_times()[::60]
    expected = base * TYPICAL_DAY.shop(mid)[None, :] * weights[::60][:, truth.sku_category].T
    np.testing.assert_allclose(rate[:, :10], expected[:, :10], rtol=1e-9)  # before the campaign's lift


def test_opening_stock_can_be_given() -> None:
    stock = tuple(range(5, 5 + DAY.n_skus))
    assert MarketTruth(replace(DAY, initial_stock=stock)).initial_stock.tolist() == list(stock)
    with pytest.raises(ValueError, match="initial_stock"):
        replace(DAY, initial_stock=(1, 2))


def test_a_day_curve_needs_24_hours_and_7_days() -> None:
    with pytest.raises(ValueError):
        DayCurve(hourly=(1.0,) * 23)
    with pytest.raises(ValueError):
        DayCurve(hourly=(1.0,) * 24, weekly=(1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0))
