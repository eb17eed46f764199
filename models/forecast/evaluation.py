"""Compare demand forecasters against seasonal-naive; prints the tables of ``docs/forecasting.md``.

Run ``python -m models.forecast.evaluation`` (about half a minute on one core). Every series is seeded or
ships inside the river wheel, so the numbers reproduce exactly.
"""

from __future__ import annotations

import argparse
import collections
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
from river import compose, datasets, linear_model, optim, preprocessing, time_series

from models.forecast.demand import DemandForecaster, LogETS, SeasonalNaive
from models.forecast.series import Forecaster

Factory = Callable[[int], Forecaster]


def flash_sale_traffic(hours: int = 24, seed: int = 0) -> list[float]:
    """Units ordered per minute of a day of hourly flash drops (整点秒杀).

    Each hour opens with a spike (ramp-up over ~2 min, decay over ~8 min) on a small base; the first
    hour is the campaign launch (2.5x). Demand follows a day curve and the live discount, which moves
    by ±10 points every 20 minutes (semi-elasticity 3). Counts are gamma-Poisson (over-dispersed).

    Examples
    --------
    >>> y = flash_sale_traffic(hours=2, seed=1)
    >>> len(y), y[0] < max(y[:10]), min(y) >= 0
    (120, True, True)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(hours * 60)
    minute, hour = t % 60, t // 60
    day = 1 + 0.6 * np.sin(2 * np.pi * (hour - 9) / 24)
    steps = rng.choice([-0.1, 0.0, 0.1], size=len(t) // 20 + 1)
    discount = np.clip(0.2 + np.cumsum(steps), 0.1, 0.5)[t // 20]
    shape = (1 - np.exp(-(minute + 1) / 1.5)) * np.exp(-minute / 8)
    rate = day * np.exp(3.0 * (discount - 0.2)) * (1.5 + 30 * np.where(hour == 0, 2.5, 1.0) * shape)
    return rng.poisson(rate * rng.gamma(5.0, 0.2, len(t))).astype(float).tolist()


def launch_traffic(hours: int = 6, seed: int = 0) -> list[float]:
    """Units per minute of a single campaign (no seasonality): launch at minute 30, spike, decay to a
    plateau, discount moving every 20 minutes."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours * 60)
    steps = rng.choice([-0.1, 0.0, 0.1], size=len(t) // 20 + 1)
    discount = np.clip(0.3 + np.cumsum(steps), 0.1, 0.5)[t // 20]
    s = np.clip(t - 30, 0, None)
    shape = np.where(t >= 30, (1 - np.exp(-(s + 1) / 2.0)) * (0.25 + 0.75 * np.exp(-s / 25)), 0.0)
    rate = (0.5 + 40 * shape) * np.exp(3.0 * (discount - 0.3))
    return rng.poisson(rate * rng.gamma(5.0, 0.2, len(t))).astype(float).tolist()


class _Log1p(time_series.base.Forecaster):
    """Fit a river forecaster on ``log1p(y)``; forecasts come back through ``expm1``."""

    def __init__(self, model: time_series.base.Forecaster) -> None:
        self.model = model

    def learn_one(self, y: float, x: dict | None = None) -> None:
        self.model.learn_one(math.log1p(max(y, 0.0)))

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        return [math.expm1(v) for v in self.model.forecast(horizon)]


class _WarmHW(time_series.base.Forecaster):
    """river HoltWinters that forecasts the last value until it has initialised (it raises before)."""

    def __init__(self, **kw: float) -> None:
        self.model, self.last = time_series.HoltWinters(**kw), 0.0

    def learn_one(self, y: float, x: dict | None = None) -> None:
        self.model.learn_one(y)
        self.last = y

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        try:
            return self.model.forecast(horizon)
        except IndexError:  # river's HoltWinters has not initialised yet
            return [self.last] * horizon


class _Bias(time_series.base.Forecaster):
    """SNARIMAX with a constant feature (BayesianLinearRegression has no intercept of its own)."""

    def __init__(self, model: time_series.SNARIMAX) -> None:
        self.model = model

    def learn_one(self, y: float, x: dict | None = None) -> None:
        self.model.learn_one(y, {"bias": 1.0})

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        return self.model.forecast(horizon, [{"bias": 1.0}] * horizon)


def _sgd_lags() -> compose.Pipeline:
    reg = linear_model.LinearRegression(optimizer=optim.SGD(0.01), intercept_lr=0.01)
    return preprocessing.StandardScaler() | preprocessing.TargetStandardScaler(reg)


def candidates() -> dict[str, Factory]:
    """Models compared; each factory takes the season length (1 = none)."""

    def s0(m: int) -> int:
        return m if m > 1 else 0

    return {
        "seasonal-naive": lambda m: SeasonalNaive(m),
        "naive (last value)": lambda m: SeasonalNaive(1),
        "river HoltWinters level only (EWMA α=.3)": lambda m: _WarmHW(alpha=0.3),
        "river HoltWinters additive": lambda m: _WarmHW(alpha=0.3, beta=0.01, gamma=0.3, seasonality=s0(m)),
        "river HoltWinters on log1p": lambda m: _Log1p(
            _WarmHW(alpha=0.2, beta=0.01, gamma=0.2, seasonality=s0(m))
        ),
        "river SNARIMAX(2,0,0)(1,0,0) SGD lin. reg.": lambda m: time_series.SNARIMAX(
            p=2, d=0, q=0, m=m, sp=1, regressor=_sgd_lags()
        ),
        "river SNARIMAX(2,0,0)(1,0,0) Bayes lin. reg.": lambda m: _Bias(
            time_series.SNARIMAX(p=2, d=0, q=0, m=m, sp=1, regressor=linear_model.BayesianLinearRegression())
        ),
        "river SNARIMAX(1,0,0)(0,1,0) Bayes lin. reg.": lambda m: _Bias(
            time_series.SNARIMAX(p=1, d=0, q=0, m=m, sd=1, regressor=linear_model.BayesianLinearRegression())
        ),
        "LogETS (default)": lambda m: LogETS(season=m),
    }


@dataclass
class Score:
    mae_1: float  # MAE of the next bucket
    mae_h: float  # MAE averaged over steps 1..H
    smape_h: float  # sMAPE (%) over steps 1..H; a bucket with 0 actual and 0 forecast counts as 0
    state_bytes: int  # the model's state after the run, packed (see :func:`state_bytes`)


def state_bytes(model: Any) -> int:
    """Bytes of ``model``'s state packed with msgpack: its plain state where it has one (what a changelog
    stores), else its attributes, objects by their own attributes — a size, never a format to read back."""

    def plain(value: Any) -> Any:
        if isinstance(value, collections.deque | tuple | set | frozenset):
            return list(value)
        if isinstance(value, np.ndarray | np.generic):
            return value.tolist()
        return vars(value) if hasattr(value, "__dict__") else repr(value)

    state = model.to_state() if hasattr(model, "to_state") else vars(model)
    return len(msgpack.packb(state, default=plain, strict_types=False))


def evaluate(series: Sequence[float], model: Forecaster, horizon: int, warmup: int) -> Score:
    """Prequential: at each step forecast ``horizon`` buckets ahead, then learn the actual."""
    abs_err = np.zeros(horizon)
    smape = np.zeros(horizon)
    n = 0
    y_all = np.asarray(series, dtype=float)
    for t, y in enumerate(series):
        if t >= warmup and t + horizon <= len(series):
            f = np.maximum(np.asarray(model.forecast(horizon), dtype=float), 0.0)
            a = y_all[t : t + horizon]
            abs_err += np.abs(a - f)
            den = np.abs(a) + np.abs(f)
            smape += np.divide(2 * np.abs(a - f), den, out=np.zeros(horizon), where=den > 0)
            n += 1
        model.learn_one(y)
    return Score(abs_err[0] / n, abs_err.mean() / n, 100 * smape.mean() / n, state_bytes(model))


def band_coverage(series: Sequence[float], season: int, lead: int, levels: Sequence[float]) -> list[float]:
    """How often the actual total over ``lead`` buckets stays at or under ``demand_quantile``."""
    f = DemandForecaster(season=season)
    hits, n = np.zeros(len(levels)), 0
    for t, y in enumerate(series):
        if t >= 2 * season and t + lead <= len(series):
            actual = sum(series[t : t + lead])
            hits += [actual <= f.demand_quantile(lead, sl) for sl in levels]
            n += 1
        f.learn_one(y)
    return list(hits / n)


def suites(seeds: int) -> dict[str, tuple[list[list[float]], int, int, int]]:
    """name -> (series, season, horizon, warmup). Seeds 100+ were used to pick LogETS's settings."""
    return {
        f"flash drops, 24 h x {seeds} seeds": (
            [flash_sale_traffic(24, s) for s in range(seeds)],
            60,
            15,
            120,
        ),
        f"single launch, 6 h x {seeds} seeds": ([launch_traffic(6, s) for s in range(seeds)], 1, 15, 30),
        "AirlinePassengers (monthly)": ([[float(y) for _, y in datasets.AirlinePassengers()]], 12, 12, 24),
        "WaterFlow (hourly)": ([[float(y) for _, y in datasets.WaterFlow()]], 24, 24, 48),
    }


def _fmt(v: float) -> str:
    return "diverged" if not math.isfinite(v) or v > 1e6 else f"{v:.2f}"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    for name, (series_list, season, horizon, warmup) in suites(args.seeds).items():
        print(f"\n### {name}: season {season}, horizon H={horizon}\n")
        print("| model | MAE h=1 | MAE h=1..H | sMAPE % h=1..H | state bytes |\n|---|---|---|---|---|")
        for label, make in candidates().items():
            scores = [evaluate(s, make(season), horizon, warmup) for s in series_list]
            mean = [float(np.mean([getattr(sc, k) for sc in scores])) for k in ("mae_1", "mae_h", "smape_h")]
            print(f"| {label} | {' | '.join(_fmt(v) for v in mean)} | {scores[-1].state_bytes} |")
    levels = (0.5, 0.9, 0.95, 0.99)
    cov = np.mean(
        [band_coverage(flash_sale_traffic(24, s), 60, 15, levels) for s in range(args.seeds)], axis=0
    )
    print("\n### demand_quantile(15, level) coverage, flash drops\n")
    print("| level | " + " | ".join(f"{lv:.2f}" for lv in levels) + " |\n|---|" + "---|" * len(levels))
    print("| actual total ≤ quantile | " + " | ".join(f"{c:.3f}" for c in cov) + " |")
    f = DemandForecaster(season=60)
    for y in flash_sale_traffic(24, 0):
        f.learn_one(y)
    print(f"\nDemandForecaster(season=60, max_horizon=120) state: {state_bytes(f)} bytes")


if __name__ == "__main__":
    main()
