from datetime import UTC, datetime, timedelta

import pytest

from models.policy.discount import DiscountDecision, PriceResponse, discount_decision

NOW = datetime(2024, 11, 11, 10, 0, tzinfo=UTC)
END = NOW + timedelta(minutes=60)


def decide(
    current: float, stock: float, rate: float, now_ts: datetime = NOW, last_change_ts: datetime | None = None
) -> DiscountDecision | None:
    return discount_decision(
        current,
        0.1,
        0.5,
        0.05,
        timedelta(minutes=5),
        last_change_ts,
        now_ts,
        remaining_stock=stock,
        ends_at=END,
        expected_units=[rate] * 60,
        price_response=PriceResponse(),
    )


def test_left_over_stock_deepens_by_at_most_one_step() -> None:
    d = decide(0.2, stock=600, rate=5)  # 300 of 600 projected
    assert d is not None and d.new_discount == pytest.approx(0.25)
    assert d.projected_sell_through > 0.5 and "50%" in d.reason
    small = decide(0.2, stock=310, rate=5)  # 97% projected: inside the band
    assert small is None


def test_early_sell_out_reduces_and_limits_clamp() -> None:
    d = decide(0.3, stock=200, rate=5)  # sells out after 40 of 60 minutes
    assert d is not None and d.new_discount == pytest.approx(0.25) and d.projected_sell_through == 1.0
    assert decide(0.1, stock=200, rate=5) is None  # already at the minimum
    assert decide(0.5, stock=600, rate=5) is None  # already at the maximum
    near_max = decide(0.48, stock=600, rate=5)
    assert near_max is not None and near_max.new_discount == pytest.approx(0.5)


def test_sell_out_within_the_margin_is_left_alone() -> None:
    assert decide(0.3, stock=290, rate=5) is None  # sells out 2 min before the end


def test_cooldown_is_event_time() -> None:
    assert decide(0.2, stock=600, rate=5, last_change_ts=NOW - timedelta(minutes=4)) is None
    assert decide(0.2, stock=600, rate=5, last_change_ts=NOW - timedelta(minutes=5)) is not None
    assert decide(0.2, stock=600, rate=5, now_ts=END) is None


def test_price_response_starts_at_the_prior_and_learns() -> None:
    pr = PriceResponse(prior_elasticity=3.0)
    assert pr.elasticity == pytest.approx(3.0)
    for i in range(200):
        d = 0.1 + 0.1 * (i % 4)
        pr.learn_one(d, 20.0)  # demand does not react to the discount at all
    assert pr.elasticity < 1.0 and pr.predict_one(0.2) == pytest.approx(20.0, rel=0.1)
