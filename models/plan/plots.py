"""PNG plots of a plan and of its validation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from models.plan.demand import DemandModel, observed_hourly
from models.plan.history import History
from models.plan.recommend import CategoryPlan, Plan

PLAN, RANDOM, DAYTIME, ORACLE, DEFAULT = "#1f77b4", "#bdbdbd", "#737373", "#2ca02c", "#d62728"


def _category_panel(ax: Axes, cp: CategoryPlan, learnt: np.ndarray, seen: np.ndarray) -> None:
    hours = np.arange(24) + 0.5
    ax.bar(hours, np.nan_to_num(seen), width=0.9, color="#d9d9d9", label="seen (mean units/hour)")
    ax.plot(hours, learnt, color=PLAN, lw=1.8, label="learnt (average weekday)")
    start = cp.start.hour + cp.start.minute / 60.0
    for lo in (start, start - 24.0):  # a window past midnight shows at both ends
        ax.axvspan(lo, lo + cp.minutes / 60.0, color="#ffd54f", alpha=0.35, lw=0)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 6))
    rev = cp.revenue
    ax.set_title(
        f"{cp.category}: {cp.start:%H:%M} for {cp.minutes} min\nrevenue {rev.expected:,.0f} "
        f"[{rev.lo:,.0f}–{rev.hi:,.0f}]",
        fontsize=9,
    )


def plot_plan(plan: Plan, model: DemandModel, history: History, path: Path) -> Path:
    """Per category: units per hour seen and learnt (everyday traffic, full price) with the
    recommended window shaded; last panel: each SKU's opening discount against its elasticity."""
    n = len(plan.categories) + 1
    cols = min(3, n)
    fig, axes = plt.subplots(
        (n + cols - 1) // cols, cols, figsize=(4.3 * cols, 3.1 * ((n + cols - 1) // cols)), squeeze=False
    )
    learnt = model.hourly()
    seen = observed_hourly(history, model.categories, model.options.utc_offset_hours)
    for ax, cp in zip(axes.flat, plan.categories, strict=False):
        c = model.categories.index(cp.category)
        _category_panel(ax, cp, learnt[model.sku_category == c].sum(axis=0), seen[c])
    axes.flat[0].legend(fontsize=7, loc="upper left")
    ax = axes.flat[n - 1]
    elasticity = np.array([s.elasticity for s in plan.skus])
    ax.errorbar(
        elasticity,
        [s.discount for s in plan.skus],
        xerr=[s.elasticity_se for s in plan.skus],
        fmt="o",
        ms=4,
        color=PLAN,
        ecolor="#9ecae1",
        lw=1,
    )
    ax.axhline(plan.terms.discount, color=DEFAULT, ls="--", lw=1, label="campaign default")
    ax.set_xlabel("learnt elasticity (± se)")
    ax.set_ylabel("opening discount")
    ax.set_title("opening discount per SKU", fontsize=9)
    ax.legend(fontsize=7)
    for extra in axes.flat[n:]:
        extra.axis("off")
    fig.suptitle(f"flashsale plan for {plan.day.date().isoformat()} (hours at {plan.categories[0].start:%z})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_evaluation(result: dict[str, Any], path: Path) -> Path:
    """Per seed: revenue in the plan's windows, random windows and the clairvoyant plan; the opening
    discounts' distance to the clairvoyant plan's, against the campaign default's."""
    rows = result["per_seed"]
    seeds = [str(r["seed"]) for r in rows]
    x = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.4))
    bars = [
        ("random_revenue", "random windows", RANDOM),
        ("daytime_revenue", "random daytime windows", DAYTIME),
        ("plan_revenue", "plan's windows", PLAN),
        ("clairvoyant_revenue", "clairvoyant plan, plan's windows", ORACLE),
    ]
    for k, (key, label, color) in enumerate(bars):
        left.bar(x + (k - 1.5) * 0.2, [r[key] for r in rows], width=0.2, color=color, label=label)
    left.set_xticks(x, seeds)
    left.set_xlabel("seed")
    left.set_ylabel("revenue of the sale day")
    rel, day = result["revenue_vs_random"], result["vs_random_daytime"]
    left.set_title(
        f"plan beats random windows on {result['wins_vs_random']}/{result['seeds']} seeds, "
        f"{rel['mean']:+.0%} (95% CI {rel['ci95'][0]:+.0%}…{rel['ci95'][1]:+.0%});\n"
        f"random daytime windows on {day['wins']}/{result['seeds']}, {day['revenue']['mean']:+.0%} "
        f"(95% CI {day['revenue']['ci95'][0]:+.0%}…{day['revenue']['ci95'][1]:+.0%})",
        fontsize=10,
    )
    left.legend(fontsize=8)
    for k, (suffix, name) in enumerate([("", "shop's stock"), ("_ample_stock", "ample stock")]):
        right.plot(
            x,
            [r[f"discount_gap_default{suffix}"] for r in rows],
            "s--" if k else "s-",
            color=DEFAULT,
            label=f"campaign default, {name}",
            alpha=0.8,
        )
        right.plot(
            x,
            [r[f"discount_gap_plan{suffix}"] for r in rows],
            "o--" if k else "o-",
            color=PLAN,
            label=f"plan, {name}",
        )
    right.set_xticks(x, seeds)
    right.set_xlabel("seed")
    right.set_ylabel("mean |opening discount − clairvoyant's|")
    right.set_ylim(bottom=0)
    right.set_title("opening discounts: distance to the clairvoyant plan's", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
