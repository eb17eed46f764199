"""``flashsale demo``: a simulated flash sale through the real pipeline, then the report.

One run = a fresh namespace (topic prefix and Postgres schema ``demo_<utc time>``), one worker process,
a closed-loop sale of about ``sale_s`` seconds through Kafka, the decisions read back from the topics
and from Postgres, and the in-process evaluation (adaptive against its baselines). While it runs,
``flashsale dashboard`` serves the namespace (its URL is printed). It writes ``report.json`` and the
plots; then the dashboard and the worker are stopped, and so is the local stack if the demo started it.
What it prints is :func:`streams.tools.demo_report.format_report`.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from pydantic import SecretStr

from infra import migrations
from infra.errors import InfraError
from infra.net import free_port, port_in_use
from models.experiment.evaluation import run_experiment
from models.sim.compare import compare_seeds, second_market_of
from models.sim.evaluation import evaluate, policy_metrics
from models.sim.ledger import Ledger
from models.sim.market import ScenarioConfig
from models.sim.recommendation_evaluation import Listed, ShadowRecommender, recommendation_report
from models.sim.twin import run_twin
from streams.contracts.topics import DISCOUNTS, RESTOCK
from streams.runtime.admin import client_config, ensure_topics
from streams.settings import Settings
from streams.sink.tables import tables_for
from streams.skus.processor import sku_policy
from streams.tools.experiment import live_experiment
from streams.tools.process import READY, Child
from streams.tools.simulate import SimulationRun, simulate

Progress = Callable[[str], None]
DASHBOARD_PORT = 8050  # the demo's dashboard, when this port is free
MANY_SEEDS = range(1, 6)  # the report's many-seed block: pricing in these markets, the same code


@contextmanager
def local_stack(settings: Settings, progress: Progress) -> Iterator[Settings]:
    """The local stack, started if needed (and then stopped); yields settings that point at it."""
    from infra.stack import LocalStack

    stack = LocalStack.at(settings.stack_place())
    before = stack.status()
    stack.up(progress=progress)
    try:
        yield settings.model_copy(
            update={**stack.kafka_settings(), "database_url": SecretStr(stack.postgres.url)}
        )
    finally:
        for name, server in (("kafka", stack.kafka), ("postgres", stack.postgres)):
            if not before[name]["running"]:
                progress(f"stopping the {name} the demo started")
                server.stop()


def worker(settings: Settings, log: Path) -> Child:
    """One ``flashsale worker`` process (wait for it with ``wait_for(READY)``); stopped on exit."""
    return Child(settings, log)


@contextmanager
def dashboard(settings: Settings, log: Path, port: int | None = None, timeout_s: float = 60) -> Iterator[str]:
    """``flashsale dashboard`` for the namespace of ``settings``, serving; yields its URL."""
    port = port or (free_port() if port_in_use("127.0.0.1", DASHBOARD_PORT) else DASHBOARD_PORT)
    url = f"http://127.0.0.1:{port}/"
    with Child(settings, log, ("-m", "streams", "dashboard", "--port", str(port))) as child:
        deadline = time.monotonic() + timeout_s
        while not serving(url + "snapshot"):
            if not child.alive() or time.monotonic() > deadline:
                raise InfraError(f"the dashboard did not start (see {log}): {child.log.last_line()}")
            time.sleep(0.2)
        yield url


def serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def topic_ids(settings: Settings, topic: str) -> set[str]:
    """``event_id``s of every message now in ``topic`` of this namespace."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        name = settings.topic(topic)
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        consumer.seek_to_beginning()
        ids: set[str] = set()
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=500).values():
                ids.update(json.loads(r.value)["event_id"] for r in records)
        return ids
    finally:
        consumer.close()


