"""Validation of the plan in the simulator with a day curve (see :mod:`models.plan.scenario`).

Per seed: simulate the history, fit the demand model, plan the sale day with the shop's stock. Then,
per category, run the sale in the market four times — in the plan's window; in a window of the same
duration starting at a random time of the day (from the same grid of starts); in one starting at a
random time from 08:00 that ends by 22:00 (a harder baseline: nobody opens a sale at 03:00); and the
clairvoyant plan (:func:`models.sim.baselines.run_clairvoyant`) in the plan's window — each with that
category's SKUs' revenue counted. The random windows keep the plan's opening discounts and reorders,
so only the timing differs.
The opening discounts are compared with the clairvoyant plan's for the same window and stock
(:func:`models.sim.baselines.clairvoyant_plan`, which knows the true demand), as is the campaign's default.

>>> mean_ci95([1.0, 2.0, 3.0])
(2.0, [-0.4843, 4.4843])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from models.plan.demand import FitOptions
from models.plan.learn import fit
from models.plan.plots import plot_plan
from models.plan.recommend import CategoryPlan, Plan, PlanOptions, plan_sale
from models.plan.scenario import PlanScenario, run_sale, shop_stock, simulate_history
from models.sim.baselines import clairvoyant_plan, run_clairvoyant
from models.sim.ledger import Ledger
from models.sim.truth import MarketTruth

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def mean_ci95(values: Sequence[float]) -> tuple[float, list[float]]:
    """Mean and its 95 % t-interval (a single value: the interval is that value)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return round(mean, 4), [round(mean, 4)] * 2
    t = _T975[x.size - 2] if x.size - 1 <= len(_T975) else 1.96
    half = t * float(x.std(ddof=1)) / float(np.sqrt(x.size))
    return round(mean, 4), [round(mean - half, 4), round(mean + half, 4)]


@dataclass(frozen=True)
class EvalOptions:
    scenario: PlanScenario = field(default_factory=PlanScenario)
    fit: FitOptions = field(default_factory=FitOptions)
    plan: PlanOptions = field(default_factory=PlanOptions)
    ample_stock: int = 4  # the second regime of the discount comparison: this × the shop's stock


def revenue_of(ledger: Ledger, skus: Sequence[str]) -> float:
    wanted = set(skus)
    return float(sum(s.revenue for s in ledger.skus if s.sku in wanted))


def clairvoyant_discounts(
    seed: int, plan: Plan, stock: np.ndarray, scenario: PlanScenario
) -> dict[str, float]:
    """Per SKU, the clairvoyant plan's opening discount for its category's window with ``stock``."""
    out: dict[str, float] = {}
    for cp in plan.categories:
        config = scenario.config(seed, cp.start, cp.minutes, initial_stock=tuple(int(s) for s in stock))
        truth = MarketTruth(config)
        known = clairvoyant_plan(truth)
        out |= {s.sku: float(known.discount[i]) for i, s in enumerate(truth.catalog) if s.sku in cp.skus}
    return out


