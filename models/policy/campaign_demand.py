"""Campaign-aware demand of one SKU: the campaign window and the live discount are known covariates.

Inside the campaign window the units of a bucket are Poisson with rate ``exp(level + elasticity ×
discount)``, where ``discount`` is the one live during the bucket. An extended Kalman filter tracks
``(level, elasticity)``: the level drifts from bucket to bucket (traffic rises and decays), the
elasticity hardly moves, so a step change of the discount, which shows at once as a jump of the rate,
teaches the elasticity, and slow drift teaches the level. Outside the window demand is an EWMA of its
own, so a forecast that reaches past the campaign's end drops to it.

Examples
--------
>>> import random
>>> rng, demand = random.Random(1), CampaignDemand()
>>> for t in range(240):  # true rate 4 × e^(2.5 d), the discount alternating between 0.2 and 0.4
...     d = 0.2 if t // 10 % 2 else 0.4
...     lam = 4 * math.exp(2.5 * d)
...     demand.learn_one(sum(rng.random() < lam / 50 for _ in range(50)), d, live=True)
>>> round(demand.elasticity, 1), abs(demand.rate(0.3, live=True) / (4 * math.exp(2.5 * 0.3)) - 1) < 0.1
(2.5, True)
>>> demand.learn_one(1.0, 0.0, live=False)
>>> demand.rate(0.3, live=False)  # outside the window: the discount does not apply
1.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


@dataclass
class CampaignDemand:
    """Per-bucket demand inside the campaign (level and elasticity) and outside it (a rate)."""

    prior_elasticity: float = 3.0  # d log(demand) / d discount before any evidence: +10 points ~ +35 %
    prior_elasticity_sd: float = 1.5
    level_drift_sd: float = 0.07  # per bucket, of the log rate
    elasticity_drift_sd: float = 0.02  # per bucket
    dispersion: float = 1.4  # variance / mean of a bucket's units (orders of several units)
    outside_alpha: float = 0.1  # EWMA weight of a bucket outside the campaign
    initial_level_var: float = 1.0  # of the level set by the first campaign bucket
    outside_cv: float = 0.3  # relative uncertainty of the rate outside the campaign
    max_level_var: float = 0.1  # the level uncertainty (log sd 0.32) a quantile counts at most
    level: float | None = None  # log units per bucket at discount 0 inside the campaign; None: not seen
    elasticity: float = 3.0
    p_ll: float = 0.0  # covariance of (level, elasticity)
    p_le: float = 0.0
    p_ee: float = 0.0
    outside_rate: float = 0.0
    n_outside: int = 0
    n_live: int = 0  # campaign buckets learnt: the evidence behind the level
    live_units: float = 0.0

    def __post_init__(self) -> None:
        if self.level is None and self.n_live == 0:
            self.elasticity, self.p_ee = self.prior_elasticity, self.prior_elasticity_sd**2

    def learn_one(self, units: float, discount: float, live: bool) -> None:
        """Learn one closed bucket: its units, the discount live during it, and whether it was in the
        campaign window. Sold-out buckets must not be learnt (they say nothing about demand)."""
        y = max(float(units), 0.0)
        if not live:
            self.n_outside += 1
            weight = max(self.outside_alpha, 1.0 / self.n_outside)
            self.outside_rate += weight * (y - self.outside_rate)
            return
        self.n_live += 1
        self.live_units += y
        if self.level is None:  # the first campaign bucket sets the level, loosely
            self.level = math.log(max(y, 0.5)) - self.elasticity * discount
            self.p_ll = self.initial_level_var
            return
        self.p_ll += self.level_drift_sd**2
        self.p_ee += self.elasticity_drift_sd**2
        lam = math.exp(self.level + self.elasticity * discount)
        # Newton step of the Poisson log-likelihood from the prior mean: gain K = P h / (h'P h + R).
        h0, h1 = lam, lam * discount
        ph0 = self.p_ll * h0 + self.p_le * h1
        ph1 = self.p_le * h0 + self.p_ee * h1
        s = h0 * ph0 + h1 * ph1 + self.dispersion * lam + 1e-9
        k0, k1 = ph0 / s, ph1 / s
        err = y - lam
        self.level += max(min(k0 * err, 1.0), -1.0)  # a single bucket moves the level by at most e×
        self.elasticity += max(min(k1 * err, 1.0), -1.0)
        self.p_ll, self.p_le, self.p_ee = self.p_ll - k0 * ph0, self.p_le - k0 * ph1, self.p_ee - k1 * ph1

    def rate(self, discount: float, live: bool) -> float:
        """Expected units in one bucket at ``discount``, inside the campaign window or outside it."""
        if not live or self.level is None:
            return self.outside_rate
        return math.exp(self.level + self.elasticity * discount)

    def path(self, live: Sequence[bool], discount: float) -> list[float]:
        """Expected units of each bucket of a horizon (``live``: which are in the campaign window)."""
        inside = self.rate(discount, True)
        return [inside if flag else self.outside_rate for flag in live]

    def quantile(self, live: Sequence[bool], discount: float, service_level: float) -> float:
        """Upper ``service_level`` quantile of the total units over the buckets of ``live``: the noise
        of each bucket plus the uncertainty of each rate, which moves all its buckets together.

        >>> demand = CampaignDemand(outside_rate=2.0)
        >>> demand.quantile([False] * 10, 0.3, 0.95) > 20.0 == demand.quantile([False] * 10, 0.3, 0.5)
        True
        """
        path = self.path(live, discount)
        return self.total_quantile(sum(path), sum(itertools.compress(path, live)), service_level)

    def total_quantile(self, total: float, inside: float, service_level: float) -> float:
        """:meth:`quantile` of a path whose units add up to ``total``, ``inside`` of them in the window."""
        outside = total - inside
        level_var = min(self.p_ll, self.max_level_var)
        var = self.dispersion * (inside + outside) + inside**2 * level_var + (self.outside_cv * outside) ** 2
        return max(inside + outside + NormalDist().inv_cdf(service_level) * math.sqrt(var), 0.0)


@dataclass(frozen=True)
class CampaignOutlook:
    """Demand from ``start`` on, bucket by bucket, for the restock policy: buckets inside the campaign
    ``window`` (``(starts_at, ends_at)`` in epoch seconds, or None) at ``discount``, the rest at the
    demand outside the campaign.

    >>> demand = CampaignDemand(level=math.log(4.0), elasticity=0.0, outside_rate=1.0)
    >>> outlook = CampaignOutlook(demand, (0.0, 180.0), start=60.0, bucket_s=60, discount=0.3)
    >>> outlook.forecast(4)  # two campaign buckets left, then the campaign is over
    [4.0, 4.0, 1.0, 1.0]
    """

    demand: CampaignDemand
    window: tuple[float, float] | None
    start: float
    bucket_s: int
    discount: float

    def live(self, first: int, horizon: int) -> list[bool]:
        """Which of the ``horizon`` buckets from the ``first``-th on lie in the campaign window."""
        before, inside = self._runs(first, horizon)
        return [False] * before + [True] * inside + [False] * (horizon - before - inside)

    def forecast(self, horizon: int) -> list[float]:
        return self._path(*self._runs(0, horizon), horizon)

    def window_quantile(self, start: int, horizon: int, service_level: float) -> float:
        before, inside = self._runs(start, horizon)
        path = self._path(before, inside, horizon)
        return self.demand.total_quantile(sum(path), sum(path[before : before + inside]), service_level)

    def _path(self, before: int, inside: int, horizon: int) -> list[float]:
        """:meth:`CampaignDemand.path` over :meth:`live`'s flags, built from their runs."""
        outside, rate = self.demand.outside_rate, self.demand.rate(self.discount, True)
        return [outside] * before + [rate] * inside + [outside] * (horizon - before - inside)

    def _runs(self, first: int, horizon: int) -> tuple[int, int]:
        """(buckets before the window, buckets in it) of the ``horizon`` from the ``first``-th on: the
        window is one run of buckets, so a horizon of hundreds costs no loop."""
        if self.window is None:
            return horizon, 0
        begins, ends = (min(max(self._first_at(t, first), 0), horizon) for t in self.window)
        return begins, max(ends - begins, 0)

    def _first_at(self, t: float, first: int) -> int:
        """The least ``k`` whose bucket starts at or after ``t``, counted from the ``first``-th: the
        estimate by division, then checked with the very sum :meth:`live` compares (buckets start at
        ``start + (first + k) × bucket_s``), so the flags are exactly what a bucket-by-bucket test gives."""
        k = math.ceil((t - self.start) / self.bucket_s) - first
        while self.start + (first + k - 1) * self.bucket_s >= t:
            k -= 1
        while self.start + (first + k) * self.bucket_s < t:
            k += 1
        return k
