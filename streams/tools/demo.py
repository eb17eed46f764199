"""``flashsale demo``: a simulated flash sale through the real pipeline, then the report.

One run = a fresh namespace (topic prefix and Postgres schema ``demo_<utc time>``), one worker process,
a closed-loop sale of about ``sale_s`` seconds through Kafka, the decisions read back from the topics
and from Postgres, and the in-process evaluation (adaptive against its baselines). While it runs,
``flashsale dashboard`` serves the namespace (its URL is printed). It writes ``report.json`` and the
plots; then the dashboard and the worker are stopped, and so is the local stack if the demo started it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from pydantic import SecretStr

from infra import migrations
from infra.errors import InfraError
from infra.net import free_port, port_in_use
from models.sim.compare import compare_seeds, second_market_of
from models.sim.evaluation import evaluate, hit_rate_at_k, policy_metrics, popularity_hit_rate
from models.sim.ledger import Ledger
from models.sim.market import ScenarioConfig
from models.sim.twin import run_twin
from streams.contracts.topics import DISCOUNTS, RESTOCK
from streams.runtime.admin import client_config, ensure_topics
from streams.settings import Settings
from streams.sink.tables import tables_for
from streams.skus.processor import sku_policy
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
        "recommendation_lists": len(run.shown),
        f"hit_rate_at_{k}": hit_rate_at_k(run.orders, run.shown, k) if run.shown else None,
        f"popularity_hit_rate_at_{k}": popularity_hit_rate(run.orders, k),
    }


def run_demo(
    settings: Settings,
    out: Path,
    config: ScenarioConfig,
    sale_s: float = 120.0,
    wait_s: float = 2.0,
    progress: Progress = print,
) -> dict[str, Any]:
    """The whole demo on the stack ``settings`` point at; returns the report (also in ``out/report.json``)."""
    from models.sim.plots import write_plots

    out.mkdir(parents=True, exist_ok=True)
    ns = f"demo_{datetime.now(UTC):%Y%m%d_%H%M%S}"
    s = settings.model_copy(update={"topic_prefix": ns, "db_schema": ns, "web_port": free_port()})
    progress(f"namespace {ns}: creating topics and migrating schema")
    migrations.upgrade(s.database_url.get_secret_value(), ns)
    ensure_topics(s)
    with worker(s, out / "worker.log") as child, dashboard(s, out / "dashboard.log") as url:
        progress(f"dashboard: {url}")
        progress("evaluating adaptive and its baselines in process while the worker starts")
        policy = sku_policy(s)
        evaluation = evaluate(config, policy, lag_minutes=1, k=s.recommendations_k)
        child.wait_for(READY, timeout_s=120)
        rate = sum(evaluation.ledgers["adaptive"].events_by_topic.values()) / sale_s
        progress(f"worker ready; the sale runs ~{sale_s:.0f} s at {rate:.0f} events/s, closed loop")
        run = simulate(s, config, rate=rate, closed_loop=True, wait_s=wait_s)
        progress("reading the decisions back from Kafka and Postgres; running the closed loop's twin")
        twin = run_twin(config, policy, run.applied_lists)
        report = {**evaluation.report, "stream": stream_report(s, run, twin)}
    progress(f"pricing over seeds {MANY_SEEDS[0]}–{MANY_SEEDS[-1]}, in both markets")
    report["many_seeds"] = compare_seeds(
        MANY_SEEDS, policy, lambda seed: replace(config, seed=seed),
        lambda seed: second_market_of(replace(config, seed=seed)), lists=False,
    )  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for path in write_plots(evaluation, run.ledger, twin, report["many_seeds"], out):
        progress(f"wrote {path}")
    return report


HEAD = f"{'policy':<40}{'revenue':>12}{'units':>8}{'sell-through':>14}{'stockout min':>14}{'leftover':>10}"


def policy_lines(rows: dict[str, dict[str, float]]) -> list[str]:
    """A table of policies (name → headline numbers)."""
    lines = [HEAD, "-" * len(HEAD)]
    for name, p in rows.items():
        lines.append(
            f"{name:<40}{p['revenue']:>12,.0f}{p['units']:>8.0f}{p['sell_through']:>14.1%}"
            f"{p['stockout_minutes']:>14.0f}{p['leftover']:>10.0f}"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The report as the table ``flashsale demo`` prints."""
    static = f"static at the campaign discount ({report['scenario']['default_discount']:.0%})"
    best = f"best static in hindsight ({report['best_static_discount']:.0%})"
    labels = {**report["policy_labels"], "static": static, "best_static": best}
    policies = report["policies"]
    revenue = {name: p["revenue"] for name, p in policies.items()}
    lines = [
        f"pricing in process, seed {report['scenario']['seed']}: every policy in the same market, "
        "no recommendation list applied",
        *policy_lines({labels[name]: p for name, p in policies.items()}),
        f"adaptive ÷ best static {revenue['adaptive'] / revenue['best_static']:.3f}, "
        f"÷ clairvoyant plan {revenue['adaptive'] / revenue['clairvoyant']:.3f}",
    ]
    if "many_seeds" in report:
        lines += _seed_lines(report["many_seeds"])
    f, r = report["forecast"], report["recommendations"]
    lines.append(
        f"forecast MAE (1 min ahead, units/min): {f['mae']:.3f}"
        f"  vs seasonal-naive {f['seasonal_naive_mae']:.3f}"
    )
    hit = next(k for k in r if k.startswith("hit_rate_at_"))
    pop, label = f"popularity_{hit}", hit.replace("hit_rate_at_", "hit-rate@")
    lines.append(
        f"recommendation {label}: {r[hit]:.1%}  vs popularity {r[pop]:.1%}  (in process, lists not shown)"
    )
    novel, novel_pop = f"novel_{hit}", f"popularity_novel_{hit}"
    lines.append(
        f"  novel items (on the list before the buyer first touched them; {r['novel_orders']} of "
        f"{r['orders']} orders): {r[novel]:.1%}  vs popularity {r[novel_pop]:.1%}"
    )
    if "stream" in report:
        lines += _stream_lines(report["stream"], hit, pop)
    return "\n".join(lines)


