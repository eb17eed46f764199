"""The holdout experiment's tools: ``flashsale evaluate experiment`` (its estimate against the
simulator's truth over seeds) and the demo's live experiment (the stream's estimates beside both).

Per seed, the default scenario of ``flashsale simulate`` is run twice in process on one market: with
the holdout (the stream's own per-SKU maths and experiment tallies, decisions one minute late as
through Kafka) and with every campaign SKU static. The report counts the seeds whose final 95 %
intervals cover the true uplift, and keeps each seed's estimate, interval and truth.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from tqdm import tqdm

from models.experiment.evaluation import ExperimentRun, evaluate_experiment
from models.experiment.tally import Estimate
from streams.contracts.records import ExperimentResult
from streams.contracts.topics import EXPERIMENT_RESULTS
from streams.experiment.processor import result_fields
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.skus.processor import sku_policy
from streams.tools.simulate import SimulationRun, scenario


def run_evaluation(settings: Settings, seeds: int, share: float, first_seed: int = 0) -> dict[str, Any]:
    """The evaluation over ``seeds`` seeds from ``first_seed``, with a progress bar on stderr."""
    policy = replace(sku_policy(settings), holdout_share=share)
    chosen = range(first_seed, first_seed + seeds)
    with tqdm(total=seeds, unit="seed", desc="experiment", file=sys.stderr) as bar:
        report = evaluate_experiment(chosen, lambda s: scenario(seed=s), policy,
                                     progress=lambda _: bar.update(1),
                                     pre_minutes=settings.holdout_pre_minutes)  # fmt: skip
    first = scenario(seed=first_seed)
    report["scenario"] = {"skus": first.n_skus, "minutes": first.duration_minutes,
                          "campaign_minutes": first.campaign_minutes, "first_seed": first_seed}  # fmt: skip
    return report


def _missed(covered: bool) -> str:
    return "" if covered else " ✗"


def format_report(report: dict[str, Any]) -> str:
    """A line per seed, then the counts."""
    head = (f"{'seed':>5}{'T/C':>7}  {'revenue uplift (95% CI)':<30}{'truth':>9}  "
            f"{'units uplift (95% CI)':<26}{'truth':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for row in report["estimate_vs_truth"]:
        r, u = row["revenue"], row["units"]
        lines.append(
            f"{row['seed']:>5}{row['n_treatment']:>4}/{row['n_control']:<2}  "
            f"{r['estimate']:>7.2f} ({r['lo']:>7.2f}, {r['hi']:>7.2f}){_missed(r['covered']):<4}"
            f"{r['truth']:>9.2f}  {u['estimate']:>6.3f} ({u['lo']:>6.3f}, {u['hi']:>6.3f})"
            f"{_missed(u['covered']):<3}{u['truth']:>7.3f}"
        )
    lines += ["", f"{'estimator':<12}{'revenue: covered':>18}{'median width':>14}{'RMSE':>8}"
                  f"{'units: covered':>16}{'median width':>14}{'RMSE':>8}"]  # fmt: skip
    for name, m in report["estimators"].items():
        r, u = m["revenue"], m["units"]
        lines.append(
            f"{name:<12}{r['covered']:>12} of {r['seeds']:<2}{r['median_width']:>14.2f}{r['rmse']:>8.2f}"
            f"{u['covered']:>10} of {u['seeds']:<2}{u['median_width']:>14.3f}{u['rmse']:>8.3f}"
        )
    running = report["running_coverage"]
    lines.append(
        f"covered: {report['covered']} of {report['seeds']} seeds on both (revenue "
        f"{report['covered_revenue']}, units {report['covered_units']}); running intervals, every campaign "
        f"minute: revenue {running['revenue']:.1%}, units {running['units']:.1%}"
    )
    return "\n".join(lines)


def topic_results(settings: Settings) -> list[dict[str, Any]]:
    """Every record on the namespace's ``experiment-results``, decoded, in (campaign, ts) order."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        name = settings.topic(EXPERIMENT_RESULTS)
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        consumer.seek_to_beginning()
        found: list[dict[str, Any]] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=500).values():
                found += [json.loads(r.value) for r in records]
        return sorted(found, key=lambda r: (r["campaign_id"], r["ts"]))
    finally:
        consumer.close()


def as_sent(estimate: Estimate) -> dict[str, Any]:
    """An in-process estimate as the stream's record carries it (JSON values)."""
    return json.loads(ExperimentResult(**result_fields(estimate)).dumps())


def live_experiment(
    settings: Settings, run: SimulationRun, truth: ExperimentRun, rows_of: Callable[[set[str]], list[str]]
) -> dict[str, Any]:
    """The demo's experiment: the stream's estimates (topic, and Postgres: ``rows_of(ids)`` gives the
    ids stored) against the in-process maths on the very events published, and the last live estimate
    beside the simulator's truth for the same split."""
    on_topic = topic_results(settings)
    ids = {r["event_id"] for r in on_topic}
    rows = rows_of(ids)
    in_process = {r["event_id"]: r for r in map(as_sent, run.experiment)}
    same = [r["event_id"] for r in on_topic if in_process.get(r["event_id"]) == r]
    final, true = truth.estimates[-1], truth.truth[-1]
    return {
        "holdout_share": settings.holdout_share,
        "estimates_on_topic": len(on_topic), "distinct_on_topic": len(ids), "rows_in_postgres": len(rows),
        "missing_in_postgres": len(ids - set(rows)), "duplicate_rows": len(rows) - len(set(rows)),
        "same_as_in_process": len(same), "only_in_process": len(set(in_process) - ids),
        "live": on_topic[-1] if on_topic else None,
        "simulator": {"revenue_truth": true.revenue, "units_truth": true.units, "minutes": final.minutes,
                      "estimate": as_sent(final), "control_identical": truth.control_identical},
    }  # fmt: skip


def experiment_lines(x: dict[str, Any]) -> list[str]:
    """What ``flashsale demo`` prints of its holdout experiment."""
    live, sim = x["live"], x["simulator"]
    lines = [f"holdout experiment: {x['holdout_share']:.0%} of the campaign SKUs on the static policy"]
    if live is None:
        return [*lines, "  no estimate on experiment-results (each arm needs two SKUs and a closed minute)"]
    est, n = sim["estimate"], f"{live['n_treatment']} adaptive / {live['n_control']} held-out SKUs"
    return [
        *lines,
        f"  live (Kafka, closed loop) after {live['minutes']:g} campaign minutes, {n}: revenue "
        f"{live['revenue_uplift']:+.2f} per SKU-minute (95% CI {live['revenue_lo']:.2f} to "
        f"{live['revenue_hi']:.2f}), units {live['units_uplift']:+.3f} ({live['units_lo']:.3f} to "
        f"{live['units_hi']:.3f})",
        f"  simulator's true uplift, same split (in process, no lists shown): revenue "
        f"{sim['revenue_truth']:+.2f}, units {sim['units_truth']:+.3f}; its estimate there "
        f"{est['revenue_uplift']:+.2f} ({est['revenue_lo']:.2f} to {est['revenue_hi']:.2f}), units "
        f"{est['units_uplift']:+.3f}",
        f"  estimates on experiment-results {x['estimates_on_topic']}, rows in Postgres "
        f"{x['rows_in_postgres']} ({x['missing_in_postgres']} missing, {x['duplicate_rows']} duplicate); "
        f"the same as the in-process maths on the published events: {x['same_as_in_process']} of "
        f"{x['distinct_on_topic']}",
    ]
