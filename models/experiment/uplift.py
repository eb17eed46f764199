"""Uplift of treated SKUs over held-out ones, per SKU-minute, with a confidence interval.

The unit is the SKU (the arms are assigned per SKU, :mod:`models.policy.control`), so every SKU gives
one outcome ``y``: its revenue (or units) per campaign minute so far. SKUs differ by orders of
magnitude (a few best-sellers carry most of a sale), so a plain difference of the arms' means is
dominated by which best-sellers the hash happened to put in which arm. The estimate therefore allows
for that difference with covariates fixed before the campaign could act (its opening stock, its
pre-campaign sales): Lin's (2013) fully interacted regression adjustment, one line per arm, centred
at the treated SKUs' covariate mean. The arm coefficient is then

    uplift = mean(y of the treated SKUs) − (control arm's line at the treated SKUs' covariate mean),

the effect on the treated SKUs (what they earned minus what the static policy would have earned with
them), which is what the simulator's truth measures. Its standard error is HC3 (heteroscedasticity
consistent, leave-one-out scaled: best-sellers are noisier), and the interval uses Student's t with the
residual degrees of freedom. With no covariates it is Welch's difference of means with HC3 variances.

Examples
--------
>>> treated = [True, True, True, False, False, False, True, False]
>>> size = [1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 3.0, 3.0]  # a covariate: how big each SKU is
>>> y = [3.0 * s + (1.0 if t else 0.0) for s, t in zip(size, treated)]  # + 1 for the treated
>>> u = adjusted_uplift(y, treated, [[s] for s in size])
>>> round(u.uplift, 6), round(u.se, 6), u.covariates
(1.0, 0.0, 1)
>>> plain = adjusted_uplift(y, treated, [[] for _ in size])  # without: the size mix shows as noise
>>> round(plain.uplift, 6), plain.lo < 1.0 < plain.hi, plain.se > 1.0
(1.0, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Uplift:
    """An uplift estimate per SKU-minute: treated mean, their counterfactual under control, the
    difference with its standard error and ``level`` interval, and how many covariates it used."""

    treatment: float  # mean outcome of the treated SKUs
    baseline: float  # the control line at the treated SKUs' covariates: their outcome under control
    control: float  # raw mean outcome of the control SKUs (for reading, not for the estimate)
    uplift: float  # treatment − baseline
    se: float
    df: float
    lo: float
    hi: float
    level: float
    covariates: int

    def covers(self, value: float) -> bool:
        """Whether the interval holds ``value``."""
        return bool(self.lo <= value <= self.hi)


def usable_covariates(x: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The columns of ``x`` that can take part: finite, varying within each arm, and no more than
    each arm's size allows (an arm of n SKUs fits a line with at most n − 3 covariates, so the HC3
    leverages stay below 1 and a residual degree of freedom is left)."""
    keep = [
        j
        for j in range(x.shape[1])
        if np.all(np.isfinite(x[:, j])) and np.ptp(x[treated, j]) > 0 and np.ptp(x[~treated, j]) > 0
    ]
    room = min(int(treated.sum()), int((~treated).sum())) - 3
    return x[:, keep[: max(room, 0)]]


def adjusted_uplift(
    y: Sequence[float], treated: Sequence[bool], covariates: Sequence[Sequence[float]], level: float = 0.95
) -> Uplift | None:
    """The regression-adjusted uplift of the treated SKUs (see the module); None with fewer than 2
    SKUs in either arm. ``covariates``: one row per SKU (rows may be empty)."""
    yv, t = np.asarray(y, dtype=float), np.asarray(treated, dtype=bool)
    if t.sum() < 2 or (~t).sum() < 2:
        return None
    x = usable_covariates(np.asarray(covariates, dtype=float).reshape(len(yv), -1), t)
    k = x.shape[1]
    centre, scale = x[t].mean(axis=0), x.std(axis=0)  # scaling changes nothing but the conditioning
    xc = (x - centre) / np.where(scale > 0, scale, 1.0)
    design = np.column_stack([np.ones(len(yv)), t.astype(float), xc, t[:, None] * xc])
    inverse = np.linalg.pinv(design.T @ design)
    beta = inverse @ design.T @ yv
    residual = yv - design @ beta
    leverage = np.einsum("ij,jk,ik->i", design, inverse, design)
    weight = residual**2 / np.maximum(1.0 - leverage, 1e-12) ** 2  # HC3
    cov = inverse @ (design.T @ (design * weight[:, None])) @ inverse
    uplift, se = float(beta[1]), math.sqrt(max(float(cov[1, 1]), 0.0))
    df = float(len(yv) - design.shape[1])
    half = t_quantile(0.5 + level / 2, df) * se
    treatment = float(yv[t].mean())
    return Uplift(treatment, treatment - uplift, float(yv[~t].mean()), uplift, se, df, uplift - half,
                  uplift + half, level, k)  # fmt: skip


def strata(covariate: Sequence[float], treated: Sequence[bool], min_per_arm: int = 3) -> list[int]:
    """Post-strata by ``covariate``: SKUs in its order, a stratum closing once it holds ``min_per_arm``
    of each arm; what is left joins the last one.

    >>> strata([5.0, 1.0, 3.0, 2.0, 4.0, 6.0], [True, False, True, False, True, False], min_per_arm=1)
    [1, 0, 0, 0, 1, 1]
    """
    order = sorted(range(len(treated)), key=lambda i: (covariate[i], i))
    out, h, counts = [0] * len(order), 0, [0, 0]
    for i in order:
        out[i] = h
        counts[bool(treated[i])] += 1
        if min(counts) >= min_per_arm:
            h, counts = h + 1, [0, 0]
    if max(counts) and h:  # a remainder short of one arm joins the stratum before it
        out = [min(s, h - 1) for s in out]
    return out


def stratified_uplift(
    y: Sequence[float], treated: Sequence[bool], covariate: Sequence[float], level: float = 0.95,
    min_per_arm: int = 3,
) -> Uplift | None:  # fmt: skip
    """The alternative the experiment was measured against: post-stratified on one covariate (the
    pre-campaign sales rate), strata weighted by their treated SKUs (the effect on the treated),
    Neyman variances per stratum and Satterthwaite's degrees of freedom. None with fewer than
    ``min_per_arm`` SKUs in either arm."""
    yv, t = np.asarray(y, dtype=float), np.asarray(treated, dtype=bool)
    if min(t.sum(), (~t).sum()) < min_per_arm:
        return None
    s = np.asarray(
        strata(np.nan_to_num(np.asarray(covariate, dtype=float)).tolist(), t.tolist(), min_per_arm)
    )
    uplift = variance = df_denominator = 0.0
    for h in np.unique(s):
        a, b = yv[(s == h) & t], yv[(s == h) & ~t]
        w = len(a) / t.sum()
        va, vb = w * w * a.var(ddof=1) / len(a), w * w * b.var(ddof=1) / len(b)
        uplift += w * (a.mean() - b.mean())
        variance += va + vb
        df_denominator += va * va / (len(a) - 1) + vb * vb / (len(b) - 1)
    se = math.sqrt(variance)
    df = variance * variance / df_denominator if df_denominator > 0 else float(len(yv) - 2)
    half = t_quantile(0.5 + level / 2, df) * se
    treatment = float(yv[t].mean())
    return Uplift(treatment, treatment - uplift, float(yv[~t].mean()), float(uplift), se, float(df),
                  float(uplift - half), float(uplift + half), level, 1)  # fmt: skip


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile; SciPy is imported here, not with the module (it adds ~90 MB to a worker)."""
    from scipy import stats

    return float(stats.t.ppf(p, df))
