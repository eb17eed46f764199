"""Running sums of one campaign's holdout experiment, closed bucket by bucket in event time.

It takes :class:`~models.policy.control.BucketOutcome` s — one per campaign SKU and closed bucket, in
any order across SKUs — and is told how far they are complete (:meth:`CampaignTally.close`: every
outcome of a bucket that ends by ``until`` has been given). It then closes each bucket in turn and,
after every campaign bucket, estimates the uplift so far (:mod:`models.experiment.uplift`). Outcomes
of buckets not yet closed wait; one given twice, or for a bucket already closed, is dropped. The
estimates therefore depend only on the outcomes, never on how they interleaved nor on how far each
close reached: the stream and the in-process evaluation compute the same numbers.

Per SKU the outcome is revenue (units) per campaign minute so far; the covariates are fixed before the
campaign acts: the opening stock (its value at the base price, for revenue) and the sales rate of the
``pre_minutes`` before the campaign.

>>> from models.policy.control import BucketOutcome
>>> tally = CampaignTally("c1", bucket_s=60, pre_minutes=60)
>>> def seen(sku, arm, minute, units, price=10.0):
...     return BucketOutcome("c1", 600.0, 1200.0, sku, arm, 60.0 * minute, units, units * price, 20, price)
>>> for m in (9, 10):  # the last pre-campaign minute, then the first campaign minute
...     for i, arm in enumerate(["treatment", "control"] * 4):
...         _ = tally.observe(seen(f"s{i}", arm, m, units=i + (arm == "treatment") * (m >= 10)))
>>> [round(e.units.uplift, 6) for e in tally.close(until=660.0)]  # minute 10 closes; raw means: equal
[1.0]
>>> tally.observe(seen("s0", "treatment", 10, units=5)), tally.close(until=660.0)  # a late copy
(False, [])
"""

from __future__ import annotations

import itertools
import math
from dataclasses import astuple, dataclass, field
from typing import Any

from models.experiment.uplift import Uplift, adjusted_uplift, stratified_uplift
from models.policy.control import ARMS, TREATMENT, BucketOutcome

PRE, CAMPAIGN = "pre", "campaign"


def window(outcome: BucketOutcome, pre_minutes: int) -> str | None:
    """Which part of the experiment a bucket feeds: the campaign, the ``pre_minutes`` before it (the
    covariate), or neither (None).

    >>> from models.policy.control import BucketOutcome
    >>> at = lambda s: BucketOutcome("c", 3600.0, 7200.0, "s", "control", s, 1.0, 2.0, None, None)
    >>> [window(at(s), pre_minutes=30) for s in (1740.0, 1800.0, 3600.0, 7140.0, 7200.0)]
    [None, 'pre', 'campaign', 'campaign', None]
    """
    if outcome.starts_at <= outcome.bucket < outcome.ends_at:
        return CAMPAIGN
    if outcome.starts_at - 60 * pre_minutes <= outcome.bucket < outcome.starts_at:
        return PRE
    return None


@dataclass
class SkuTally:
    """One SKU's sums: before the campaign (covariate) and during it (outcome)."""

    arm: str
    opening_stock: float | None = None
    base_price: float | None = None
    pre_minutes: float = 0.0
    pre_units: float = 0.0
    pre_revenue: float = 0.0
    minutes: float = 0.0
    units: float = 0.0
    revenue: float = 0.0

    def covariates(self) -> tuple[list[float], list[float]]:
        """(revenue covariates, units covariates); NaN where unknown (the estimate then drops it)."""
        nan = math.nan
        stock = nan if self.opening_stock is None else float(self.opening_stock)
        value = nan if self.base_price is None else stock * self.base_price
        pre = self.pre_minutes or nan
        return [value, self.pre_revenue / pre], [stock, self.pre_units / pre]


@dataclass(frozen=True)
class Estimate:
    """The uplift of a campaign so far, after the campaign bucket that ends at ``ts``."""

    campaign_id: str
    ts: float  # epoch s: the end of the last bucket it covers
    minutes: float  # campaign minutes it covers
    n_treatment: int
    n_control: int
    revenue: Uplift  # per SKU-minute
    units: Uplift


