import random
from datetime import UTC, datetime, timedelta

import pytest

from models.policy.discount import DiscountDecision, _projection, discount_decision

NOW = datetime(2024, 11, 11, 10, 0, tzinfo=UTC)
END = NOW + timedelta(minutes=60)


def decide(
    current: float,
    stock: float,
    rate: float,
    now_ts: datetime = NOW,
    last_change_ts: datetime | None = None,
    elasticity: float = 3.0,
    sd: float = 0.0,
    guard: float | None = 1.0,
) -> DiscountDecision | None:
    return discount_decision(
        current, 0.1, 0.5, 0.05, timedelta(minutes=5), last_change_ts, now_ts, remaining_stock=stock,
        ends_at=END, expected_units=[rate] * 60, elasticity=elasticity, elasticity_sd=sd,
        revenue_guard_z=guard,
    )  # fmt: skip


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


def test_left_over_stock_is_not_chased_past_where_a_deeper_discount_earns_less() -> None:
    # Elasticity 1.6: (1 - d) e^(1.6 d) peaks at d = 1 - 1/1.6 = 0.375.
    capped = decide(0.35, stock=600, rate=5, elasticity=1.6)
    assert capped is not None and capped.new_discount == pytest.approx(0.37)
    assert decide(0.375, stock=600, rate=5, elasticity=1.6) is None  # at the ceiling: hold
    back = decide(0.45, stock=600, rate=5, elasticity=1.6)  # above it: a shallower discount earns more
    assert back is not None and back.new_discount == pytest.approx(0.40) and "hardly answers" in back.reason
    # An uncertain elasticity moves the ceiling up (judged optimistically); no guard: no ceiling.
    unsure = decide(0.45, stock=600, rate=5, elasticity=1.6, sd=1.0)
    unguarded = decide(0.45, stock=600, rate=5, elasticity=1.6, guard=None)
    assert unsure is not None and unsure.new_discount == pytest.approx(0.5)
    assert unguarded is not None and unguarded.new_discount == pytest.approx(0.5)


def test_moves_too_small_to_matter_and_a_ceiling_that_wobbles_change_nothing() -> None:
    assert decide(0.2, stock=316, rate=5) is None  # 95 % less a hair: a 1-point move is not worth it
    # The ceiling for elasticity 1.6 is 0.375; within 5 points above it the discount stays.
    assert decide(0.42, stock=600, rate=5, elasticity=1.6) is None
    assert decide(0.43, stock=600, rate=5, elasticity=1.6) is not None


def test_the_projection_by_bisection_is_exactly_the_bucket_by_bucket_one() -> None:
    """Units until the end and the sell-out time, against a walk through every bucket."""

    def walk(path: list[float], remaining_s: float, stock: float) -> tuple[float, float | None]:
        n_full, frac = divmod(remaining_s / 60, 1.0)
        path = path[: int(n_full) + 1] or [0.0]
        path += [path[-1]] * (int(n_full) + 1 - len(path))
        total, sellout = 0.0, None
        for i, u in enumerate(path):
            share = frac if i == int(n_full) else 1.0
            if sellout is None and u > 0 and total + u * share >= stock:
                sellout = (i + (stock - total) / u) * 60
            total += u * share
        return total, sellout

    rng = random.Random(3)
    for _ in range(5000):
        path = [rng.choice([0.0, 2.5, rng.random() * 5]) for _ in range(rng.randint(0, 40))]
        remaining_s = rng.choice([rng.uniform(0, 3000), rng.randint(0, 50) * 60.0])
        stock = rng.choice([rng.uniform(0.1, 100), float(rng.randint(1, 60))])
        assert _projection(path, remaining_s, 60, stock) == walk(path, remaining_s, stock)
    with pytest.raises(ValueError, match="negative"):
        _projection([1.0, -1.0], 120.0, 60, 5.0)
