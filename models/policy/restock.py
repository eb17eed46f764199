"""Restock policy: order what the order itself will sell, on a demand outlook that knows the campaign.

A reorder placed now lands after the lead time; the stock on hand and inbound serves the demand until
then, and what a sold-out shelf does not sell is lost, not back-ordered. So the order must cover the
demand of its *cover window* (from its arrival to the end of the next review period, or to the
campaign's end) less what is expected to be left when it lands, at the ``service_level`` quantile.
With a campaign-aware outlook (:class:`models.policy.campaign_demand.CampaignDemand`), an order that
would land after the campaign is sized for the demand after it, usually far less or nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class DemandOutlook(Protocol):
    """Demand from now on, bucket by bucket (``models.policy.sku_state.CampaignOutlook`` is one)."""

    def forecast(self, horizon: int) -> list[float]: ...

    def window_quantile(self, start: int, horizon: int, service_level: float) -> float: ...


@dataclass(frozen=True)
class RestockDecision:
    quantity: int
    on_hand: float
    inbound: float
    forecast_units: float  # expected demand over the cover window
    lead_units: float  # expected demand before the order lands
    expected_left: float  # stock expected when the order lands
    cover_quantile: float  # demand of the cover window at the service level
    horizon_buckets: int  # lead time + cover window
    service_level: float
    reason: str


def restock_decision(
    on_hand: float,
    inbound: float,
    demand: DemandOutlook,
    lead_time_buckets: int,
    service_level: float = 0.95,
    cover_buckets: int = 1,
    bucket_minutes: int = 1,
) -> RestockDecision | None:
    """Order when the stock expected at the order's arrival falls short of the demand of the
    ``cover_buckets`` after it (at ``service_level``); ``None`` otherwise.

    Examples
    --------
    >>> class Flat:  # 2 units a bucket; safety stock 3 on any window
    ...     def forecast(self, h): return [2.0] * h
    ...     def window_quantile(self, start, h, sl): return 2.0 * h + 3.0
    >>> d = restock_decision(on_hand=10, inbound=12, demand=Flat(), lead_time_buckets=10, cover_buckets=5)
    >>> d.expected_left, d.cover_quantile, d.quantity  # 22 - 20 left at arrival; 13 needed after it
    (2.0, 13.0, 11)
    >>> restock_decision(on_hand=10, inbound=23, demand=Flat(), lead_time_buckets=10, cover_buckets=5) is None
    True
    """
    if lead_time_buckets < 1 or cover_buckets < 1:
        raise ValueError("lead_time_buckets and cover_buckets must be >= 1")
    if not 0.0 < service_level < 1.0:
        raise ValueError(f"service_level must be in (0, 1), got {service_level}")
    position = on_hand + inbound
    lead_units = sum(demand.forecast(lead_time_buckets))
    left = max(position - lead_units, 0.0)  # a sold-out shelf loses sales: nothing is carried over
    need = demand.window_quantile(lead_time_buckets, cover_buckets, service_level)
    # Tolerance: float noise must not turn an exact integer gap into one extra unit.
    quantity = math.ceil(need - left - 1e-9)
    if quantity < 1:
        return None
    expected = sum(demand.forecast(lead_time_buckets + cover_buckets)) - lead_units
    lead_min, cover_min = lead_time_buckets * bucket_minutes, cover_buckets * bucket_minutes
    reason = (
        f"stock position {position:g} (on hand {on_hand:g} + inbound {inbound:g}) less {lead_units:.1f} "
        f"expected over the {lead_min}-min lead time leaves {left:.1f} when an order lands; the "
        f"{cover_min} min after it need {need:.1f} (expected {expected:.1f}) at {service_level:.0%} "
        f"service; ordering {quantity}"
    )
    return RestockDecision(
        quantity=quantity,
        on_hand=on_hand,
        inbound=inbound,
        forecast_units=expected,
        lead_units=lead_units,
        expected_left=left,
        cover_quantile=need,
        horizon_buckets=lead_time_buckets + cover_buckets,
        service_level=service_level,
        reason=reason,
    )