@dataclass
class CampaignTally:
    """The experiment of one campaign: per-SKU sums of closed buckets, and outcomes still open."""

    campaign_id: str
    bucket_s: int = 60
    pre_minutes: int = 60
    level: float = 0.95
    closed_until: float | None = None  # every outcome of a bucket ending by then has been taken
    skus: dict[str, SkuTally] = field(default_factory=dict)
    pending: list[BucketOutcome] = field(default_factory=list)
    _waiting: set[tuple[float, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._waiting = {_order(o) for o in self.pending}

    def observe(self, outcome: BucketOutcome) -> bool:
        """Keep ``outcome`` until its bucket closes; False (dropped) for a copy, a bucket already
        closed, or one outside the experiment's window."""
        closed = self.closed_until is not None and outcome.bucket + self.bucket_s <= self.closed_until
        if closed or window(outcome, self.pre_minutes) is None or _order(outcome) in self._waiting:
            return False
        self.skus.setdefault(outcome.sku, SkuTally(outcome.arm))
        self.pending.append(outcome)
        self._waiting.add(_order(outcome))
        return True

    def close(self, until: float) -> list[Estimate]:
        """Take every outcome of a bucket ending by ``until``, bucket by bucket; an estimate after each
        campaign bucket (when each arm has at least two SKUs)."""
        due = sorted((o for o in self.pending if o.bucket + self.bucket_s <= until), key=_order)
        self.pending = [o for o in self.pending if o.bucket + self.bucket_s > until]
        self._waiting = {_order(o) for o in self.pending}
        out = []
        for bucket, outcomes in itertools.groupby(due, key=lambda o: o.bucket):
            kinds = {self._take(o) for o in outcomes}
            if CAMPAIGN in kinds and (estimate := self.estimate(bucket + self.bucket_s)) is not None:
                out.append(estimate)
        self.closed_until = until if self.closed_until is None else max(self.closed_until, until)
        return out

    def _take(self, o: BucketOutcome) -> str | None:
        tally, kind, minutes = self.skus[o.sku], window(o, self.pre_minutes), self.bucket_s / 60
        tally.arm, tally.base_price = o.arm, o.base_price
        tally.opening_stock = None if o.opening_stock is None else float(o.opening_stock)
        if kind == CAMPAIGN:
            tally.minutes += minutes
            tally.units += o.units
            tally.revenue += o.revenue
        elif kind == PRE:
            tally.pre_minutes += minutes
            tally.pre_units += o.units
            tally.pre_revenue += o.revenue
        return kind

    def estimate(self, ts: float, estimator: str = "adjusted") -> Estimate | None:
        """The uplift over the campaign buckets taken so far (SKUs seen in at least one of them).

        ``estimator``: ``adjusted`` (the experiment's: both covariates), ``stratified`` (post-strata of
        the pre-campaign sales rate) or ``plain`` (no covariate): the last two only to measure it by.
        """
        skus = [t for _, t in sorted(self.skus.items()) if t.minutes > 0]
        treated = [t.arm == TREATMENT for t in skus]
        outcomes = {
            "revenue": [t.revenue / t.minutes for t in skus],
            "units": [t.units / t.minutes for t in skus],
        }
        covariates = dict(
            zip(("revenue", "units"), zip(*(t.covariates() for t in skus), strict=True), strict=True)
        )
        found = {}
        for metric, y in outcomes.items():
            x = covariates[metric] if skus else []
            if estimator == "stratified":
                found[metric] = stratified_uplift(y, treated, [row[1] for row in x], self.level)
            else:
                rows = [row if estimator == "adjusted" else [] for row in x]
                found[metric] = adjusted_uplift(y, treated, rows, self.level)
        revenue, units = found["revenue"], found["units"]
        if revenue is None or units is None:
            return None
        n = sum(treated)
        return Estimate(self.campaign_id, ts, max(t.minutes for t in skus), n, len(skus) - n, revenue, units)

    def to_state(self) -> dict[str, Any]:
        """Plain values only (what a changelog stores; a SKU and a waiting outcome as lists of their
        fields, in order); :meth:`from_state` reads them back."""
        return {
            "campaign_id": self.campaign_id,
            "bucket_s": self.bucket_s,
            "pre_minutes": self.pre_minutes,
            "level": self.level,
            "closed_until": self.closed_until,
            "skus": {sku: list(astuple(t)) for sku, t in self.skus.items()},
            "pending": [list(astuple(o)) for o in self.pending],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CampaignTally:
        """The tally of :meth:`to_state`; KeyError/TypeError/ValueError when ``state`` is not one."""
        skus = {str(sku): SkuTally(*t) for sku, t in state["skus"].items()}
        if any(t.arm not in ARMS for t in skus.values()):
            raise ValueError("an arm that is neither treatment nor control")
        pending = [BucketOutcome(*o) for o in state["pending"]]
        closed = state["closed_until"]
        return cls(str(state["campaign_id"]), int(state["bucket_s"]), int(state["pre_minutes"]),
                   float(state["level"]), None if closed is None else float(closed), skus,
                   pending)  # fmt: skip


def _order(o: BucketOutcome) -> tuple[float, str]:
    return o.bucket, o.sku


def take_outcomes(outcomes: list[BucketOutcome], pre_minutes: int) -> list[BucketOutcome]:
    """Empty a state's ``outcomes`` (:attr:`models.policy.sku_state.SkuState.outcomes`); returns those
    the experiment uses (see :func:`window`)."""
    taken = [o for o in outcomes if window(o, pre_minutes) is not None]
    outcomes.clear()
    return taken