def _seed_lines(many: dict[str, Any]) -> list[str]:
    seeds = many["seeds"]
    out = [f"over seeds {seeds[0]}–{seeds[-1]} (mean, 95 % t-interval over seeds; `flashsale evaluate`):"]
    for name, block in (("market", many), ("second market (saturating)", many["second_market"])):
        if block is None:
            continue
        for key, label in (
            ("adaptive_vs_best_static", "best static"),
            ("adaptive_vs_clairvoyant", "clairvoyant"),
        ):
            ci = block[key]["ci95"]
            spread = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            out.append(f"  {name}: adaptive ÷ {label} {block[key]['mean']:.3f}{spread}")
    return out


def _stream_lines(st: dict[str, Any], hit: str, pop: str) -> list[str]:
    live = "n/a (no lists on the topic)" if st[hit] is None else f"{st[hit]:.1%}"
    topics, rows = st["decisions_on_topics"], st["rows_in_postgres"]
    same = "yes" if st["same_decisions_as_in_process"] else "NO"
    only = st["decisions_only_in_stream"], st["decisions_only_in_process"]
    missed, due, late = st["missed_the_wait"], st["due_decisions"], st["applied_late"]
    twin = "yes" if st["same_run_as_twin"] else "NO"
    return [
        "closed loop through Kafka (its recommendation lists act on shoppers) against its in-process "
        "twin (the same market, shown the same lists at the same minutes):",
        *policy_lines({"closed loop (Kafka)": st["closed_loop"], "in-process twin": st["in_process_twin"]}),
        f"  the same run: {twin}",
        f"  through Kafka: {live}  vs popularity {st[pop]:.1%}  (lists shown: partly their own effect)",
        f"decisions on topics {sum(topics.values())} (restock {topics['restock_events']}, discount "
        f"{topics['discount_adjustments']}); rows in Postgres {sum(rows.values())}, "
        f"{st['missing_in_postgres']} missing, {st['duplicate_rows']} duplicate",
        f"same decisions as the in-process maths on the published events: {same} "
        f"({only[0]} only in the stream, {only[1]} only in process; the last minute's "
        f"{st['last_minute_decisions']} wait for later events)",
        f"closed loop: {st['wall_s']:.0f} s; {missed} of {due} due decisions missed the wait "
        f"({late} applied late); {st['recommendation_lists']} recommendation lists applied",
        f"topics and tables kept: flashsale tail restock --namespace {st['namespace']} --from-beginning",
    ]
