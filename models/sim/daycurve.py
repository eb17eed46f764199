"""A day curve for the simulated shop: traffic by hour of day and day of week, and each category's peak.

Sessions per minute are the scenario's base rate × the shop-wide hourly curve (linear between the
hours' middles, mean 1 over a day) × the day of week's factor (mean 1 over a week). A category's
sessions are further scaled by a bump around its own peak hour, normalised so that the category's
daily volume stays what its share gives. Times are the event times (UTC) of the scenario.

>>> curve = TYPICAL_DAY
>>> minutes = np.arange(7 * 24 * 60)  # a week from a Monday
>>> shop = curve.shop(START + minutes * 60.0)
>>> round(float(shop.mean()), 6), int(minutes[shop.argmax()]) // 60 % 24, int(shop.argmax()) // 1440
(1.0, 21, 5)
>>> weights = curve.categories(START + minutes * 60.0, ("electronics", "fashion"))
>>> [int(minutes[weights[:, c].argmax()]) // 60 for c in range(2)]
[12, 21]
>>> bool(abs(weights.mean(axis=0) - 1).max() < 1e-3)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

START = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday, for the examples


@dataclass(frozen=True)
class DayCurve:
    """Traffic multipliers by hour (24 values, each at the middle of its hour) and weekday (Monday first),
    and per category the hour of its own peak; hours are UTC."""

    hourly: tuple[float, ...]
    weekly: tuple[float, ...] = (1.0,) * 7
    category_peaks: tuple[tuple[str, float], ...] = ()
    category_peak_lift: float = 1.5  # a category's traffic at its peak hour × (1 + lift), before normalising
    peak_width_hours: float = 1.5

    def __post_init__(self) -> None:
        if len(self.hourly) != 24 or len(self.weekly) != 7:
            raise ValueError("a day curve needs 24 hourly and 7 weekly values")
        if min(self.hourly) <= 0 or min(self.weekly) <= 0 or self.category_peak_lift < 0:
            raise ValueError("day-curve multipliers must be positive")

    def shop(self, epoch_s: np.ndarray) -> np.ndarray:
        """Shop-wide multiplier at each time (epoch seconds)."""
        hourly = np.asarray(self.hourly) / np.mean(self.hourly)
        weekly = np.asarray(self.weekly) / np.mean(self.weekly)
        hours = (np.asarray(epoch_s) / 3600.0) % 24.0
        at = np.interp(hours, np.arange(-0.5, 25.0), np.concatenate([hourly[-1:], hourly, hourly[:1]]))
        days = (np.asarray(epoch_s) // 86400 + 3).astype(np.int64) % 7  # 1970-01-01 was a Thursday
        return at * weekly[days]

    def categories(self, epoch_s: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """Times × categories multiplier of each category's own peak (1 where none is set); each column
        averages 1 over a day."""
        peaks = dict(self.category_peaks)
        hours = (np.asarray(epoch_s, dtype=float) / 3600.0) % 24.0
        grid = np.arange(0.0, 24.0, 1.0 / 60.0)
        out = np.ones((len(hours), len(names)))
        for c, name in enumerate(names):
            if name in peaks:
                out[:, c] = self._bump(hours, peaks[name]) / self._bump(grid, peaks[name]).mean()
        return out

    def _bump(self, hours: np.ndarray, peak: float) -> np.ndarray:
        gap = np.abs((hours - peak + 12.0) % 24.0 - 12.0)  # circular distance in hours
        return 1.0 + self.category_peak_lift * np.exp(-0.5 * (gap / self.peak_width_hours) ** 2)


# A shop's ordinary day: quiet nights, a lunch peak, the evening peak at 20:00-21:00; busier weekends.
# Each category has its own moment: electronics at lunch, sports early, fashion and beauty late.
TYPICAL_DAY = DayCurve(
    hourly=(0.45, 0.3, 0.2, 0.15, 0.15, 0.2, 0.35, 0.6, 0.8, 0.95, 1.05, 1.25,
            1.5, 1.45, 1.15, 1.05, 1.05, 1.15, 1.35, 1.65, 1.95, 2.0, 1.6, 0.9),
    weekly=(0.9, 0.9, 0.95, 1.0, 1.05, 1.2, 1.15),
    category_peaks=(("electronics", 12.5), ("audio", 13.5), ("sports", 7.5), ("kitchen", 18.0),
                    ("toys", 19.0), ("home", 20.0), ("fashion", 21.0), ("beauty", 22.0)),
)  # fmt: skip
