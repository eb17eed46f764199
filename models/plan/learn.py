"""Fitting the demand model of :mod:`models.plan.demand` to a history.

Block-coordinate ascent of the penalised Poisson likelihood: each categorical block (SKU level, hour,
category × hour, weekday, campaign slot) has a closed-form update — the posterior mode under a gamma
prior of ``*_prior_units`` pseudo-units at no effect — and the elasticities take a Newton step towards
the data from their category's mean. Standard errors come from the Fisher information, scaled by the
dispersion (Pearson's χ² over the degrees of freedom, at least 1).

>>> from models.plan.history import SkuInfo
>>> rng = np.random.default_rng(0)
>>> t = np.arange(0, 14 * 86400, 3600.0)  # two weeks, hourly rows
>>> shape = 1 + np.sin(2 * np.pi * (t / 3600 % 24) / 24)  # a daily curve
>>> d = rng.choice([0.0, 0.2, 0.4], t.size)  # the price moved
>>> y = rng.poisson(60 * 5.0 * shape * (1 - d) ** -2.0)
>>> h = History((SkuInfo("A", "toys", 9.0),), np.zeros(t.size, int), t, np.full(t.size, 60.0),
...             y.astype(float), d, np.array([5]))
>>> model = fit(h)
>>> round(float(model.elasticity[0]), 1), int(np.argmax(model.hourly(weekday=0)[0]))  # true: 2, 6 h
(2.0, 6)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.plan.demand import HOURS, WEEKDAYS, DemandModel, FitOptions, campaign_slots, hour_and_weekday
from models.plan.history import History


@dataclass
class _Rows:
    """The history's rows as model indices."""

    sku: np.ndarray
    cat: np.ndarray
    hour: np.ndarray
    day: np.ndarray
    slot: np.ndarray
    x: np.ndarray  # -log(1 - discount)
    log_e: np.ndarray
    y: np.ndarray


def _rows(history: History, options: FitOptions, sku_category: np.ndarray) -> _Rows:
    hours, days = hour_and_weekday(history.start, options.utc_offset_hours)
    return _Rows(
        history.sku,
        sku_category[history.sku],
        hours,
        days,
        campaign_slots(history.start, history.campaigns, options.slot_minutes),
        -np.log1p(-np.clip(history.discount, 0.0, 0.99)),
        np.log(history.minutes),
        history.units,
    )


def _block(theta: np.ndarray, group: np.ndarray, y: np.ndarray, mu: np.ndarray, prior: float) -> np.ndarray:
    """The gamma-prior posterior mode of one categorical block (``prior`` pseudo-units at 0); returns
    the change of each group's parameter."""
    n = theta.size
    observed = np.bincount(group, y, n)
    without = np.bincount(group, mu, n) * np.exp(-theta.ravel())
    return np.log((observed + prior) / (without + prior)) - theta.ravel()


def fit(history: History, options: FitOptions | None = None) -> DemandModel:
    """Fit the model of the module doc to ``history``; ValueError when it has no rows."""
    options = options or FitOptions()
    if not len(history.units):
        raise ValueError("the history has no intervals with stock: nothing to learn demand from")
    categories = history.categories
    sku_category = np.array([categories.index(s.category) for s in history.skus], dtype=np.int64)
    r = _rows(history, options, sku_category)
    n, n_cat, n_slot = len(history.skus), len(categories), int(r.slot.max()) + 1
    p = _Params.start(r, n, n_cat, n_slot, options)
    p.run(r, sku_category, options)
    return p.model(history, r, sku_category, categories, options)


