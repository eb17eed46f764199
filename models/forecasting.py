"""Per-SKU demand: event-time buckets of ordered units, an online forecaster and its uncertainty band.

The default model, :class:`LogETS`, won the comparison in ``docs/forecasting.md``
(``python -m models.forecast_eval``); any river ``time_series`` forecaster can be plugged in instead.
"""

from __future__ import annotations

import bisect
import collections
import math
import pickle
from dataclasses import asdict, dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any, NamedTuple

from river import time_series

from models.ids import from_epoch, to_epoch


class ClosedBucket(NamedTuple):
    start: datetime
    units: float


@dataclass
class BucketAggregator:
    """Sum units per event-time bucket; emit buckets once event time has passed their end.

    Closed buckets come out in order and without gaps (empty ones carry 0 units). An event for an
    already closed bucket is counted in the oldest open one (``late_events`` counts them) so that
    no ordered unit is ever lost.

    Examples
    --------
    >>> from datetime import UTC
    >>> agg = BucketAggregator(bucket_seconds=60)
    >>> agg.add(datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC), 2)
    []
    >>> [(b.start.minute, b.units) for b in agg.add(datetime(2024, 1, 1, 0, 3, tzinfo=UTC), 1)]
    [(0, 2.0), (1, 0.0), (2, 0.0)]
    """

    bucket_seconds: int = 60
    allowed_lateness_seconds: float = 0.0
    max_emit: int = 10_000  # a bogus far-future timestamp must not make a worker emit millions of buckets
    start: int | None = None  # start (epoch s) of the oldest bucket not yet emitted
    emitted_any: bool = False
    watermark: float | None = None
    units: dict[int, float] = field(default_factory=dict)
    late_events: int = 0
    skipped_buckets: int = 0

    def add(self, ts: datetime, units: float) -> list[ClosedBucket]:
        """Count ``units`` at event time ``ts``; return the buckets this closes."""
        t = to_epoch(ts)
        b = int(t // self.bucket_seconds) * self.bucket_seconds
        if self.start is None:
            self.start = b
        elif b < self.start:
            if self.emitted_any:
                self.late_events += 1
                b = self.start
            else:
                self.start = b
        self.units[b] = self.units.get(b, 0.0) + float(units)
        return self.advance(ts)

    def advance(self, ts: datetime) -> list[ClosedBucket]:
        """Move event time to ``ts`` (e.g. from a stock event) and return the buckets that closes."""
        t = to_epoch(ts)
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        if self.start is None:
            return []
        size = self.bucket_seconds
        n_closable = int((self.watermark - self.allowed_lateness_seconds - self.start) // size)
        if n_closable > self.max_emit:
            skip = n_closable - self.max_emit
            self.start += skip * size
            self.skipped_buckets += skip
            n_closable = self.max_emit
        closed = []
        for _ in range(max(n_closable, 0)):
            closed.append(ClosedBucket(from_epoch(self.start), self.units.pop(self.start, 0.0)))
            self.start += size
        self.emitted_any = self.emitted_any or bool(closed)
        return closed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BucketAggregator:
        # JSON turns int keys into strings; restore them.
        return cls(**{**d, "units": {int(k): float(v) for k, v in d["units"].items()}})


class SeasonalNaive(time_series.base.Forecaster):
    """Forecast the value one season ago (``season=1``: the last value). The baseline to beat."""

    def __init__(self, season: int = 60) -> None:
        self.season = max(int(season), 1)
        self.history: collections.deque[float] = collections.deque(maxlen=self.season)

    def learn_one(self, y: float, x: dict | None = None) -> None:
        self.history.append(float(y))

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        h = list(self.history)
        if len(h) < self.season:  # less than a season seen: repeat the last value
            return [h[-1] if h else 0.0] * horizon
        return [h[i % self.season] for i in range(horizon)]


class LogETS(time_series.base.Forecaster):
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

    STATE_VERSION = 1

    def __init__(
        self,
        model: time_series.base.Forecaster | None = None,
        season: int = 60,
        max_horizon: int = 120,
        error_halflife: float = 120.0,
    ) -> None:
        self.version = self.STATE_VERSION
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
        self._path: list[float] | None = None  # cache of forecast(max_horizon); not pickled

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

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_path": None}

    def to_bytes(self) -> bytes:
        """Pickle for a changelog-backed table (see ``docs/forecasting.md``)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> DemandForecaster:
        obj = pickle.loads(data)
        if not isinstance(obj, cls) or getattr(obj, "version", None) != cls.STATE_VERSION:
            raise ValueError("not a DemandForecaster state of this version")
        return obj
