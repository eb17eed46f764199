import pytest

from models.forecast.demand import DemandForecaster
from models.policy.restock import restock_decision


class Flat:
    """`rate` units a bucket, safety stock `safety` whatever the horizon."""

    def __init__(self, rate: float, safety: float) -> None:
        self.rate, self.safety = rate, safety

    def forecast(self, horizon: int) -> list[float]:
        return [self.rate] * horizon

    def demand_quantile(self, horizon: int, service_level: float) -> float:
        return self.rate * horizon + (self.safety if self.rate > 0 else 0.0)


def test_orders_only_strictly_below_the_reorder_point() -> None:
    demand = Flat(2.0, 4.0)  # reorder point over 10 buckets: 24
    assert restock_decision(20, 4, demand, lead_time_buckets=10) is None
    d = restock_decision(20, 3.5, demand, lead_time_buckets=10, review_buckets=5)
    assert d is not None and d.reorder_point == pytest.approx(24.0)
    assert d.order_up_to == pytest.approx(34.0) and d.quantity == 11  # 34 - 23.5, rounded up
    assert "23.5" in d.reason and "24.0" in d.reason and "11" in d.reason


def test_inbound_covering_the_gap_and_zero_forecast_mean_no_order() -> None:
    assert restock_decision(0, 30, Flat(2.0, 4.0), lead_time_buckets=10) is None
    assert restock_decision(0, 0, Flat(0.0, 0.0), lead_time_buckets=10) is None


def test_quantity_is_an_integer_of_at_least_one() -> None:
    d = restock_decision(23.99, 0, Flat(2.0, 4.0), lead_time_buckets=10, review_buckets=0)
    assert d is not None and d.quantity == 1 and isinstance(d.quantity, int)


def test_with_a_forecaster_the_reorder_point_carries_safety_stock() -> None:
    f = DemandForecaster(season=1, max_horizon=30)
    for y in [3, 7, 2, 8, 5, 4, 9, 1] * 8:
        f.learn_one(y)
    d = restock_decision(0, 0, f, lead_time_buckets=10, service_level=0.95)
    assert d is not None and d.reorder_point > sum(f.forecast(10)) and d.safety_stock > 0