def stored_ids(settings: Settings, want: dict[str, set[str]], timeout_s: float = 30) -> dict[str, list[str]]:
    """Decision ids per table in Postgres, polled until they hold ``want`` (the sink may trail)."""
    tables = tables_for(settings.db_schema)
    engine = sa.create_engine(settings.database_url.get_secret_value(), poolclass=sa.NullPool)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                rows = {
                    name: [r[0] for r in conn.execute(sa.select(getattr(tables, name).c.event_id))]
                    for name in want
                }
            if all(want[n] <= set(rows[n]) for n in want) or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)
    finally:
        engine.dispose()


def experiment_rows(settings: Settings, ids: set[str]) -> list[str]:
    """Ids in the experiment_results table, polled until they hold ``ids``."""
    return stored_ids(settings, {"experiment_results": ids})["experiment_results"]


def stream_report(settings: Settings, run: SimulationRun, twin: Ledger) -> dict[str, Any]:
    """What went through Kafka and Postgres, compared with the in-process path and with ``twin``, the
    closed loop's in-process twin (:func:`models.sim.twin.run_twin`)."""
    on_topics = {
        "restock_events": topic_ids(settings, RESTOCK),
        "discount_adjustments": topic_ids(settings, DISCOUNTS),
    }
    rows = stored_ids(settings, on_topics)
    streamed = set().union(*on_topics.values())
    k = 10
    return {
        "namespace": settings.topic_prefix,
        "wall_s": round(run.wall_s, 1),
        "events_published": dict(run.published),
        "decisions_on_topics": {n: len(ids) for n, ids in on_topics.items()},
        "rows_in_postgres": {n: len(r) for n, r in rows.items()},
        "duplicate_rows": sum(len(r) - len(set(r)) for r in rows.values()),
        "missing_in_postgres": sum(len(on_topics[n] - set(r)) for n, r in rows.items()),
        "due_decisions": run.expected,
        "missed_the_wait": run.missing,
        "applied_late": run.late,
        "applied": dict(run.applied),
        # The per-SKU maths in process on the very events published (streams.tools.simulate's shadow):
        "same_decisions_as_in_process": streamed == run.in_process,
        "decisions_only_in_stream": len(streamed - run.in_process),
        "decisions_only_in_process": len(run.in_process - streamed),
        "last_minute_decisions": run.last_minute,  # in process only: the stream waits for later events
        "closed_loop": policy_metrics(run.ledger),
        "in_process_twin": policy_metrics(twin),
        "same_run_as_twin": run.ledger.summary() == twin.summary(),
        "holdout_share": settings.holdout_share,
        **stream_recommendations(settings, run, k),
    }


def stream_recommendations(settings: Settings, run: SimulationRun, k: int) -> dict[str, Any]:
    """The lists the stream published, scored on the closed loop's own orders, beside its in-process
    twin (:class:`ShadowRecommender` on the very events published; stand-in vectors for BERT's) and
    beside popularity judged at the same moments under the same rules."""
    twin = ShadowRecommender(
        k=k,
        debounce_s=settings.recommendation_debounce_s,
        recent_minutes=settings.recommendation_recent_minutes,
        recent_share=settings.recommendation_recent_share,
    )
    for events in run.steps:
        twin.observe(events)
    published, alone = recommendation_report(twin, k, shown=run.shown), recommendation_report(twin, k)
    keys = [f"{who}{what}_at_{k}" for what in ("hit_rate", "novel_hit_rate") for who in ("", "popularity_")]
    return {
        "recommendation_lists": len(run.shown),
        **{key: published[key] if run.shown else None for key in keys},
        "novel_orders": published["novel_orders"],
        "twin": {key: alone[key] for key in (f"hit_rate_at_{k}", f"novel_hit_rate_at_{k}", "lists")},
        **twin_agreement(run.lists, twin.lists, k),
    }


