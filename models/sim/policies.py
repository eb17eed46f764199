"""Policies run against the simulated market: a static baseline, a clairvoyant oracle, any callback.

All three return the market's :class:`~models.sim.ledger.Ledger`, so they compare on the same truth.
The adaptive policy of the pipeline plugs in through :func:`run_policy`.

>>> config = ScenarioConfig(n_users=200, n_skus=8, duration_minutes=60, campaign_offset_minutes=10,
...                         campaign_minutes=40, sessions_per_minute=30.0)
>>> run_oracle(config).revenue >= run_static(config).revenue
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from models.policy.control import NaiveRestock
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent
from models.sim.truth import MarketTruth


@dataclass(frozen=True)
class SetDiscount:
    sku: str
    discount: float


@dataclass(frozen=True)
class Restock:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Recommend:
    user_id: str
    skus: tuple[str, ...]


Decision = SetDiscount | Restock | Recommend
NAIVE_RESTOCK = NaiveRestock()  # the static baseline's rule (the holdout's control arm uses it too)
# Sees each step's events and the event time now; returns decisions that take effect from now on.
PolicyCallback = Callable[[Sequence[SimEvent], datetime], Iterable[Decision]]


def apply_decisions(market: FlashSaleMarket, decisions: Iterable[Decision], ts: datetime) -> None:
    for d in decisions:
        if isinstance(d, SetDiscount):
            market.apply_discount(d.sku, d.discount, ts)
        elif isinstance(d, Restock):
            market.apply_restock(d.sku, d.quantity, ts)
        else:
            market.apply_recommendations(d.user_id, list(d.skus), ts)


def run_policy(config: ScenarioConfig, policy: PolicyCallback, step_minutes: int = 1) -> Ledger:
    """Run the whole sale, handing every batch of events (opening catalogue first) to ``policy``."""
    market = FlashSaleMarket(config)
    events = market.initial_events()
    while True:
        apply_decisions(market, policy(events, market.now), market.now)
        if market.done:
            return market.ledger()
        events = market.step(step_minutes)


class StaticPolicy:
    """One discount for every campaign SKU all sale long, plus naive threshold reordering."""

    def __init__(self, discount: float | None, restock: NaiveRestock | None) -> None:
        self.discount, self.restock = discount, restock
        self.opening: dict[str, int] = {}

    def __call__(self, events: Sequence[SimEvent], now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        latest: dict[str, dict[str, int]] = {}
        for topic, sku, value in events:
            if topic == "catalog" and value["campaign"] and self.discount is not None:
                decisions.append(SetDiscount(sku, self.discount))
            elif topic == "stock":
                self.opening.setdefault(sku, value["on_hand"])
                latest[sku] = value
        self.discount = None  # set once, from the opening catalogue
        if self.restock is None:
            return decisions
        for sku, value in latest.items():
            # Nothing inbound yet: a reorder placed last step already shows as inbound in this batch.
            quantity = self.restock.quantity(value["on_hand"], value["inbound"], self.opening[sku])
            if quantity is not None:
                decisions.append(Restock(sku, quantity))
        return decisions


def run_static(
    config: ScenarioConfig, discount: float | None = None, naive_restock: NaiveRestock | None = NAIVE_RESTOCK
) -> Ledger:
    """Baseline: ``discount`` (default: the campaign's) for the whole sale, naive reordering."""
    return run_policy(config, StaticPolicy(discount, naive_restock))


@dataclass(frozen=True)
class OraclePlan:
    discount: np.ndarray  # per SKU
    restock: np.ndarray  # units ordered at minute 0
    expected_revenue: np.ndarray


def oracle_plan(truth: MarketTruth, grid_points: int = 11, safety_z: float = 1.0) -> OraclePlan:
    """Per SKU, the constant discount on a grid over [min, max] with the highest expected revenue,
    knowing true demand and elasticity, with a reorder at minute 0 that covers expected demand
    (plus ``safety_z`` standard deviations, Poisson) within the supplier's capacity."""
    c = truth.config
    grid = np.linspace(c.min_discount, c.max_discount, grid_points)
    capacity = np.floor(c.restock_capacity * truth.initial_stock)
    best = OraclePlan(np.zeros(c.n_skus), np.zeros(c.n_skus), np.full(c.n_skus, -1.0))
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


def run_oracle(config: ScenarioConfig, grid_points: int = 11) -> Ledger:
    """Clairvoyant upper bound: :func:`oracle_plan` applied at minute 0, then left alone."""
    market = FlashSaleMarket(config)
    market.initial_events()
    plan = oracle_plan(market.truth, grid_points)
    for i, sku in enumerate(market.skus):
        market.apply_discount(sku, float(plan.discount[i]))
        if plan.restock[i] > 0:
            market.apply_restock(sku, math.ceil(plan.restock[i]))
    market.step(config.duration_minutes)
    return market.ledger()