@dataclass
class _Params:
    level: np.ndarray
    hour: np.ndarray
    cat_hour: np.ndarray
    weekday: np.ndarray
    lift: np.ndarray
    elasticity: np.ndarray
    cat_elasticity: np.ndarray
    covered_days: np.ndarray

    @classmethod
    def start(cls, r: _Rows, n: int, n_cat: int, n_slot: int, options: FitOptions) -> _Params:
        units = np.bincount(r.sku, r.y, n)
        minutes = np.bincount(r.sku, np.exp(r.log_e), n)
        return cls(
            np.log((units + 0.5) / np.maximum(minutes, 1.0)),
            np.zeros(HOURS),
            np.zeros((n_cat, HOURS)),
            np.zeros(WEEKDAYS),
            np.zeros(max(n_slot, 0)),
            np.full(n, options.elasticity_mean),
            np.full(n_cat, options.elasticity_mean),
            np.bincount(r.day, minlength=WEEKDAYS) > 0,
        )

    def eta(self, r: _Rows) -> np.ndarray:
        lift = np.where(r.slot >= 0, self.lift[np.maximum(r.slot, 0)] if len(self.lift) else 0.0, 0.0)
        return (
            r.log_e
            + self.level[r.sku]
            + self.hour[r.hour]
            + self.cat_hour[r.cat, r.hour]
            + self.weekday[r.day]
            + lift
            + self.elasticity[r.sku] * r.x
        )

    def run(self, r: _Rows, sku_category: np.ndarray, o: FitOptions) -> None:
        """Block-coordinate ascent until the log-likelihood stops moving."""
        eta = self.eta(r)
        previous = -np.inf
        for _ in range(o.iterations):
            step = _block(self.level, r.sku, r.y, np.exp(eta), o.level_prior_units)
            self.level += step
            eta += step[r.sku]
            step = _block(self.hour, r.hour, r.y, np.exp(eta), o.level_prior_units)
            self.hour += step
            eta += step[r.hour]
            cell = r.cat * HOURS + r.hour
            step = _block(self.cat_hour, cell, r.y, np.exp(eta), o.category_prior_units)
            self.cat_hour += step.reshape(self.cat_hour.shape)
            eta += step[cell]
            step = _block(self.weekday, r.day, r.y, np.exp(eta), o.weekday_prior_units) * self.covered_days
            self.weekday += step
            eta += step[r.day]
            eta += self._lift_step(r, np.exp(eta), o)
            eta += self._elasticity_step(r, np.exp(eta), sku_category, o)
            self._centre(sku_category)
            loglik = float(np.sum(r.y * eta - np.exp(eta)))
            if abs(loglik - previous) <= o.tolerance * abs(loglik):
                break
            previous = loglik

    def _lift_step(self, r: _Rows, mu: np.ndarray, o: FitOptions) -> np.ndarray:
        inside = r.slot >= 0
        if not inside.any():
            return np.zeros(len(r.y))
        step = _block(self.lift, r.slot[inside], r.y[inside], mu[inside], o.lift_prior_units)
        self.lift += step
        return np.where(inside, step[np.maximum(r.slot, 0)], 0.0)

    def _elasticity_step(
        self, r: _Rows, mu: np.ndarray, sku_category: np.ndarray, o: FitOptions
    ) -> np.ndarray:
        n = self.elasticity.size
        prior = 1.0 / o.elasticity_spread**2
        gap = self.elasticity - self.cat_elasticity[sku_category]
        gradient = np.bincount(r.sku, (r.y - mu) * r.x, n) - prior * gap
        curvature = np.bincount(r.sku, mu * r.x**2, n) + prior
        step = np.clip(gradient / curvature, -0.5, 0.5)
        step = np.clip(self.elasticity + step, 0.0, 6.0) - self.elasticity
        self.elasticity += step
        sums = np.bincount(sku_category, self.elasticity, len(self.cat_elasticity))
        counts = np.bincount(sku_category, minlength=len(self.cat_elasticity))
        self.cat_elasticity = (sums + o.category_prior_skus * o.elasticity_mean) / (
            counts + o.category_prior_skus
        )
        return step[r.sku] * r.x

    def _centre(self, sku_category: np.ndarray) -> None:
        """Hour, category-hour and weekday effects average 0 (over covered weekdays); levels absorb it."""
        self.level += self.hour.mean()
        self.hour -= self.hour.mean()
        shift = self.cat_hour.mean(axis=1)
        self.level += shift[sku_category]
        self.cat_hour -= shift[:, None]
        if self.covered_days.any():
            shift_day = self.weekday[self.covered_days].mean()
            self.level += shift_day
            self.weekday[self.covered_days] -= shift_day

    def model(
        self, h: History, r: _Rows, sku_category: np.ndarray, categories: tuple[str, ...], o: FitOptions
    ) -> DemandModel:
        """The fitted model with its standard errors (Fisher information, scaled by the dispersion)."""
        mu = np.exp(self.eta(r))
        n, n_cat = self.level.size, len(categories)
        n_params = 2 * n + HOURS * (1 + n_cat) + int(self.covered_days.sum()) + self.lift.size
        dispersion = max(1.0, float(np.sum((r.y - mu) ** 2 / mu)) / max(len(r.y) - n_params, 1))
        info = np.bincount(r.sku, mu * r.x**2, n) / dispersion + 1.0 / o.elasticity_spread**2
        lift = self.lift.copy()
        inside = r.slot[r.slot >= 0]
        for k in np.flatnonzero(np.bincount(inside, minlength=lift.size) == 0):
            lift[k] = lift[k - 1] if k else 0.0  # a slot no row fell in: the one before it goes on
        rows = np.maximum(np.bincount(r.sku, minlength=n), 1)
        spread = np.bincount(r.sku, r.x**2, n) / rows - (np.bincount(r.sku, r.x, n) / rows) ** 2
        moved = spread > 1e-9
        return DemandModel(
            skus=h.skus,
            categories=categories,
            sku_category=sku_category,
            level=self.level.copy(),
            hour=self.hour.copy(),
            category_hour=self.cat_hour.copy(),
            weekday=self.weekday.copy(),
            lift=lift,
            elasticity=self.elasticity.copy(),
            elasticity_se=1.0 / np.sqrt(info),
            level_se=np.sqrt(dispersion / np.maximum(np.bincount(r.sku, mu, n), 0.5)),
            category_elasticity=self.cat_elasticity.copy(),
            category_hour_units=np.bincount(r.cat * HOURS + r.hour, r.y, n_cat * HOURS).reshape(n_cat, HOURS),
            lift_units=np.bincount(r.slot[r.slot >= 0], r.y[r.slot >= 0], self.lift.size),
            dispersion=dispersion,
            covered_hours=np.bincount(r.hour, minlength=HOURS) > 0,
            covered_weekdays=self.covered_days.copy(),
            price_moved=moved,
            options=o,
        )
