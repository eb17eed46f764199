"""The knobs of the per-SKU decisions, a decision, and a campaign as the SKU path knows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SkuPolicy:
    """Knobs of the per-SKU decisions (from settings)."""

    bucket_minutes: int = 1
    service_level: float = 0.95
    review_buckets: int = 5
    default_lead_minutes: int = 30
    max_discount_step: float = 0.1
    discount_cooldown_minutes: float = 2.0
    target_sell_through: float = 0.95
    # Daily by default: a season inside a single sale would replay its launch spike an hour later.
    season_buckets: int = 1440
    # Campaign buckets of sales learnt before the first discount change (0: none).
    min_evidence_buckets: int = 3
    prior_elasticity: float = 3.0  # d log(demand) / d discount before a SKU's sales say otherwise
    # Deepen only while (elasticity + z × its sd) × (1 - discount) > 1, i.e. while even an optimistic
    # reading of demand says a deeper discount earns more; None: no such check.
    revenue_guard_z: float | None = 0.25
    # "campaign": a reorder during a campaign covers the demand until its end; "review": one review period.
    restock_horizon: str = "campaign"
    # Buckets within which the stock topic shows an order as inbound; less inbound after that means
    # the supplier took less than ordered.
    restock_confirm_buckets: int = 2
    # Share of each campaign's SKUs held out on the static policy (models/policy/control.py); 0: none.
    holdout_share: float = 0.0


@dataclass(frozen=True)
class Decision:
    """A decision event: ``kind`` is ``restock`` or ``discount``; ``fields`` follow the contract."""

    kind: str
    sku: str
    ts: datetime
    fields: dict[str, Any]


@dataclass
class Campaign:
    campaign_id: str
    starts_at: float
    ends_at: float
    discount: float
    min_discount: float
    max_discount: float
    restock_lead_minutes: int

    def live(self, t: float) -> bool:
        return self.starts_at <= t < self.ends_at
