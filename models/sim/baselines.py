"""The baselines the adaptive policy is measured against, each run in the same market as it.

- **Static at the campaign discount**: :func:`models.sim.policies.run_static` with no discount given.
- **Best static in hindsight**: the single campaign discount, the same for every SKU all campaign long,
  that earned the most revenue *in this very market*, picked after the fact from a grid
  (:func:`static_grid`: the campaign's min to max discount in steps of 5 points, 10 … 60 % by default),
  each candidate run with the static policy's naive reordering (:func:`best_static_in_hindsight`).
- **Clairvoyant plan (knows true demand)**: per SKU the constant discount with the highest expected
  revenue, knowing true demand and elasticity, plus one reorder at minute 0 sized for the demand
  it expects (:func:`clairvoyant_plan`, :func:`run_clairvoyant`). Not an upper bound: it holds one
  discount all campaign and plans on expected demand, so a policy that reacts can beat it.

Every run builds the market afresh from the same :class:`~models.sim.truth.ScenarioConfig`, so all
policies see the same shoppers (common random numbers) and no recommendation lists (none is applied).

>>> config = ScenarioConfig(n_users=200, n_skus=8, duration_minutes=60, campaign_offset_minutes=10,
...                         campaign_minutes=40, sessions_per_minute=30.0)
>>> static_grid(config)[:3], len(static_grid(config))
((0.1, 0.15, 0.2), 11)
>>> best = best_static_in_hindsight(config)
>>> best.ledger.revenue == max(best.revenue_by_discount.values())
True
>>> run_clairvoyant(config).revenue >= run_static(config).revenue
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.policy.control import NaiveRestock
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.sim.policies import NAIVE_RESTOCK, run_static
from models.sim.truth import MarketTruth

LABELS = {
    "static": "static at the campaign discount",
    "best_static": "best static in hindsight",
    "adaptive": "adaptive",
    "clairvoyant": "clairvoyant plan (knows true demand)",
}


def static_grid(config: ScenarioConfig, step: float = 0.05) -> tuple[float, ...]:
    """Candidate static discounts: the campaign's ``min_discount`` to ``max_discount`` by ``step``."""
    n = math.floor((config.max_discount - config.min_discount) / step + 1e-9)
    grid = [round(config.min_discount + i * step, 4) for i in range(n + 1)]
    return tuple(grid if grid[-1] >= config.max_discount - 1e-9 else [*grid, config.max_discount])


@dataclass(frozen=True)
class BestStatic:
    """The winning discount, its run, and the revenue of every candidate."""

    discount: float
    ledger: Ledger
    revenue_by_discount: dict[float, float]


def best_static_in_hindsight(
    config: ScenarioConfig,
    grid: tuple[float, ...] | None = None,
    naive_restock: NaiveRestock | None = NAIVE_RESTOCK,
) -> BestStatic:
    """Run the static policy at every discount of ``grid`` (default :func:`static_grid`) in the market
    of ``config`` and keep the one with the most revenue (ties: the shallower discount)."""
    best: tuple[float, Ledger] | None = None
    revenue: dict[float, float] = {}
    for discount in static_grid(config) if grid is None else grid:
        ledger = run_static(config, discount, naive_restock)
        revenue[discount] = ledger.revenue
        if best is None or ledger.revenue > best[1].revenue + 1e-9:
            best = (discount, ledger)
    if best is None:
        raise ValueError("the grid of static discounts is empty")
    return BestStatic(best[0], best[1], revenue)


@dataclass(frozen=True)
class ClairvoyantPlan:
    discount: np.ndarray  # per SKU
    restock: np.ndarray  # units ordered at minute 0
    expected_revenue: np.ndarray


def clairvoyant_plan(truth: MarketTruth, grid_points: int = 11, safety_z: float = 1.0) -> ClairvoyantPlan:
    """Per SKU, the constant discount on a grid over [min, max] with the highest expected revenue,
    knowing true demand and elasticity, with a reorder at minute 0 that covers expected demand
    (plus ``safety_z`` standard deviations, Poisson) within the supplier's capacity."""
    c = truth.config
    grid = np.linspace(c.min_discount, c.max_discount, grid_points)
    capacity = np.floor(c.restock_capacity * truth.initial_stock)
    best = ClairvoyantPlan(np.zeros(c.n_skus), np.zeros(c.n_skus), np.full(c.n_skus, -1.0))
    for d in grid:
        discount = np.full(c.n_skus, d)
        demand = truth.demand_matrix(discount)
        total = demand.sum(axis=1)
        need = np.ceil(total + safety_z * np.sqrt(total)) - truth.initial_stock
        restock = np.clip(need, 0, capacity)
        prices = truth.base_price[:, None] * (1.0 - truth.discount_schedule(discount))
        revenue = _fluid_revenue(demand, prices, truth.initial_stock, restock, c.restock_lead_minutes)
        better = revenue > best.expected_revenue + 1e-9  # ties keep the shallower discount
        best.discount[better], best.restock[better] = d, restock[better]
        best.expected_revenue[better] = revenue[better]
    return best


def _fluid_revenue(
    demand: np.ndarray, prices: np.ndarray, initial: np.ndarray, restock: np.ndarray, lead: int
) -> np.ndarray:
    """Expected revenue per SKU if sales are min(demand, stock left), minute by minute."""
    left = initial.astype(float)
    revenue = np.zeros(len(initial))
    for m in range(demand.shape[1]):
        if m == lead:
            left = left + restock
        sold = np.minimum(demand[:, m], left)
        left -= sold
        revenue += sold * prices[:, m]
    return revenue


def run_clairvoyant(config: ScenarioConfig, grid_points: int = 11) -> Ledger:
    """The clairvoyant plan (:func:`clairvoyant_plan`) applied at minute 0, then left alone."""
    market = FlashSaleMarket(config)
    market.initial_events()
    plan = clairvoyant_plan(market.truth, grid_points)
    for i, sku in enumerate(market.skus):
        market.apply_discount(sku, float(plan.discount[i]))
        if plan.restock[i] > 0:
            market.apply_restock(sku, math.ceil(plan.restock[i]))
    market.step(config.duration_minutes)
    return market.ledger()
