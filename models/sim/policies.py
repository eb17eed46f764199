"""Policies run against the simulated market: the static discount with naive reordering, any callback.

Each returns the market's :class:`~models.sim.ledger.Ledger`, so they compare on the same truth; each run
builds the market afresh from the config, so runs share their random draws (common random numbers).
The adaptive policy of the pipeline plugs in through :func:`run_policy`; the baselines it is measured
against (best static in hindsight, the clairvoyant plan) are in :mod:`models.sim.baselines`.

>>> config = ScenarioConfig(n_users=200, n_skus=8, duration_minutes=60, campaign_offset_minutes=10,
...                         campaign_minutes=40, sessions_per_minute=30.0)
>>> run_static(config).revenue == run_static(config).revenue  # same config, same market
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models.policy.control import NaiveRestock
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent


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
