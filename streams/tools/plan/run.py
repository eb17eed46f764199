"""``flashsale plan``: read the history, learn demand, plan the sale; or validate it in the simulator."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from models.plan.demand import FitOptions
from models.plan.evaluate import EvalOptions, evaluate
from models.plan.history import History, Terms
from models.plan.learn import fit
from models.plan.plots import plot_evaluation, plot_plan
from models.plan.recommend import PlanOptions, plan_sale
from models.plan.report import plan_report, table_lines
from streams.settings import Settings
from streams.tools.plan.read import PlanError, read_history

__all__ = ["PlanError", "PlanRequest", "make_plan", "run_evaluation"]


@dataclass(frozen=True)
class PlanRequest:
    """What ``flashsale plan`` was asked."""

    from_ts: datetime | None = None
    to_ts: datetime | None = None
    day: date | None = None  # default: the day after the history ends
    durations: tuple[int, ...] = (60, 120, 180)
    step_minutes: int = 15
    utc_offset_hours: float = 0.0
    restock_capacity: float = 1.0
    level: float = 0.9
    rows: int = 20
    json_out: Path | None = None
    plot: Path | None = None


def sale_day(history: History, request: PlanRequest) -> datetime:
    """The sale's day: as asked, else the local day after the history's last interval."""
    if request.day is not None:
        return datetime(request.day.year, request.day.month, request.day.day, tzinfo=UTC)
    last = history.span[1] - 1.0  # the history's last instant (a history to midnight ends that day)
    end = datetime.fromtimestamp(last, UTC) + timedelta(hours=request.utc_offset_hours)
    nxt = end.date() + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)


def make_plan(settings: Settings, request: PlanRequest) -> tuple[list[str], dict[str, Any]]:
    """Read, learn, plan; write the JSON and the plot asked for; returns the table's lines and the report."""
    with tqdm(desc="read sku-status", unit="rec", file=sys.stderr, mininterval=0.5, delay=1.0) as bar:
        history = read_history(settings, request.from_ts, request.to_ts, lambda n: bar.update(n - bar.n))
    model = fit(history, FitOptions(utc_offset_hours=request.utc_offset_hours))
    terms = history.terms or Terms()
    options = PlanOptions(
        durations=request.durations,
        start_step_minutes=request.step_minutes,
        restock_capacity=request.restock_capacity,
        level=request.level,
    )
    plan = plan_sale(model, history.stock, terms, sale_day(history, request), options)
    report = plan_report(plan, model, history)
    lines = table_lines(plan, request.rows) + [f"note: {n}" for n in report["notes"]]
    if request.json_out is not None:
        request.json_out.write_text(json.dumps(report, indent=2) + "\n")
        lines.append(f"json: {request.json_out}")
    if request.plot is not None:
        lines.append(f"plot: {plot_plan(plan, model, history, request.plot)}")
    return lines, report


def run_evaluation(
    seeds: int, json_out: Path | None, plot: Path | None, options: EvalOptions | None = None
) -> tuple[list[str], dict[str, Any]]:
    """``--evaluate``: the plan against random windows and the clairvoyant plan over ``seeds`` seeds;
    ``plot`` gets the figures, and ``<plot>-plan-seed0.png`` beside it the first seed's plan."""
    plan_plot = plot.with_name(f"{plot.stem}-plan-seed0.png") if plot is not None else None
    with tqdm(total=seeds, desc="plan --evaluate", unit="seed", file=sys.stderr, mininterval=0.5) as bar:
        result = evaluate(range(seeds), options or EvalOptions(), lambda _: bar.update(1), plan_plot)
    lines = evaluation_lines(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n")
        lines.append(f"json: {json_out}")
    if plot is not None:
        lines.append(f"plot: {plot_evaluation(result, plot)}; the first seed's plan: {plan_plot}")
    return lines, result


def evaluation_lines(result: dict[str, Any]) -> list[str]:
    """The summary of ``--evaluate``, one figure a line."""
    r, rel, day = result, result["revenue_vs_random"], result["vs_random_daytime"]
    gaps, ample = r["opening_discount"], r["opening_discount_ample_stock"]
    ci, day_ci = (f"95% CI {x['ci95'][0]:+.1%} … {x['ci95'][1]:+.1%}" for x in (rel, day["revenue"]))
    return [
        f"seeds {r['seeds']}: the plan's windows beat random windows on {r['wins_vs_random']} "
        f"({r['category_wins_vs_random']}/{r['categories']} categories)",
        f"revenue vs random windows: {rel['mean']:+.1%} ({ci})",
        f"vs random daytime windows (08:00-22:00): beat on {day['wins']} seeds, "
        f"{day['revenue']['mean']:+.1%} ({day_ci})",
        f"plan / clairvoyant plan in the plan's windows: {r['plan_vs_clairvoyant']:.1%}",
        f"opening discount, mean |gap| to the clairvoyant plan's: plan {gaps['plan_mean_abs_gap']:.3f}, "
        f"campaign default {gaps['default_mean_abs_gap']:.3f} "
        f"(closer on {gaps['seeds_closer_than_default']})",
        f"  with ample stock: plan {ample['plan_mean_abs_gap']:.3f}, "
        f"default {ample['default_mean_abs_gap']:.3f} (closer on {ample['seeds_closer_than_default']})",
        f"revenue inside the plan's {PlanOptions().level:.0%} interval: {r['revenue_interval_coverage']:.0%} "
        f"of categories; elasticity MAE {r['elasticity_mae']:.3f}",
    ]
