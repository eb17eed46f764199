"""Restock sizing: an order covers the demand of its cover window, less what is left when it lands."""

from __future__ import annotations

import random

import pytest

from models.policy.campaign_demand import CampaignDemand, CampaignOutlook
from models.policy.restock import restock_decision


class Flat:
    """`rate` units a bucket; any window's quantile is its mean plus `safety`."""

    def __init__(self, rate: float, safety: float) -> None:
        self.rate, self.safety = rate, safety

    def forecast(self, horizon: int) -> list[float]:
        return [self.rate] * horizon

    def window_quantile(self, start: int, horizon: int, service_level: float) -> float:
        return self.rate * horizon + (self.safety if self.rate > 0 else 0.0)


def test_an_order_covers_its_window_less_what_is_left_when_it_lands() -> None:
    demand = Flat(2.0, 4.0)  # 20 units over a 10-bucket lead time; a 5-bucket window needs 14
    assert restock_decision(20, 14, demand, lead_time_buckets=10, cover_buckets=5) is None  # 14 left
    d = restock_decision(20, 3.5, demand, lead_time_buckets=10, cover_buckets=5)
    assert d is not None and d.expected_left == pytest.approx(3.5) and d.cover_quantile == pytest.approx(14)
    assert d.quantity == 11 and d.forecast_units == pytest.approx(10.0)  # 14 - 3.5, rounded up
    assert "3.5" in d.reason and "14.0" in d.reason and "ordering 11" in d.reason


def test_a_shelf_that_sells_out_before_the_order_lands_carries_nothing_over() -> None:
    short = restock_decision(5, 0, Flat(2.0, 4.0), lead_time_buckets=10, cover_buckets=5)
    assert short is not None and short.expected_left == 0.0 and short.quantity == 14  # not 14 + 15 lost


def test_no_demand_means_no_order_and_quantities_are_whole_units() -> None:
    assert restock_decision(0, 0, Flat(0.0, 0.0), lead_time_buckets=10) is None
    d = restock_decision(21.99, 0, Flat(2.0, 0.0), lead_time_buckets=10, cover_buckets=1)
    assert d is not None and d.quantity == 1 and isinstance(d.quantity, int)
    with pytest.raises(ValueError):
        restock_decision(0, 0, Flat(1.0, 0.0), lead_time_buckets=0)


def test_an_order_that_lands_after_the_campaign_is_sized_for_the_demand_after_it() -> None:
    demand = CampaignDemand(level=2.0, elasticity=0.0, outside_rate=0.5)  # e^2 ≈ 7.4 a bucket inside
    minute = 60

    def order(campaign_ends_in: int) -> int:
        window = (0.0, float(minute * campaign_ends_in))
        outlook = CampaignOutlook(demand, window, start=0.0, bucket_s=minute, discount=0.3)
        d = restock_decision(10, 0, outlook, lead_time_buckets=5, cover_buckets=10)
        return d.quantity if d else 0

    during = order(campaign_ends_in=60)  # lands inside the campaign: ten campaign buckets to cover
    after = order(campaign_ends_in=5)  # lands as it ends: ten buckets at the rate outside it
    assert during > 70 and 0 < after < 15


def test_the_outlook_by_runs_is_exactly_the_bucket_by_bucket_one() -> None:
    """The outlook builds its flags and path from the window's run of buckets: the same floats as a
    test of every bucket and the demand's own path and quantile, on windows that start and end
    anywhere (whole buckets, between them, before the start, reversed)."""
    rng = random.Random(5)
    for _ in range(3000):
        bucket_s = rng.choice([60, 300, 7])
        start = 1.7e9 + rng.uniform(-1e5, 1e5)
        begins = start + rng.choice([rng.randint(-50, 50), rng.uniform(-50, 50)]) * bucket_s
        ends = begins + rng.choice([rng.randint(-5, 400), rng.uniform(0, 400), 0]) * bucket_s
        demand = CampaignDemand(level=rng.uniform(-2, 3), elasticity=rng.uniform(0, 4),
                                outside_rate=rng.uniform(0, 3), p_ll=rng.uniform(0, 0.3))  # fmt: skip
        window = (begins, ends) if rng.random() < 0.9 else None
        outlook = CampaignOutlook(demand, window, start, bucket_s, rng.uniform(0, 0.5))
        first, horizon = rng.randint(0, 30), rng.randint(0, 400)
        flags = [
            window is not None and begins <= start + (first + k) * bucket_s < ends for k in range(horizon)
        ]  # fmt: skip
        assert outlook.live(first, horizon) == flags
        assert outlook.window_quantile(first, horizon, 0.95) == demand.quantile(flags, outlook.discount, 0.95)
        assert outlook.forecast(horizon) == demand.path(outlook.live(0, horizon), outlook.discount)
