"""Restock policy: a continuous-review (s, S) rule on the forecaster's lead-time demand band.

Reorder point ``s`` = demand over the lead time + safety stock (the ``service_level`` quantile of the
lead-time total); order-up-to ``S`` = the same quantile over lead time + review period. Inbound stock
counts as position, so once an order is inbound the rule stays quiet until demand eats into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class DemandOutlook(Protocol):
    """What the policy needs from a forecaster (``models.forecast.demand.DemandForecaster`` has it)."""

    def forecast(self, horizon: int) -> list[float]: ...

    def demand_quantile(self, horizon: int, service_level: float) -> float: ...


@dataclass(frozen=True)
class RestockDecision:
    quantity: int
    on_hand: float
    inbound: float
    forecast_units: float  # expected demand over lead time + review period
    reorder_point: float
    order_up_to: float
    safety_stock: float  # over lead time + review period
    horizon_buckets: int  # lead time + review period
    service_level: float
    reason: str


def restock_decision(
    on_hand: float,
    inbound: float,
    demand: DemandOutlook,
    lead_time_buckets: int,
    service_level: float = 0.95,
    review_buckets: int = 1,
    bucket_minutes: int = 1,
) -> RestockDecision | None:
    """Order when ``on_hand + inbound`` is below the reorder point; ``None`` otherwise.

    Examples
    --------
    >>> class Flat:  # 2 units a bucket, safety stock 3 whatever the horizon
    ...     def forecast(self, h): return [2.0] * h
    ...     def demand_quantile(self, h, sl): return 2.0 * h + 3.0
    >>> d = restock_decision(on_hand=10, inbound=0, demand=Flat(), lead_time_buckets=10, review_buckets=5)
    >>> d.quantity, d.reorder_point, d.order_up_to
    (23, 23.0, 33.0)
    >>> restock_decision(on_hand=10, inbound=13, demand=Flat(), lead_time_buckets=10) is None
    True
    """
    if lead_time_buckets < 1 or review_buckets < 0:
        raise ValueError("lead_time_buckets must be >= 1 and review_buckets >= 0")
    if not 0.0 < service_level < 1.0:
        raise ValueError(f"service_level must be in (0, 1), got {service_level}")
    position = on_hand + inbound
    reorder_point = demand.demand_quantile(lead_time_buckets, service_level)
    if position >= reorder_point:
        return None
    horizon = lead_time_buckets + review_buckets
    expected = sum(demand.forecast(horizon))
    # The quantile may sit below the mean when the model has over-forecast lately; never go below it.
    order_up_to = max(demand.demand_quantile(horizon, service_level), reorder_point)
    # Tolerance: float noise must not turn an exact integer gap into one extra unit.
    quantity = max(math.ceil(order_up_to - position - 1e-9), 1)
    lead_expected = sum(demand.forecast(lead_time_buckets))
    reason = (
        f"stock position {position:g} (on hand {on_hand:g} + inbound {inbound:g}) is below the reorder "
        f"point {reorder_point:.1f} = expected demand {lead_expected:.1f} over the "
        f"{lead_time_buckets * bucket_minutes}-min lead time + safety stock "
        f"{reorder_point - lead_expected:.1f} at {service_level:.0%} service; ordering {quantity} "
        f"to reach {order_up_to:.1f} (lead time + {review_buckets * bucket_minutes}-min review)"
    )
    return RestockDecision(
        quantity=quantity,
        on_hand=on_hand,
        inbound=inbound,
        forecast_units=expected,
        reorder_point=reorder_point,
        order_up_to=order_up_to,
        safety_stock=max(order_up_to - expected, 0.0),
        horizon_buckets=horizon,
        service_level=service_level,
        reason=reason,
    )
