"""``flashsale bench``: full-pipeline events/s beside a Faust pass-through and a raw consumer, same run.

Each repeat publishes the same seeded simulator events (flat out, event time kept) to a fresh
namespace and reads all four input topics to their end four ways, one after the other:

1. a raw aiokafka consumer (group-less, Faust's consumer settings): the broker-and-client limit;
2. the trivial Faust pass-through: one agent per input topic sending each event on, one at a time;
3. Faust's delivery alone: one agent per input topic taking batches as the pipeline does and only
   counting them (both from :mod:`streams.tools.bench.passthrough`);
4. the real worker (``python -m streams worker``), under a fresh consumer group.

Faust throughput is read from the group's committed offsets, from the first commit after the worker
is up (for the pipeline: after its catalog view and BERT model are ready) to the last; startup is
not counted. Then the latency run: a fresh namespace and worker, the sale replayed at half the median
pipeline rate with every event stamped with its send time, and each recommendation's arrival minus
its source event's send time. Peak RSS is the worker's, sampled through all pipeline runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.text.loading import resolve_device
from streams.app import group_id
from streams.contracts.topics import INPUT_TOPICS
from streams.settings import Settings
from streams.tools.bench.common import format_table, host_info, median_of, ratio
from streams.tools.bench.latency import timed_outputs
from streams.tools.bench.measure import Window, end_offsets, group_window, raw_consumer_window
from streams.tools.bench.passthrough import OUTPUT
from streams.tools.bench.process import COMMIT_INTERVAL_S, BenchProcess
from streams.tools.bench.produce import Producer, simulator_events
from streams.tools.bench.stack import Say, bench_stack, drop_namespace, free_port, new_namespace

CATALOG_READY = "catalog view ready"  # logged by streams.users.catalog_view once the model and catalog are in
WORKER = ["streams", "worker"]
PASSTHROUGH = ["streams.tools.bench.passthrough", "forward"]
BATCHED_COUNT = ["streams.tools.bench.passthrough", "count"]


@dataclass(frozen=True)
class PipelineBench:
    """What to run: events per repeat, repeats, and the latency run's length."""

    events: int = 100_000
    repeats: int = 3
    latency_s: float = 20.0
    warmup_s: float = 5.0
    seed: int = 7
    fixed_rate: float = 700.0  # a second latency run at this rate, whatever the pipeline's (0: none)


def worker_settings(ns: Settings, app_id: str) -> Settings:
    """Settings of one worker under test: its own consumer group and web port, INFO log."""
    return ns.model_copy(update={"app_id": app_id, "web_port": free_port(), "log_level": "INFO"})


def faust_window(s: Settings, args: list[str], marker: str, log: Path, desc: str) -> tuple[Window, float]:
    """Run ``python -m <args>`` on ``s`` until its group has committed every input; window and RSS."""
    ends = end_offsets(s, list(INPUT_TOPICS))
    with BenchProcess(s, log, args) as proc:
        window = group_window(s, group_id(s), ends, lambda: proc.has_logged(marker), proc.check_alive, desc)
        return window, proc.peak_rss_mb


def one_repeat(stack: Settings, events: list, r: int, logs: Path, say: Say) -> dict[str, float]:
    """Publish the events to a fresh namespace, then read them raw, through Faust, through the pipeline."""
    ns = new_namespace(stack, "bench")
    try:
        producer = Producer(ns)
        producer.send_all(events, desc=f"[{r}] produce")
        producer.close()
        raw = raw_consumer_window(ns, end_offsets(ns, list(INPUT_TOPICS)))
        say(f"[{r}] raw aiokafka consumer   {raw.events_per_s:>10,.0f} events/s")
        passthrough, _ = faust_window(
            worker_settings(ns, f"bench-passthrough-{r}"), PASSTHROUGH, "]: Ready",
            logs / f"passthrough-{r}.log", f"[{r}] faust pass-through",
        )  # fmt: skip
        forwarded = sum(end_offsets(ns, [OUTPUT]).values())
        say(f"[{r}] Faust pass-through      {passthrough.events_per_s:>10,.0f} events/s")
        count, _ = faust_window(
            worker_settings(ns, f"bench-count-{r}"), BATCHED_COUNT, "]: Ready",
            logs / f"count-{r}.log", f"[{r}] faust batched count",
        )  # fmt: skip
        say(f"[{r}] Faust batched count     {count.events_per_s:>10,.0f} events/s")
        pipeline, rss = faust_window(
            worker_settings(ns, f"bench-pipeline-{r}"), WORKER, CATALOG_READY,
            logs / f"pipeline-{r}.log", f"[{r}] full pipeline",
        )  # fmt: skip
        say(f"[{r}] full pipeline           {pipeline.events_per_s:>10,.0f} events/s")
    finally:
        drop_namespace(ns)
    return {
        "raw_consumer_events_per_s": raw.events_per_s,
        "faust_passthrough_events_per_s": passthrough.events_per_s,
        "passthrough_forwarded": forwarded,
        "faust_batched_count_events_per_s": count.events_per_s,
        "pipeline_events_per_s": pipeline.events_per_s,
        "pipeline_window_s": pipeline.seconds,
        "peak_rss_mb": rss,
    }


