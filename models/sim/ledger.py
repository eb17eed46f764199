"""Ground-truth outcome of a simulated sale, per SKU and in total."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SkuOutcome:
    """What happened to one SKU over the whole horizon."""

    sku: str
    category: str
    base_price: float
    in_campaign: bool
    elasticity: float  # hidden truth
    initial_stock: int
    units_sold: int
    revenue: float
    lost_units: int  # wanted while out of stock
    stockout_minutes: int  # minutes that ended with nothing on hand
    restocked_units: int  # accepted reorders
    arrived_units: int
    leftover: int  # on hand at the end
    mean_campaign_discount: float

    @property
    def sell_through(self) -> float:
        """Units sold over units that were available (initial + arrived)."""
        available = self.initial_stock + self.arrived_units
        return self.units_sold / available if available else 0.0


@dataclass(frozen=True)
class Ledger:
    """Per-SKU outcomes plus SKUs × minutes truth matrices, in catalogue order.

    ``demand_rate`` is the expected organic demand (units/min) at the discount that was live; ``wanted``
    the units users tried to buy (including those lost to stock-outs); ``sold`` the units shipped.
    """

    skus: tuple[SkuOutcome, ...]
    demand_rate: np.ndarray
    wanted: np.ndarray
    sold: np.ndarray
    discount: np.ndarray
    on_hand: np.ndarray  # at the end of each minute
    events_by_topic: dict[str, int]
    recommended_sessions: int
    recommended_orders: int

    @property
    def revenue(self) -> float:
        return float(sum(s.revenue for s in self.skus))

    @property
    def units_sold(self) -> int:
        return sum(s.units_sold for s in self.skus)

    @property
    def sell_through(self) -> float:
        available = sum(s.initial_stock + s.arrived_units for s in self.skus)
        return self.units_sold / available if available else 0.0

    @property
    def stockout_minutes(self) -> int:
        return sum(s.stockout_minutes for s in self.skus)

    def by_sku(self, sku: str) -> SkuOutcome:
        return next(s for s in self.skus if s.sku == sku)

    def summary(self) -> dict[str, float]:
        """Headline numbers for reports and comparisons."""
        return {
            "revenue": round(self.revenue, 2),
            "units_sold": float(self.units_sold),
            "sell_through": round(self.sell_through, 4),
            "stockout_minutes": float(self.stockout_minutes),
            "lost_units": float(sum(s.lost_units for s in self.skus)),
            "leftover": float(sum(s.leftover for s in self.skus)),
            "restocked_units": float(sum(s.restocked_units for s in self.skus)),
            "events": float(sum(self.events_by_topic.values())),
        }
