"""The holdout experiment in the simulator: its estimates, the truth they estimate, and their coverage.

:class:`ExperimentRecorder` is the in-process twin of the stream's experiment path: per-SKU
:class:`~models.policy.sku_state.SkuState` s (through :class:`~models.sim.evaluation.AdaptivePolicy`,
control SKUs on the static policy) hand their closed buckets to one :class:`CampaignTally` per campaign,
closed at each step's event time, so it computes what the stream computes from the same events.

The truth is what the treated SKUs earned under the adaptive policy minus what the same SKUs earn
under the static policy *in the same market*: the same scenario run again with every campaign SKU held
out (share 1). The market draws each minute from ``(seed, minute)`` (common random numbers) and a
SKU's sales depend only on its own price and stock (no recommendations are shown in these runs), so
the second run differs from the first only by the treated SKUs' policy; the control SKUs' outcomes
come out identical in both, which :func:`run_experiment` checks.

>>> from models.sim.market import ScenarioConfig
>>> config = ScenarioConfig(n_users=200, n_skus=12, duration_minutes=40, campaign_offset_minutes=10,
...                         campaign_minutes=20, sessions_per_minute=60.0)
>>> run = run_experiment(config, SkuPolicy(holdout_share=0.5))
>>> run.control_identical, len(run.estimates), run.estimates[-1].minutes
(True, 20, 20.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from models.experiment.tally import CAMPAIGN, CampaignTally, Estimate, take_outcomes, window
from models.ids import to_epoch
from models.policy.control import TREATMENT, BucketOutcome
from models.policy.sku_state import SkuPolicy
from models.sim.evaluation import AdaptivePolicy
from models.sim.market import ScenarioConfig, SimEvent
from models.sim.policies import Decision, run_policy

PRE_MINUTES = 60  # the default of FLASHSALE_HOLDOUT_PRE_MINUTES


@dataclass
class ExperimentRecorder:
    """Adaptive/control SKU states on the market's events, and the experiment's tallies of them."""

    adaptive: AdaptivePolicy
    pre_minutes: int = PRE_MINUTES
    level: float = 0.95
    tallies: dict[str, CampaignTally] = field(default_factory=dict)
    estimates: list[Estimate] = field(default_factory=list)
    outcomes: list[BucketOutcome] = field(default_factory=list)  # every one the experiment used

    def __call__(self, events: Sequence[SimEvent], now: datetime) -> list[Decision]:
        decisions = self.adaptive(events, now)
        self.record(to_epoch(now))
        return decisions

    def record(self, until: float) -> None:
        """Take the outcomes of the buckets closed by ``until`` and close the tallies there."""
        bucket_s = 60 * self.adaptive.policy.bucket_minutes
        for sku in sorted(self.adaptive.states):
            for outcome in take_outcomes(self.adaptive.states[sku].outcomes, self.pre_minutes):
                tally = self.tallies.setdefault(
                    outcome.campaign_id,
                    CampaignTally(outcome.campaign_id, bucket_s, self.pre_minutes, self.level),
                )
                tally.observe(outcome)
                self.outcomes.append(outcome)
        for campaign_id in sorted(self.tallies):
            self.estimates += self.tallies[campaign_id].close(until)


@dataclass(frozen=True)
class Truth:
    """The true uplift per SKU-minute of the treated SKUs, after the campaign bucket ending at ``ts``."""

    ts: float
    revenue: float
    units: float


@dataclass
class ExperimentRun:
    """One seed: the estimates after each campaign bucket, the truth at the same times, the arms."""

    estimates: list[Estimate]
    truth: list[Truth]
    arms: dict[str, str]
    control_identical: bool  # the control SKUs sold the same in both runs (no interference)
    revenue: dict[str, float]  # whole-sale revenue: the experiment's run and the all-static run
    tallies: dict[str, CampaignTally] = field(default_factory=dict)  # the experiment's, at the end


def campaign_sums(outcomes: Sequence[BucketOutcome], pre_minutes: int) -> dict[str, np.ndarray]:
    """Per SKU, rows (bucket start, units, revenue) of its campaign buckets, in bucket order."""
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for o in outcomes:
        if window(o, pre_minutes) == CAMPAIGN:
            rows.setdefault(o.sku, []).append((o.bucket, o.units, o.revenue))
    return {sku: np.array(sorted(r)) for sku, r in rows.items()}


def true_uplift(
    treated: Sequence[str], ours: dict[str, np.ndarray], static: dict[str, np.ndarray], ts: float,
    bucket_s: int,
) -> Truth:  # fmt: skip
    """Mean over ``treated`` of (their sums under ``ours`` − under ``static``) per campaign minute,
    over the buckets that end by ``ts``."""
    revenue, units = [], []
    for sku in treated:
        a, b = ours[sku], static[sku]
        n = int(np.sum(a[:, 0] + bucket_s <= ts))
        minutes = n * bucket_s / 60
        units.append((a[:n, 1].sum() - b[:n, 1].sum()) / minutes)
        revenue.append((a[:n, 2].sum() - b[:n, 2].sum()) / minutes)
    return Truth(ts, float(np.mean(revenue)), float(np.mean(units)))


def run_experiment(
    config: ScenarioConfig, policy: SkuPolicy, lag_minutes: int = 1, pre_minutes: int = PRE_MINUTES,
    level: float = 0.95,
) -> ExperimentRun:  # fmt: skip
    """The sale with ``policy.holdout_share`` held out, and again all static (share 1), on one market."""
    runs = {}
    for name, share in (("ours", policy.holdout_share), ("static", 1.0)):
        recorder = ExperimentRecorder(AdaptivePolicy(replace(policy, holdout_share=share), lag_minutes),
                                      pre_minutes, level)  # fmt: skip
        ledger = run_policy(config, recorder)
        runs[name] = (recorder, ledger)
    ours = runs["ours"][0]
    arms = {o.sku: o.arm for o in ours.outcomes}
    sums = {name: campaign_sums(r.outcomes, pre_minutes) for name, (r, _) in runs.items()}
    treated = sorted(sku for sku, arm in arms.items() if arm == TREATMENT)
    held = [sku for sku in arms if arms[sku] != TREATMENT]
    identical = all(np.array_equal(sums["ours"][s], sums["static"][s]) for s in held)
    bucket_s = 60 * policy.bucket_minutes
    truth = [true_uplift(treated, sums["ours"], sums["static"], e.ts, bucket_s) for e in ours.estimates]
    revenue = {name: ledger.revenue for name, (_, ledger) in runs.items()}
    return ExperimentRun(ours.estimates, truth, arms, identical, revenue, ours.tallies)


def seed_report(seed: int, run: ExperimentRun) -> dict[str, Any]:
    """One seed's final estimate against its truth, how often the running intervals covered it, and the
    running series (``[estimate, lo, hi, truth]`` per metric after each campaign bucket)."""
    final, truth = run.estimates[-1], run.truth[-1]
    out: dict[str, Any] = {"seed": seed, "n_treatment": final.n_treatment, "n_control": final.n_control,
                           "minutes": final.minutes, "control_identical": run.control_identical}  # fmt: skip
    for metric in ("revenue", "units"):
        u, true = getattr(final, metric), getattr(truth, metric)
        pairs = zip(run.estimates, run.truth, strict=True)
        running = [getattr(e, metric).covers(getattr(t, metric)) for e, t in pairs]
        out[metric] = {
            "estimate": u.uplift, "lo": u.lo, "hi": u.hi, "truth": true, "covered": u.covers(true),
            "error": u.uplift - true, "treatment": u.treatment, "baseline": u.baseline, "control": u.control,
            "covariates": u.covariates, "running_covered": sum(running), "running_estimates": len(running),
        }  # fmt: skip
    out["covered"] = out["revenue"]["covered"] and out["units"]["covered"]
    out["alternatives"] = alternatives(run)
    out["running"] = [
        {"minutes": e.minutes, **{m: [getattr(e, m).uplift, getattr(e, m).lo, getattr(e, m).hi,
                                       getattr(t, m)] for m in ("revenue", "units")}}
        for e, t in zip(run.estimates, run.truth, strict=True)
    ]  # fmt: skip
    return out


ESTIMATORS = ("adjusted", "stratified", "plain")  # the experiment's, then what it was measured against


def alternatives(run: ExperimentRun) -> dict[str, dict[str, dict[str, float | bool]]]:
    """The final estimate of each other estimator on the same tallies, against the same truth."""
    final, truth = run.estimates[-1], run.truth[-1]
    out: dict[str, dict[str, dict[str, float | bool]]] = {}
    for name in ESTIMATORS[1:]:
        other = run.tallies[final.campaign_id].estimate(final.ts, name)
        out[name] = {}
        for metric in ("revenue", "units") if other is not None else ():
            u = getattr(other, metric)
            out[name][metric] = {"estimate": u.uplift, "lo": u.lo, "hi": u.hi,
                                 "covered": u.covers(getattr(truth, metric))}  # fmt: skip
    return out


def compare_estimators(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per estimator and metric over the seeds: intervals covering the truth, their median width, and
    the root mean square error of the estimate."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in ESTIMATORS:
        out[name] = {}
        for metric in ("revenue", "units"):
            found = [r[metric] if name == "adjusted" else r["alternatives"][name].get(metric) for r in rows]
            pairs = [(f, r[metric]["truth"]) for f, r in zip(found, rows, strict=True) if f]
            out[name][metric] = {
                "covered": sum(bool(f["covered"]) for f, _ in pairs),
                "seeds": len(pairs),
                "median_width": float(np.median([f["hi"] - f["lo"] for f, _ in pairs]))
                if pairs
                else math.nan,
                "rmse": float(np.sqrt(np.mean([(f["estimate"] - t) ** 2 for f, t in pairs])))
                if pairs
                else math.nan,
            }
    return out


def evaluate_experiment(
    seeds: Sequence[int], scenario: Callable[[int], ScenarioConfig], policy: SkuPolicy,
    progress: Callable[[int], None] = lambda _: None, **kw: Any,
) -> dict[str, Any]:  # fmt: skip
    """:func:`run_experiment` per seed; ``covered`` counts seeds whose final revenue *and* units
    intervals both hold the truth (``covered_revenue`` / ``covered_units``: each on its own)."""
    rows = []
    for seed in seeds:
        rows.append(seed_report(seed, run_experiment(scenario(seed), policy, **kw)))
        progress(seed)
    running = {m: sum(r[m]["running_covered"] for r in rows) / max(sum(r[m]["running_estimates"]
               for r in rows), 1) for m in ("revenue", "units")}  # fmt: skip
    return {
        "seeds": len(rows),
        "covered": sum(r["covered"] for r in rows),
        "covered_revenue": sum(r["revenue"]["covered"] for r in rows),
        "covered_units": sum(r["units"]["covered"] for r in rows),
        "running_coverage": running,
        "estimators": compare_estimators(rows),
        "holdout_share": policy.holdout_share,
        "estimate_vs_truth": rows,
    }
