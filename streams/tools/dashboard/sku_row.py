"""One SKU's line of the dashboard's table, and the series of its forecast chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_BUCKETS = 240  # per series: four hours of one-minute buckets


def trim(series: dict[int, Any]) -> None:
    """Keep the newest ``MAX_BUCKETS`` keys of a series (one is added at a time)."""
    if len(series) > MAX_BUCKETS:
        del series[min(series)]


@dataclass
class SkuRow:
    """One SKU's line of the table, and the series of its forecast chart."""

    sku: str
    title: str = ""
    on_hand: int | None = None
    inbound: int | None = None
    units_sold: int = 0
    oversold_units: int = 0  # sold beyond the stock last reported (flagged by the per-SKU agent)
    discount: float | None = None
    discount_ms: int = -1  # event time of the discount shown: status and adjustments race on read
    forecast: dict[str, float] | None = None  # the open bucket's: units, lo, hi
    last_decision: dict[str, Any] | None = None
    forecasts: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # bucket ms → band
    actuals: dict[int, int] = field(default_factory=dict)  # bucket ms → units ordered

    def summary(self) -> dict[str, Any]:
        """The table row."""
        return {
            "sku": self.sku,
            "title": self.title,
            "on_hand": self.on_hand,
            "inbound": self.inbound,
            "units_sold": self.units_sold,
            "oversold_units": self.oversold_units,
            "discount": self.discount,
            "forecast": self.forecast,
            "last_decision": self.last_decision,
        }

    def series(self) -> list[list[float | None]]:
        """``[bucket ms, actual, forecast, lo, hi]`` per bucket, up to the bucket the worker has open.

        Actuals are the units ordered (from ``orders``); the open bucket's are still coming, so it has
        none. Buckets without a forecast (before the first status) have None there.
        """
        open_bucket = max(self.forecasts, default=None)
        points: list[list[float | None]] = []
        for bucket in sorted({*self.forecasts, *self.actuals}):
            if open_bucket is not None and bucket > open_bucket:
                continue  # orders of a bucket the worker has not reached yet
            actual = None if bucket == open_bucket else self.actuals.get(bucket, 0)
            points.append([bucket, actual, *self.forecasts.get(bucket, (None, None, None))])
        return points[-MAX_BUCKETS:]