def latency_run(stack: Settings, rate: float, cfg: PipelineBench, log: Path) -> dict[str, Any]:
    """Event → recommendation latency of a fresh worker fed at ``rate`` events/s, stamped with now, and
    the cores that the worker, the load and the rest used meanwhile."""
    ns = new_namespace(stack, "bench")
    s = worker_settings(ns, "bench-latency")
    events = simulator_events(int(rate * (cfg.warmup_s + cfg.latency_s) * 1.2) + 1000, seed=cfg.seed + 1)
    opening = next(i for i, e in enumerate(events) if e.topic not in ("catalog", "stock"))
    try:
        producer = Producer(ns, linger_ms=1)
        producer.send_stamped(events[:opening], None, None, "catalog and stock")
        with BenchProcess(s, log, WORKER) as proc:
            proc.wait_for(CATALOG_READY)
            sale = events[opening:]  # the traffic after the catalog and opening stock
            result = timed_outputs(producer, sale, rate, cfg.warmup_s, cfg.latency_s, group_id(s), proc)
            producer.close()
            return {**result, "latency_peak_rss_mb": proc.peak_rss_mb}
    finally:
        drop_namespace(ns)


def run_pipeline_bench(settings: Settings, cfg: PipelineBench, say: Say) -> dict[str, Any]:
    """The whole bench on the stack ``settings`` point at (or a temporary one); returns the JSON."""
    logs = Path(tempfile.mkdtemp(prefix="flashsale-bench-logs-"))
    say(f"worker logs in {logs}")
    events = simulator_events(cfg.events, seed=cfg.seed)
    with bench_stack(settings, say) as stack:
        runs = [one_repeat(stack, events, r + 1, logs, say) for r in range(cfg.repeats)]
        pipeline = median_of(r["pipeline_events_per_s"] for r in runs)
        latency = latency_run(stack, pipeline / 2, cfg, logs / "latency.log")
        fixed = None
        if cfg.fixed_rate:
            fixed = latency_run(stack, cfg.fixed_rate, cfg, logs / "latency-fixed.log")
    passthrough = median_of(r["faust_passthrough_events_per_s"] for r in runs)
    count = median_of(r["faust_batched_count_events_per_s"] for r in runs)
    raw = median_of(r["raw_consumer_events_per_s"] for r in runs)
    return {
        "pipeline_events_per_s": round(pipeline, 1),
        "faust_passthrough_events_per_s": round(passthrough, 1),
        "faust_batched_count_events_per_s": round(count, 1),
        "raw_consumer_events_per_s": round(raw, 1),
        "pipeline_vs_passthrough": round(ratio(pipeline, passthrough), 3),
        "pipeline_vs_batched_count": round(ratio(pipeline, count), 3),
        "pipeline_vs_raw": round(ratio(pipeline, raw), 3),
        "passthrough_vs_raw": round(ratio(passthrough, raw), 3),
        "latency_ms_p50": latency["latency_ms_p50"],
        "latency_ms_p99": latency["latency_ms_p99"],
        "latency_fixed_ms_p50": fixed and fixed["latency_ms_p50"],
        "latency_fixed_ms_p99": fixed and fixed["latency_ms_p99"],
        "peak_rss_mb": round(max([r["peak_rss_mb"] for r in runs] + [latency["latency_peak_rss_mb"]]), 1),
        "latency": latency,
        "latency_fixed": fixed,
        "events": len(events),
        "repeats": cfg.repeats,
        "statistic": "median of repeats" if cfg.repeats > 1 else "single run",
        "runs": runs,
        "bert_device": str(resolve_device(settings.device)),
        "faust_commit_interval_s": COMMIT_INTERVAL_S,
        "stream_batch_size": settings.stream_batch_size,
        "host": host_info(),
        "logs": str(logs),
    }


def format_result(result: dict[str, Any]) -> str:
    """The table ``flashsale bench`` prints."""
    rows = [
        ("raw aiokafka consumer", f"{result['raw_consumer_events_per_s']:,.0f} ev/s"),
        ("Faust pass-through agent", f"{result['faust_passthrough_events_per_s']:,.0f} ev/s"),
        ("Faust batched count (delivery alone)", f"{result['faust_batched_count_events_per_s']:,.0f} ev/s"),
        ("full pipeline worker", f"{result['pipeline_events_per_s']:,.0f} ev/s"),
        ("pipeline / pass-through", f"{result['pipeline_vs_passthrough']:.2f}"),
        ("pipeline / batched count", f"{result['pipeline_vs_batched_count']:.2f}"),
        ("pipeline / raw", f"{result['pipeline_vs_raw']:.2f}"),
        ("pass-through / raw", f"{result['passthrough_vs_raw']:.2f}"),
        *latency_rows("half load", result["latency"]),
        *(latency_rows("fixed rate", result["latency_fixed"]) if result.get("latency_fixed") else []),
        ("worker peak RSS", f"{result['peak_rss_mb']:,.0f} MB"),
    ]
    host = result["host"]
    title = (
        f"flashsale bench: {result['events']:,} events, {result['statistic']} of {result['repeats']}; "
        f"{host['cpu_cores']} cores, BERT on {result['bert_device']}"
    )
    return format_table(rows, title)


def latency_rows(name: str, lat: dict[str, Any]) -> list[tuple[str, str]]:
    """A latency run's rows: p50 / p99 at its rate, the rate the load reached, and the cores it took."""
    rows = [
        (f"latency p50 / p99, {name} ({lat['latency_rate_per_s']:,.0f} ev/s)",
         f"{lat['latency_ms_p50']:,.0f} / {lat['latency_ms_p99']:,.0f} ms"),
        ("  load sent at", f"{lat.get('latency_sent_per_s', 0):,.0f} ev/s"),
    ]  # fmt: skip
    if cores := lat.get("latency_cores"):
        rows.append((
            f"  cores busy (of {cores['cores']})",
            f"{cores['busy_cores']:.2f}: worker {cores['worker_cores']:.2f}, "
            f"load {cores['bench_load_cores']:.2f}, broker/Postgres/rest {cores['other_cores']:.2f}",
        ))  # fmt: skip
    return rows
