"""Online time-series models for per-bucket demand: the seasonal-naive baseline and :class:`LogETS`.

Both follow river's ``time_series`` forecaster interface (``learn_one`` / ``forecast(horizon)``), so
river's own models plug in beside them; the comparison that chose LogETS is in ``docs/forecasting.md``.
They do not import river: its ``time_series`` package loads scikit-learn and SciPy (about 120 MB), which
a per-SKU worker does not need.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Protocol


class Forecaster(Protocol):
    """What the per-SKU demand model needs of a forecaster (river's ``time_series.base.Forecaster``)."""

    def learn_one(self, y: float, x: dict | None = None) -> None: ...

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]: ...


class SeasonalNaive:
    """Forecast the value one season ago (``season=1``: the last value). The baseline to beat."""

    def __init__(self, season: int = 60) -> None:
        self.season = max(int(season), 1)
        self.history: collections.deque[float] = collections.deque(maxlen=self.season)

    def learn_one(self, y: float, x: dict | None = None) -> None:
        self.history.append(float(y))

    def to_state(self) -> dict[str, Any]:
        """Plain numbers: the season and the last season's values."""
        return {"model": "seasonal-naive", "season": self.season, "history": list(self.history)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeasonalNaive:
        model = cls(state["season"])
        model.history.extend(float(v) for v in state["history"])
        return model

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        h = list(self.history)
        if len(h) < self.season:  # less than a season seen: repeat the last value
            return [h[-1] if h else 0.0] * horizon
        return [h[i % self.season] for i in range(horizon)]


class LogETS:
    """Additive Holt-Winters with a damped trend on ``log1p(y)``: multiplicative seasonality that copes
    with zero counts, and a trend that cannot run away exponentially over long horizons.

    The seasonal update sees its error clipped to ``clip`` times a running mean absolute error, so one
    outage (a drop to zero) does not stamp a hole into next season; level and trend take the error
    whole, so a real shift such as a campaign launch is followed at once. Until a full season has been
    seen the forecast is an EWMA of what has been seen.

    Examples
    --------
    >>> m = LogETS(season=2)
    >>> for y in [10, 0, 10, 0, 10, 0, 10, 0]:
    ...     m.learn_one(y)
    >>> [round(v) for v in m.forecast(4)]
    [10, 0, 10, 0]
    """

    def __init__(
        self,
        season: int = 60,
        alpha: float = 0.2,
        beta: float = 0.01,
        gamma: float = 0.2,
        phi: float = 0.9,
        clip: float = 3.0,
    ) -> None:
        self.season, self.alpha, self.beta, self.gamma, self.phi = max(season, 1), alpha, beta, gamma, phi
        self.clip = clip
        self.abs_err: float | None = None  # running mean |error| of the log forecast one step ahead
        self.warmup: list[float] = []
        self.level: float | None = None
        self.trend = 0.0
        self.seasonal: list[float] = []
        self.phase = 0

    def learn_one(self, y: float, x: dict | None = None) -> None:
        z = math.log1p(max(float(y), 0.0))
        if self.level is None:
            self.warmup.append(z)
            if len(self.warmup) >= self.season:
                self.level = sum(self.warmup) / len(self.warmup)
                self.seasonal = [v - self.level for v in self.warmup] if self.season > 1 else []
                self.warmup, self.phase = [], 0
            return
        s = self.seasonal[self.phase] if self.seasonal else 0.0
        prev, prev_trend = self.level, self.trend
        self.level = self.alpha * (z - s) + (1 - self.alpha) * (prev + self.phi * prev_trend)
        self.trend = self.beta * (self.level - prev) + (1 - self.beta) * self.phi * prev_trend
        if self.seasonal:
            err = z - (prev + self.phi * prev_trend + s)
            if self.abs_err is None:
                self.abs_err = abs(err) + 1e-3
            lim = self.clip * self.abs_err
            err = min(max(err, -lim), lim)
            self.abs_err += 0.05 * (abs(err) - self.abs_err)
            self.seasonal[self.phase] = self.gamma * (err + s) + (1 - self.gamma) * s
            self.phase = (self.phase + 1) % self.season

    FIELDS = ("season", "alpha", "beta", "gamma", "phi", "clip", "abs_err", "warmup", "level", "trend")

    def to_state(self) -> dict[str, Any]:
        """Plain numbers: the knobs, the smoothed level/trend/seasonal terms and the warm-up values."""
        fields = {name: getattr(self, name) for name in self.FIELDS}
        return {"model": "log-ets", **fields, "seasonal": list(self.seasonal), "phase": self.phase}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LogETS:
        knobs = ("season", "alpha", "beta", "gamma", "phi", "clip")
        model = cls(**{name: state[name] for name in knobs})
        model.abs_err, model.level, model.trend = state["abs_err"], state["level"], state["trend"]
        model.warmup, model.seasonal = (
            list(map(float, state["warmup"])),
            list(map(float, state["seasonal"])),
        )
        model.phase = int(state["phase"])
        return model

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        if self.level is None:
            if not self.warmup:
                return [0.0] * horizon
            lvl = self.warmup[0]
            for z in self.warmup[1:]:
                lvl += 0.3 * (z - lvl)
            return [math.expm1(lvl)] * horizon
        out, damp, p = [], 0.0, 1.0
        for h in range(horizon):
            p *= self.phi
            damp += p
            s = self.seasonal[(self.phase + h) % self.season] if self.seasonal else 0.0
            out.append(max(math.expm1(self.level + damp * self.trend + s), 0.0))
        return out