def twin_agreement(
    published: dict[tuple[str, str], tuple[Listed, ...]],
    twin: dict[tuple[str, str], tuple[Listed, ...]],
    k: int,
) -> dict[str, Any]:
    """How alike the lists of the stream and of its twin are, made on the same event: identical (items,
    order and reasons), and the mean share of the twin's top ``k`` the stream's also lists.

    >>> twin_agreement({("u", "e1"): (("a", "", ""), ("b", "", ""))}, {("u", "e1"): (("b", "", ""),)}, 2)
    {'lists_on_both': 1, 'same_lists_as_twin': 0, 'twin_overlap_at_2': 0.5}
    """
    both = [(published[key], listed) for key, listed in twin.items() if key in published]
    overlap = [len({i[0] for i in ours} & {i[0] for i in theirs}) / k for ours, theirs in both]
    return {
        "lists_on_both": len(both),
        "same_lists_as_twin": sum(ours == theirs for ours, theirs in both),
        f"twin_overlap_at_{k}": sum(overlap) / len(overlap) if overlap else None,
    }


def run_demo(
    settings: Settings,
    out: Path,
    config: ScenarioConfig,
    sale_s: float = 120.0,
    wait_s: float = 2.0,
    progress: Progress = print,
    holdout_share: float = 0.5,
) -> dict[str, Any]:
    """The whole demo on the stack ``settings`` point at; returns the report (also in ``out/report.json``).

    The worker holds ``holdout_share`` of the campaign SKUs out on the static policy (0: none), and so
    does the closed loop's in-process twin; the in-process pricing rows (static, best static, adaptive,
    clairvoyant) and the many-seed block are the whole catalogue's, without a holdout.
    """
    from models.sim.plots import write_plots
    from models.sim.recommendation_plots import plot_hit_rates

    out.mkdir(parents=True, exist_ok=True)
    ns = f"demo_{datetime.now(UTC):%Y%m%d_%H%M%S}"
    update = {"topic_prefix": ns, "db_schema": ns, "web_port": free_port(), "holdout_share": holdout_share}
    s = settings.model_copy(update=update)
    progress(f"namespace {ns}: creating topics and migrating schema")
    migrations.upgrade(s.database_url.get_secret_value(), ns)
    ensure_topics(s)
    adaptive = replace(sku_policy(s), holdout_share=0.0)  # in process: the whole catalogue adaptive
    with worker(s, out / "worker.log") as child, dashboard(s, out / "dashboard.log") as url:
        progress(f"dashboard: {url}")
        progress("evaluating adaptive and its baselines in process while the worker starts")
        evaluation = evaluate(config, adaptive, lag_minutes=1, k=s.recommendations_k)
        truth = (
            run_experiment(config, sku_policy(s), pre_minutes=s.holdout_pre_minutes)
            if holdout_share
            else None
        )
        child.wait_for(READY, timeout_s=120)
        rate = sum(evaluation.ledgers["adaptive"].events_by_topic.values()) / sale_s
        progress(f"worker ready; the sale runs ~{sale_s:.0f} s at {rate:.0f} events/s, closed loop")
        run = simulate(s, config, rate=rate, closed_loop=True, wait_s=wait_s)
        progress("reading the decisions back from Kafka and Postgres; running the closed loop's twin")
        twin = run_twin(config, sku_policy(s), run.applied_lists)  # the worker's policy: its holdout too
        report = {**evaluation.report, "stream": stream_report(s, run, twin)}
        if truth is not None:
            report["experiment"] = live_experiment(s, run, truth, partial(experiment_rows, s))
    progress(f"pricing over seeds {MANY_SEEDS[0]}–{MANY_SEEDS[-1]}, in both markets")
    report["many_seeds"] = compare_seeds(
        MANY_SEEDS, adaptive, lambda seed: replace(config, seed=seed),
        lambda seed: second_market_of(replace(config, seed=seed)), lists=False,
    )  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    recommendations = plot_hit_rates(report["recommendations"], report["stream"], out / "recommendations.png")
    for path in [*write_plots(evaluation, run.ledger, twin, report["many_seeds"], out), recommendations]:
        progress(f"wrote {path}")
    return report