def discount_gaps(plan: Plan, clairvoyant: dict[str, float]) -> tuple[float, float]:
    """Mean absolute distance to the clairvoyant discounts of the plan's and of the campaign default."""
    planned = np.array([s.discount for s in plan.skus if s.sku in clairvoyant])
    best = np.array([clairvoyant[s.sku] for s in plan.skus if s.sku in clairvoyant])
    return round(float(np.abs(planned - best).mean()), 4), round(
        float(np.abs(plan.terms.discount - best).mean()), 4
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _category_runs(
    seed: int, cp: CategoryPlan, plan: Plan, stock: np.ndarray, starts: tuple[int, int], sc: PlanScenario
) -> dict[str, Any]:
    """One category's four sales: the plan's window, a random one, a random daytime one (``starts``,
    minutes into the day), the clairvoyant plan in the plan's window."""
    discounts = {s.sku: s.discount for s in plan.skus}
    reorders = {s.sku: s.reorder for s in plan.skus}
    fixed: dict[str, Any] = {
        "initial_stock": tuple(int(s) for s in stock),
        "stock_snapshot_minutes": cp.minutes,
    }
    at_plan = sc.config(seed, cp.start, cp.minutes, **fixed)

    def elsewhere(start: int) -> float:
        config = sc.config(seed, sc.sale_day + timedelta(minutes=start), cp.minutes, **fixed)
        return round(revenue_of(run_sale(config, discounts, reorders), cp.skus), 2)

    row: dict[str, Any] = {
        "category": cp.category,
        "minutes": cp.minutes,
        "plan_start": cp.start.strftime("%H:%M"),
        "random_start": _hhmm(starts[0]),
        "daytime_start": _hhmm(starts[1]),
        "plan_revenue": round(revenue_of(run_sale(at_plan, discounts, reorders), cp.skus), 2),
        "random_revenue": elsewhere(starts[0]),
        "daytime_revenue": elsewhere(starts[1]),
        "clairvoyant_revenue": round(revenue_of(run_clairvoyant(at_plan), cp.skus), 2),
        "expected_revenue": {
            "expected": round(cp.revenue.expected, 2),
            "lo": round(cp.revenue.lo, 2),
            "hi": round(cp.revenue.hi, 2),
        },
    }
    row["within_interval"] = cp.revenue.lo <= row["plan_revenue"] <= cp.revenue.hi
    return row


def random_starts(seed: int, plan: Plan, step: int) -> list[tuple[int, int]]:
    """Per category of ``plan``: a start anywhere in the day, and one from 08:00 that ends by 22:00."""
    anywhere, daytime = np.random.default_rng([seed, 0x2A2D]), np.random.default_rng([seed, 0xDA7])
    out = []
    for cp in plan.categories:
        late = max(8 * 60, 22 * 60 - cp.minutes)
        out.append(
            (
                int(anywhere.choice(np.arange(0, 1440, step))),
                int(daytime.choice(np.arange(8 * 60, late + 1, step))),
            )
        )
    return out


def evaluate_seed(seed: int, options: EvalOptions | None = None, plot: Path | None = None) -> dict[str, Any]:
    """One seed's row: revenue of the plan's windows, of random ones and of the clairvoyant plan, and
    how far the opening discounts are from the clairvoyant plan's (with the shop's stock, and with
    ``ample_stock`` × it, where the price response rather than the stock decides). ``plot``: where
    to draw this seed's plan."""
    o = options or EvalOptions()
    sc = o.scenario
    history = simulate_history(seed, sc)
    model = fit(history, o.fit)
    stock = shop_stock(seed, sc)
    plan = plan_sale(model, stock, sc.terms(), sc.sale_day, o.plan)
    if plot is not None:
        plot_plan(plan, model, history, plot)
    starts = random_starts(seed, plan, o.plan.start_step_minutes)
    rows = [
        _category_runs(seed, cp, plan, stock, at, sc) for cp, at in zip(plan.categories, starts, strict=True)
    ]
    kinds = ("plan_revenue", "random_revenue", "daytime_revenue", "clairvoyant_revenue")
    totals = {k: round(sum(r[k] for r in rows), 2) for k in kinds}
    gaps = discount_gaps(plan, clairvoyant_discounts(seed, plan, stock, sc))
    ample = plan_sale(model, o.ample_stock * stock, sc.terms(), sc.sale_day, o.plan)
    ample_gaps = discount_gaps(ample, clairvoyant_discounts(seed, ample, o.ample_stock * stock, sc))
    truth = MarketTruth(sc.config(seed, sc.sale_day, 60))
    return {
        "seed": seed,
        **totals,
        "plan_vs_random": round(totals["plan_revenue"] / totals["random_revenue"] - 1.0, 4),
        "plan_vs_daytime": round(totals["plan_revenue"] / totals["daytime_revenue"] - 1.0, 4),
        "plan_vs_clairvoyant": round(totals["plan_revenue"] / totals["clairvoyant_revenue"], 4),
        "discount_gap_plan": gaps[0],
        "discount_gap_default": gaps[1],
        "discount_gap_plan_ample_stock": ample_gaps[0],
        "discount_gap_default_ample_stock": ample_gaps[1],
        "elasticity_mae": round(float(np.abs(model.elasticity - truth.elasticity).mean()), 4),
        "categories": rows,
    }


def _gaps(rows: Sequence[dict[str, Any]], suffix: str) -> dict[str, Any]:
    plan = [r[f"discount_gap_plan{suffix}"] for r in rows]
    default = [r[f"discount_gap_default{suffix}"] for r in rows]
    return {
        "plan_mean_abs_gap": round(float(np.mean(plan)), 4),
        "default_mean_abs_gap": round(float(np.mean(default)), 4),
        "seeds_closer_than_default": sum(p < d for p, d in zip(plan, default, strict=True)),
        "unit": "mean |opening discount - clairvoyant plan's| over the SKUs",
    }


def _versus(rows: Sequence[dict[str, Any]], other: str) -> dict[str, Any]:
    """The plan against one baseline's windows: seeds won, relative and absolute revenue difference."""
    categories = [c for r in rows for c in r["categories"]]
    rel_mean, rel_ci = mean_ci95([r["plan_revenue"] / r[f"{other}_revenue"] - 1.0 for r in rows])
    diff_mean, diff_ci = mean_ci95([r["plan_revenue"] - r[f"{other}_revenue"] for r in rows])
    return {
        "wins": sum(r["plan_revenue"] > r[f"{other}_revenue"] for r in rows),
        "revenue": {"mean": rel_mean, "ci95": rel_ci, "unit": f"plan / {other} - 1, per seed"},
        "revenue_difference": {"mean": diff_mean, "ci95": diff_ci, "unit": f"plan - {other}, per seed"},
        "category_wins": sum(c["plan_revenue"] > c[f"{other}_revenue"] for c in categories),
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The seeds' figures: wins and revenue against random windows (anywhere in the day, and in the
    daytime), opening discounts' distance to the clairvoyant plan's, calibration."""
    random, daytime = _versus(rows, "random"), _versus(rows, "daytime")
    categories = [c for r in rows for c in r["categories"]]
    return {
        "seeds": len(rows),
        "wins_vs_random": random["wins"],
        "revenue_vs_random": random["revenue"],
        "revenue_difference": random["revenue_difference"],
        "category_wins_vs_random": random["category_wins"],
        "categories": len(categories),
        "vs_random_daytime": daytime,
        "opening_discount": _gaps(rows, ""),
        "opening_discount_ample_stock": _gaps(rows, "_ample_stock"),
        "elasticity_mae": round(float(np.mean([r["elasticity_mae"] for r in rows])), 4),
        "plan_vs_clairvoyant": mean_ci95([r["plan_vs_clairvoyant"] for r in rows])[0],
        "revenue_interval_coverage": round(float(np.mean([c["within_interval"] for c in categories])), 4),
    }


def evaluate(
    seeds: Sequence[int],
    options: EvalOptions | None = None,
    progress: Callable[[int], None] | None = None,
    plan_plot: Path | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_seed` for each seed, then :func:`summarise`; ``progress`` hears each seed done;
    ``plan_plot``: where to draw the first seed's plan."""
    rows = []
    for n, seed in enumerate(seeds):
        rows.append(evaluate_seed(seed, options, plan_plot if n == 0 else None))
        if progress is not None:
            progress(seed)
    return {**summarise(rows), "per_seed": rows}
