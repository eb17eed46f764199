"""Demand by time of day, day of week and price, per category and per SKU: a Poisson model of a history.

The units of SKU *i* (category *c*) in an interval of *E* minutes starting at hour *h* of weekday *w*,
at discount *d*, are Poisson (over-dispersed by a factor φ) with mean

    E · exp(a_i + τ_h + δ_ch + ω_w + κ_k + e_i · −log(1 − d))

τ is the shop's hour-of-day curve and δ its category's own shape (shrunk towards the shop's where a
category has few units); ω the weekday (only weekdays the history covers; the others stay 0); κ the
lift of a sale's own traffic in the k-th ``slot_minutes`` since a past campaign started (0 outside
campaigns); a_i the SKU's level and e_i its price elasticity, shrunk towards its category's mean
(which, where prices never moved, is the prior ``elasticity_mean``). So a SKU's day has its
category's shape at its own level. :func:`models.plan.learn.fit` fits it to a history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.plan.history import History, SkuInfo

HOURS, WEEKDAYS = 24, 7


@dataclass(frozen=True)
class FitOptions:
    """Knobs of :func:`fit`; hours and weekdays are taken at UTC + ``utc_offset_hours``."""

    utc_offset_hours: float = 0.0
    slot_minutes: int = 5
    iterations: int = 150
    tolerance: float = 1e-9  # relative change of the log-likelihood that ends the fit
    level_prior_units: float = 0.5
    category_prior_units: float = 30.0
    weekday_prior_units: float = 5.0
    lift_prior_units: float = 0.5  # more pulls the lift towards 1 and pushes elasticities up
    elasticity_mean: float = 1.0
    elasticity_spread: float = 0.3  # prior sd of a SKU's elasticity around its category's
    category_prior_skus: float = 1.0  # pseudo-SKUs at ``elasticity_mean`` in a category's mean


def hour_and_weekday(epoch_s: np.ndarray, utc_offset_hours: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (0-23) and weekday (Monday 0) of each time.

    >>> hour_and_weekday(np.array([0.0, 86400.0 * 4 + 3600 * 13]))  # 1970-01-01 was a Thursday
    (array([ 0, 13]), array([3, 0]))
    """
    local = np.asarray(epoch_s, dtype=float) + 3600.0 * utc_offset_hours
    hours = (local // 3600).astype(np.int64) % HOURS
    return hours, (local // 86400 + 3).astype(np.int64) % WEEKDAYS


def campaign_slots(
    epoch_s: np.ndarray, campaigns: tuple[tuple[float, float], ...], slot_minutes: int
) -> np.ndarray:
    """Slot (``slot_minutes`` since the campaign's start) of each time inside a campaign, else -1."""
    out = np.full(len(epoch_s), -1, dtype=np.int64)
    for start, end in campaigns:
        inside = (epoch_s >= start) & (epoch_s < end)
        out[inside] = ((epoch_s[inside] - start) // (60 * slot_minutes)).astype(np.int64)
    return out


@dataclass(frozen=True)
class DemandModel:
    """A fitted model (see the module doc); arrays are per SKU, per hour, per category × hour…"""

    skus: tuple[SkuInfo, ...]
    categories: tuple[str, ...]
    sku_category: np.ndarray
    level: np.ndarray
    hour: np.ndarray
    category_hour: np.ndarray
    weekday: np.ndarray
    lift: np.ndarray
    elasticity: np.ndarray
    elasticity_se: np.ndarray
    level_se: np.ndarray
    category_elasticity: np.ndarray
    category_hour_units: np.ndarray  # units observed per category and hour
    lift_units: np.ndarray  # units observed per campaign slot
    dispersion: float
    covered_hours: np.ndarray
    covered_weekdays: np.ndarray
    price_moved: np.ndarray  # per SKU: the history saw it at more than one discount
    options: FitOptions

    def base_rate(self, epoch_s: np.ndarray) -> np.ndarray:
        """SKUs × times: units per minute at full price on everyday traffic."""
        h, w = hour_and_weekday(epoch_s, self.options.utc_offset_hours)
        log_rate = self.level[:, None] + self.category_hour[self.sku_category][:, h]
        return np.exp(log_rate + (self.hour[h] + self.weekday[w])[None, :])

    def sale_lift(self, minutes: int) -> np.ndarray:
        """Traffic multiplier of each minute since a sale's start (the last slot learnt goes on)."""
        if not len(self.lift):
            return np.ones(minutes)
        k = np.minimum(np.arange(minutes) // self.options.slot_minutes, len(self.lift) - 1)
        return np.exp(self.lift[k])

    def price_factor(self, discount: float | np.ndarray) -> np.ndarray:
        """Per SKU, demand at ``discount`` over demand at full price."""
        return (1.0 - np.asarray(discount, dtype=float)) ** -self.elasticity

    def hourly(self, weekday: int | None = None) -> np.ndarray:
        """SKUs × 24: units per hour at full price on everyday traffic on ``weekday`` (Monday 0; None:
        the average weekday)."""
        w = weekday or 0
        day = (w + 4) % WEEKDAYS  # the epoch's first day that is this weekday (1970-01-01: a Thursday)
        t = 86400.0 * day + 3600.0 * (np.arange(HOURS) - self.options.utc_offset_hours)
        rate = 60.0 * self.base_rate(t)
        return rate if weekday is not None else rate / np.exp(self.weekday[w])


def observed_hourly(
    history: History, categories: tuple[str, ...], utc_offset_hours: float = 0.0
) -> np.ndarray:
    """Categories × 24: units per hour the history saw outside campaigns, summed over the category's
    SKUs (NaN: unseen)."""
    everyday = campaign_slots(history.start, history.campaigns, 1) < 0
    history = replace(
        history,
        sku=history.sku[everyday],
        start=history.start[everyday],
        minutes=history.minutes[everyday],
        units=history.units[everyday],
        discount=history.discount[everyday],
    )
    hours, _ = hour_and_weekday(history.start, utc_offset_hours)
    cat = np.array([categories.index(history.skus[i].category) for i in range(len(history.skus))])[
        history.sku
    ]
    cell = cat * HOURS + hours
    units = np.bincount(cell, history.units, len(categories) * HOURS)
    # Minutes a category was watched in each hour: the longest any one of its SKUs was.
    minutes = np.zeros(len(categories) * HOURS)
    per_sku = np.bincount(history.sku * HOURS + hours, history.minutes, len(history.skus) * HOURS)
    for i in range(len(history.skus)):
        c = categories.index(history.skus[i].category)
        np.maximum(
            minutes[c * HOURS : (c + 1) * HOURS],
            per_sku[i * HOURS : (i + 1) * HOURS],
            out=minutes[c * HOURS : (c + 1) * HOURS],
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(minutes > 0, 60.0 * units / minutes, np.nan)
    return rate.reshape(len(categories), HOURS)
