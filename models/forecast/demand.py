"""Per-SKU demand: event-time buckets of ordered units, an online forecaster and its uncertainty band.

The default model, :class:`LogETS`, won the comparison in ``docs/forecasting.md``
(``python -m models.forecast.evaluation``); any river ``time_series`` forecaster can be plugged in instead.
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Callable
from datetime import datetime
from statistics import NormalDist
from typing import Any, NamedTuple

from models.forecast.series import Forecaster, LogETS, SeasonalNaive

__all__ = ["ClosedBucket", "DemandForecaster", "LogETS", "SeasonalNaive"]


class ClosedBucket(NamedTuple):
    start: datetime
    units: float


def _grid(max_horizon: int) -> list[int]:
    """Horizons at which cumulative errors are tracked: powers of two, then ``max_horizon``."""
    g = [1 << i for i in range(max_horizon.bit_length()) if (1 << i) < max_horizon]
    return [*g, max_horizon]


class DemandForecaster:
    """Online demand forecast per bucket plus an uncertainty band for the total over a horizon.

    The band comes from the forecaster's own past errors: for every ``stride``-th origin the cumulative
    forecast at a few horizons (1, 2, 4, ... ``max_horizon``) is kept and, once the actuals are in, the
    error of the *total* feeds an exponentially weighted mean and mean square (half-life
    ``error_halflife`` buckets). Totals, not per-bucket errors, because errors of a spike are correlated.
    The variance never drops below the forecast itself (Poisson noise), so the band is usable from the
    first bucket.

    Examples
    --------
    >>> f = DemandForecaster(season=1, max_horizon=8)
    >>> for y in [4, 5, 3, 4, 6, 4, 5, 4] * 4:
    ...     f.learn_one(y)
    >>> lo, hi = f.interval(4, 0.9)
    >>> lo < sum(f.forecast(4)) < hi <= f.demand_quantile(4, 0.99)
    True
    """

    def __init__(
        self,
        model: Forecaster | None = None,
        season: int = 60,
        max_horizon: int = 120,
        error_halflife: float = 120.0,
    ) -> None:
        self.model = model if model is not None else LogETS(season=season)
        self.max_horizon = max(int(max_horizon), 1)
        self.grid = _grid(self.max_horizon)
        self.stride = max(1, self.max_horizon // 16)  # ~16 pending origins: bounds the state size
        self.decay = 0.5 ** (self.stride / error_halflife)
        self.n_seen = 0
        self.total = 0.0
        self.origins: collections.deque[tuple[int, float, list[float]]] = collections.deque()
        k = len(self.grid)
        self.err_w, self.err_mean, self.err_sq = [0.0] * k, [0.0] * k, [0.0] * k
        self._path: list[float] | None = None  # cache of forecast(max_horizon); not part of the state

    def learn_one(self, units: float) -> None:
        """Learn the units of the next closed bucket."""
        y = max(float(units), 0.0)
        self.n_seen += 1
        self.total += y
        while self.origins and self.n_seen - self.origins[0][0] > self.max_horizon:
            self.origins.popleft()
        for n0, total0, cum in self.origins:
            i = bisect.bisect_left(self.grid, self.n_seen - n0)
            if i < len(self.grid) and self.grid[i] == self.n_seen - n0:
                self._learn_error(i, (self.total - total0) - cum[i])
        self.model.learn_one(y)
        self._path = None
        if self.n_seen % self.stride == 0:
            path = self._forecast_path()
            cum = [sum(path[:g]) for g in self.grid]
            self.origins.append((self.n_seen, self.total, cum))

    def _learn_error(self, i: int, err: float) -> None:
        w = self.err_w[i] * self.decay
        self.err_w[i] = w + 1.0
        self.err_mean[i] += (err - self.err_mean[i]) / self.err_w[i]
        self.err_sq[i] += (err * err - self.err_sq[i]) / self.err_w[i]

    def _forecast_path(self) -> list[float]:
        if self._path is None:
            self._path = [max(float(v), 0.0) for v in self.model.forecast(self.max_horizon)]
        return self._path

    def forecast(self, horizon: int) -> list[float]:
        """Expected units in each of the next ``horizon`` buckets (non-negative)."""
        if horizon <= self.max_horizon:
            return self._forecast_path()[:horizon]
        return [max(float(v), 0.0) for v in self.model.forecast(horizon)]

    def _band(self, horizon: int) -> tuple[float, float, float]:
        """(expected total, bias, variance) of demand over the next ``horizon`` buckets."""
        mean = sum(self.forecast(horizon))
        pts = [
            (g, m, max(s - m * m, 0.0))
            for g, w, m, s in zip(self.grid, self.err_w, self.err_mean, self.err_sq, strict=True)
            if w > 0
        ]
        bias = var = 0.0
        if pts:
            j = bisect.bisect_left([p[0] for p in pts], horizon)
            if j == 0:  # below the first tracked horizon: scale down linearly
                g, m, v = pts[0]
                bias, var = m * horizon / g, v * horizon / g
            elif j == len(pts):  # beyond: scale up linearly (errors of a sum grow ~ with its length)
                g, m, v = pts[-1]
                bias, var = m * horizon / g, v * horizon / g
            else:
                (g0, m0, v0), (g1, m1, v1) = pts[j - 1], pts[j]
                a = (horizon - g0) / (g1 - g0)
                bias, var = m0 + a * (m1 - m0), v0 + a * (v1 - v0)
        return mean, bias, max(var, mean)

    def demand_quantile(self, horizon: int, service_level: float) -> float:
        """Upper ``service_level`` quantile of the total units over the next ``horizon`` buckets."""
        if horizon <= 0:
            return 0.0
        mean, bias, var = self._band(horizon)
        return max(mean + bias + NormalDist().inv_cdf(service_level) * math.sqrt(var), 0.0)

    def interval(self, horizon: int, service_level: float) -> tuple[float, float]:
        """Central ``service_level`` interval ``(lo, hi)`` of the total units over ``horizon`` buckets."""
        mean, bias, var = self._band(horizon)
        half = NormalDist().inv_cdf((1 + service_level) / 2) * math.sqrt(var)
        return max(mean + bias - half, 0.0), max(mean + bias + half, 0.0)

    def to_state(self) -> dict[str, Any]:
        """Plain numbers (no objects): what a changelog stores, see ``streams/runtime/codec.py``.

        >>> f = DemandForecaster(season=2, max_horizon=4)
        >>> for y in [3, 1, 3, 1, 3]:
        ...     f.learn_one(y)
        >>> DemandForecaster.from_state(f.to_state()).forecast(4) == f.forecast(4)
        True
        """
        if not isinstance(self.model, LogETS | SeasonalNaive):
            raise TypeError(f"{type(self.model).__name__} has no plain state: only LogETS and SeasonalNaive")
        return {
            "model": self.model.to_state(),
            "max_horizon": self.max_horizon,
            "decay": self.decay,
            "n_seen": self.n_seen,
            "total": self.total,
            "origins": [[n0, total0, list(cum)] for n0, total0, cum in self.origins],
            "err_w": list(self.err_w),
            "err_mean": list(self.err_mean),
            "err_sq": list(self.err_sq),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DemandForecaster:
        model_state = state["model"]
        readers: dict[str, Callable[[dict[str, Any]], Forecaster]] = {
            "log-ets": LogETS.from_state,
            "seasonal-naive": SeasonalNaive.from_state,
        }
        if model_state.get("model") not in readers:
            raise ValueError(f"unknown forecaster model {model_state.get('model')!r}")
        f = cls(readers[model_state["model"]](model_state), max_horizon=state["max_horizon"])
        f.decay, f.n_seen, f.total = float(state["decay"]), int(state["n_seen"]), float(state["total"])
        f.origins.extend((int(n0), float(t0), list(map(float, cum))) for n0, t0, cum in state["origins"])
        if not len(state["err_w"]) == len(state["err_mean"]) == len(state["err_sq"]) == len(f.grid):
            raise ValueError("forecaster error track does not match its horizon grid")
        f.err_w, f.err_mean, f.err_sq = (
            list(map(float, state[name])) for name in ("err_w", "err_mean", "err_sq")
        )
        return f
