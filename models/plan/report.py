"""The plan as JSON and as a printed table, with what the model learnt and what it could not.

>>> format_estimate(Estimate(1234.5, 1000.0, 1500.25))
'1,234 [1,000–1,500]'
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from models.ids import from_epoch
from models.plan.demand import WEEKDAYS, DemandModel, observed_hourly
from models.plan.history import History
from models.plan.recommend import Estimate, Plan

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_estimate(e: Estimate) -> str:
    return f"{e.expected:,.0f} [{e.lo:,.0f}–{e.hi:,.0f}]"


def _estimate(e: Estimate) -> dict[str, float]:
    return {"expected": round(e.expected, 2), "lo": round(e.lo, 2), "hi": round(e.hi, 2)}


def notes(model: DemandModel, history: History) -> list[str]:
    """What the reader of the plan must know about what it was learnt from."""
    o = model.options
    covered = [DAY_NAMES[d] for d in range(WEEKDAYS) if model.covered_weekdays[d]]
    out = [f"hours and weekdays at UTC{o.utc_offset_hours:+g}"]
    if len(covered) < WEEKDAYS:
        out.append(f"weekdays seen: {', '.join(covered)}; the others take the average day")
    missing = int((~model.covered_hours).sum())
    if missing:
        out.append(f"{missing} hours of the day never seen: they take the day's average")
    if len(model.lift):
        out.append(f"a sale's own traffic lift learnt from {len(history.campaigns)} past campaign(s)")
    else:
        out.append("no past campaign in the history: a sale's own traffic lift is taken as 1 (units low)")
    moved = int(model.price_moved.sum())
    if moved < len(model.skus):
        out.append(
            f"prices moved for {moved} of {len(model.skus)} SKUs; the others take their category's "
            f"elasticity (prior {o.elasticity_mean:g} where none moved)"
        )
    for reason, count in sorted(history.dropped.items()):
        out.append(f"{count} intervals left out: {reason.replace('_', ' ')}")
    return out


def demand_report(model: DemandModel, history: History, weekday: int) -> dict[str, Any]:
    """What the model learnt: units per hour on ``weekday`` per category (beside those the history saw
    outside campaigns) and per SKU, the weekday factors, the sale's lift, the dispersion."""
    hourly = model.hourly(weekday)
    observed = observed_hourly(history, model.categories, model.options.utc_offset_hours)
    categories = {}
    for c, name in enumerate(model.categories):
        categories[name] = {
            "units_per_hour": np.round(hourly[model.sku_category == c].sum(axis=0), 3).tolist(),
            "observed_units_per_hour": [None if np.isnan(v) else round(float(v), 3) for v in observed[c]],
            "elasticity": round(float(model.category_elasticity[c]), 3),
        }
    return {
        "units_per_hour_on_the_day": "everyday traffic, full price",
        "categories": categories,
        "skus": {s.sku: np.round(hourly[i], 4).tolist() for i, s in enumerate(model.skus)},
        "weekday_factor": {
            DAY_NAMES[d]: round(float(np.exp(model.weekday[d])), 3)
            for d in range(WEEKDAYS)
            if model.covered_weekdays[d]
        },
        "sale_lift": {
            "slot_minutes": model.options.slot_minutes,
            "factor": np.round(np.exp(model.lift), 3).tolist(),
        },
        "dispersion": round(model.dispersion, 3),
    }


def plan_report(plan: Plan, model: DemandModel, history: History) -> dict[str, Any]:
    """Everything of the plan as plain JSON values."""
    start, end = history.span
    skus = []
    for s in plan.skus:
        row = {k: v for k, v in vars(s).items() if k not in ("units", "revenue")}
        row |= {"elasticity": round(s.elasticity, 3), "elasticity_se": round(s.elasticity_se, 3)}
        skus.append(row | {"units": _estimate(s.units), "revenue": _estimate(s.revenue)})
    return {
        "day": plan.day.date().isoformat(),
        "level": plan.options.level,
        "history": {
            "from": from_epoch(start).isoformat(),
            "to": from_epoch(end).isoformat(),
            "intervals": len(history.units),
            "units": float(history.units.sum()),
            "skus": len(history.skus),
            "left_out": dict(history.dropped),
        },
        "terms": vars(plan.terms),
        "categories": [
            {
                "category": c.category,
                "start": c.start.isoformat(),
                "minutes": c.minutes,
                "end": (c.start + timedelta(minutes=c.minutes)).isoformat(),
                "skus": len(c.skus),
                "units": _estimate(c.units),
                "revenue": _estimate(c.revenue),
            }
            for c in plan.categories
        ],
        "skus": skus,
        "demand": demand_report(model, history, plan.day.weekday()),
        "notes": notes(model, history),
    }


def table_lines(plan: Plan, rows: int = 20) -> list[str]:
    """The windows per category, then the ``rows`` SKUs with the most expected revenue."""
    pct = f"{plan.options.level:.0%}"
    lines = [
        f"sale day {plan.day.date().isoformat()}: windows per category (expected [{pct} interval])",
        f"{'category':<12} {'window':<13} {'min':>4} {'units':>22} {'revenue':>28}",
    ]
    for c in sorted(plan.categories, key=lambda c: -c.revenue.expected):
        end = c.start + timedelta(minutes=c.minutes)
        window = f"{c.start:%H:%M}-{end:%H:%M}"
        lines.append(
            f"{c.category:<12} {window:<13} {c.minutes:>4} {format_estimate(c.units):>22} "
            f"{format_estimate(c.revenue):>28}"
        )
    shown = sorted(plan.skus, key=lambda s: -s.revenue.expected)[:rows]
    lines.append(
        f"opening discount and starting stock per SKU (top {len(shown)} of {len(plan.skus)} by revenue)"
    )
    lines.append(
        f"{'sku':<12} {'category':<12} {'disc':>5} {'elast':>10} {'stock':>6} {'+order':>7} "
        f"{'units':>18} {'revenue':>26}"
    )
    for s in shown:
        lines.append(
            f"{s.sku:<12} {s.category:<12} {s.discount:>5.2f} {s.elasticity:>5.2f}±{s.elasticity_se:<4.2f}"
            f" {s.stock_now:>6} {s.reorder:>7} {format_estimate(s.units):>18} "
            f"{format_estimate(s.revenue):>26}"
        )
    return lines
