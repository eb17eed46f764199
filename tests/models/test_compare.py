"""The many-seed comparison's maths: the t-interval over seeds, and rows that follow their ledgers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.policy.sku_state import SkuPolicy
from models.sim.compare import mean_ci95, pricing_row, second_market_of
from models.sim.market import ScenarioConfig

TINY = ScenarioConfig(
    seed=5, n_users=120, n_skus=5, duration_minutes=24, campaign_offset_minutes=6, campaign_minutes=12,
    sessions_per_minute=30.0, restock_lead_minutes=3,
)  # fmt: skip


def test_the_interval_is_the_textbook_t_interval() -> None:
    # 1, 2, 3: mean 2, sd 1, t(0.975, 2 df) = 4.3027
    block = mean_ci95([1.0, 2.0, 3.0])
    assert block["mean"] == 2.0
    assert block["ci95"] == pytest.approx([2 - 4.3027 / math.sqrt(3), 2 + 4.3027 / math.sqrt(3)], abs=1e-3)
    assert mean_ci95([1.5])["ci95"] is None  # one seed: no spread to speak of
    with pytest.raises(ValueError):
        mean_ci95([])


def test_the_interval_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        lo, hi = mean_ci95(list(rng.normal(1.05, 0.04, 6)), digits=12)["ci95"]
        covered += lo <= 1.05 <= hi
    assert 0.935 <= covered / 2000 <= 0.965


def test_a_pricing_row_holds_its_policies_and_their_ratios() -> None:
    row = pricing_row(TINY, SkuPolicy())
    revenue = {name: p["revenue"] for name, p in row["policies"].items()}
    assert list(revenue) == ["static", "best_static", "adaptive", "clairvoyant"]
    assert row["adaptive_vs_best_static"] == round(revenue["adaptive"] / revenue["best_static"], 4)
    assert row["adaptive_vs_clairvoyant"] == round(revenue["adaptive"] / revenue["clairvoyant"], 4)
    assert revenue["best_static"] >= revenue["static"]
    other = pricing_row(second_market_of(TINY), SkuPolicy())
    assert other["policies"]["static"]["revenue"] != revenue["static"]  # another demand response
