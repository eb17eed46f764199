"""The holdout experiment's control arm: which campaign SKUs keep the static policy, and its restock rule.

A share of each campaign's SKUs is held out of the adaptive policy. The split is a hash of the
campaign id and the SKU, so every worker, every replay and the in-process evaluation put a SKU in the
same arm without sharing any state. A held-out (*control*) SKU keeps the campaign's own discount all
sale long and reorders by the naive threshold rule of the static baseline
(:class:`models.sim.policies.StaticPolicy` applies this very rule).

>>> arms = [holdout_arm("flash-1", f"sku-{i}", 0.3) for i in range(10_000)]
>>> round(arms.count(CONTROL) / len(arms), 2)
0.3
>>> holdout_arm("flash-1", "sku-7", 0.3) == holdout_arm("flash-1", "sku-7", 0.3)  # no state, no chance
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CONTROL, TREATMENT = "control", "treatment"
ARMS = (TREATMENT, CONTROL)


def holdout_draw(campaign_id: str, sku: str) -> float:
    """A uniform number in [0, 1) fixed by ``(campaign_id, sku)``: the first 8 bytes of their SHA-256.

    >>> round(holdout_draw("flash-1", "sku-7"), 4)
    0.2496
    """
    digest = hashlib.sha256(f"{campaign_id}\x1f{sku}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_arm(campaign_id: str, sku: str, share: float) -> str:
    """:data:`CONTROL` for the ``share`` of a campaign's SKUs whose draw falls below it, else
    :data:`TREATMENT`. Raising ``share`` only moves SKUs from treatment to control."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a holdout share is in [0, 1], got {share}")
    return CONTROL if holdout_draw(campaign_id, sku) < share else TREATMENT


@dataclass(frozen=True)
class NaiveRestock:
    """Reorder ``quantity_fraction`` × opening stock when on hand falls to ``threshold_fraction`` × it,
    with nothing inbound: the static baseline's rule.

    >>> rule = NaiveRestock()
    >>> rule.quantity(on_hand=4, inbound=0, opening=20), rule.quantity(on_hand=5, inbound=0, opening=20)
    (10, None)
    >>> rule.quantity(on_hand=0, inbound=10, opening=20) is None  # a reorder is on its way
    True
    """

    threshold_fraction: float = 0.2
    quantity_fraction: float = 0.5

    def quantity(self, on_hand: float, inbound: float, opening: float) -> int | None:
        """Units to reorder now, or None."""
        if inbound != 0 or on_hand > self.threshold_fraction * opening:
            return None
        return max(1, round(self.quantity_fraction * opening))

    def reason(self, on_hand: float, opening: float, quantity: int) -> str:
        """What a control SKU's restock says about itself."""
        return (
            f"holdout control (static policy): on hand {on_hand:g} is at most "
            f"{self.threshold_fraction:.0%} of the opening stock {opening:g} with nothing inbound; "
            f"reordering {quantity} ({self.quantity_fraction:.0%} of the opening stock)"
        )


@dataclass(frozen=True)
class BucketOutcome:
    """What one closed bucket of a held-out campaign's SKU sold: the experiment's observation."""

    campaign_id: str
    starts_at: float  # the campaign's window, epoch s
    ends_at: float
    sku: str
    arm: str
    bucket: float  # the bucket's start, epoch s
    units: float
    revenue: float
    opening_stock: int | None  # covariates fixed before the campaign could act
    base_price: float | None
