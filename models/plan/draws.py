"""Random draws behind a plan's predictive intervals (:mod:`models.plan.recommend`): the demand model's
parameter uncertainty as mean-one log-normal noise, and over-dispersed Poisson units.

>>> rng = np.random.default_rng(0)
>>> lognormal(rng, np.array([0.0, 0.5]), 20_000).mean(axis=0).round(1).tolist()  # mean one
[1.0, 1.0]
>>> units = negative_binomial(rng, np.full(20_000, 4.0), dispersion=3.0)
>>> round(float(units.mean())), round(float(units.var() / units.mean()))  # variance 3 × mean
(4, 3)
"""

from __future__ import annotations

import numpy as np

from models.plan.demand import DemandModel


def negative_binomial(rng: np.random.Generator, mean: np.ndarray, dispersion: float) -> np.ndarray:
    """Counts with the given means and variance ``dispersion`` × mean (Poisson when it is 1)."""
    if dispersion <= 1.0 + 1e-9:
        return rng.poisson(mean).astype(float)
    shape = np.maximum(mean / (dispersion - 1.0), 1e-12)
    return rng.poisson(rng.gamma(shape, 1.0, mean.shape) * mean / shape).astype(float)


def lognormal(rng: np.random.Generator, sd: np.ndarray, draws: int) -> np.ndarray:
    """Mean-one multiplicative noise, ``draws`` × len(sd)."""
    return np.exp(rng.normal(-0.5 * sd**2, sd, (draws, sd.size)))


def parameter_uncertainty(
    model: DemandModel, c: int, members: np.ndarray, start: int, minutes: int, discount: np.ndarray
) -> tuple[float, np.ndarray]:
    """Log-scale sd of the demand of category ``c``'s SKUs ``members`` in a window of ``minutes`` from
    ``start`` (minutes into the day) at ``discount`` (one per SKU): shared by the category (its hour
    curve over the window, the sale's lift) and per SKU (its level, its elasticity at the discount)."""
    hours = np.arange(start // 60, (start + minutes - 1) // 60 + 1) % 24
    seen = float(model.category_hour_units[c, hours].sum())
    shared = model.dispersion / max(seen, 1.0)
    if len(model.lift):
        used = min(len(model.lift), -(-minutes // model.options.slot_minutes))
        shared += model.dispersion / max(float(model.lift_units[:used].sum()), 1.0)
    x = -np.log1p(-discount)
    own = np.sqrt(model.level_se[members] ** 2 + (x * model.elasticity_se[members]) ** 2)
    return float(np.sqrt(shared)), own
