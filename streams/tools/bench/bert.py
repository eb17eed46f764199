"""``flashsale bench bert``: the streaming BERT stage against the model's own peak, on this device.

1. Peak: :func:`models.text.bench.measure_peak` on the scorer the worker would load (same device,
   precision, threads), at batch sizes 1…256, on the bench's search queries and on short and long texts.
2. Stage: distinct search queries (:mod:`streams.tools.bench.queries`, so the LRU query cache never hits)
   published to ``clicks``; a real worker's ``user-clicks`` agent (take_events → one batched
   ``encode_queries`` per batch → user vectors → recommendations) consumes them all. Texts/s comes from
   the group's committed offsets, from the first commit after the model and catalog are loaded.
3. Latency at half the stage's rate: each search event's recommendation arrival minus its send time.

``efficiency`` = stage texts/s ÷ peak texts/s, per repeat against the peak re-measured just before it
(a shared machine's background load drifts; ``efficiency_vs_sweep_peak`` uses the full sweep's peak),
median of repeats. The worker's own metrics, read at both ends of the window, split it into the share
of wall time spent inside BERT (``bert_busy_fraction``) and the encoder's speed while busy
(``encoder_texts_per_s``).
"""

from __future__ import annotations

import gc
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.text.bench import DEFAULT_BATCH_SIZES, SAMPLE_DESCRIPTIONS, SAMPLE_TITLES, measure_peak
from models.text.bert import BertScorer
from streams.app import group_id
from streams.contracts.topics import CLICKS
from streams.settings import Settings
from streams.tools.bench.common import format_table, host_info, median_of, ratio
from streams.tools.bench.latency import timed_outputs
from streams.tools.bench.measure import Window, end_offsets, group_window, scrape_metrics
from streams.tools.bench.pipeline import CATALOG_READY, WORKER, worker_settings
from streams.tools.bench.process import BenchProcess
from streams.tools.bench.produce import Producer
from streams.tools.bench.queries import distinct_queries, search_events
from streams.tools.bench.stack import Say, bench_stack, drop_namespace, new_namespace
from streams.users.agents import load_scorer as worker_scorer

BERT_SECONDS = "flashsale_bert_batch_seconds"
BERT_TEXTS = "flashsale_bert_texts_total"
SETTINGS_REPORTED = ("bert_max_batch", "bert_max_wait_ms", "stream_batch_size", "bert_threads", "bert_int8")
STAGE_KEYS = ("bert_busy_fraction", "encoder_texts_per_s", "texts_per_encode_call", "events_per_batch")
CLICK_BATCHES = 'flashsale_batch_size_{}{{agent="user-clicks"}}'


@dataclass(frozen=True)
class BertBench:
    """Texts per stage run (at least; or ``target_s`` at peak speed), repeats, latency run, users."""

    texts: int = 6000
    repeats: int = 3
    latency_s: float = 20.0
    warmup_s: float = 5.0
    target_s: float = 30.0
    users: int = 20_000
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES


def load_scorer(settings: Settings) -> BertScorer:
    """The scorer exactly as the worker loads it, its query cache off (every text is encoded)."""
    return worker_scorer(settings, query_cache_size=0)


def peak(scorer: BertScorer, queries: list[str], cfg: BertBench, say: Say) -> dict[str, Any]:
    """measure_peak on the bench queries, short titles and long descriptions, every batch size."""
    say(f"measuring the peak of {scorer!r} at batch sizes {list(cfg.batch_sizes)}")
    texts = {"queries": queries, "short": SAMPLE_TITLES, "long": SAMPLE_DESCRIPTIONS}
    return measure_peak(scorer, cfg.batch_sizes, texts, repeats=max(cfg.repeats, 1))


def adjacent_peak(scorer: BertScorer, queries: list[str], batch_sizes: set[int]) -> float:
    """The peak again, at the few batch sizes that matter, right before a stage run: on a shared
    machine the load of other processes changes by the minute, so each run gets its own yardstick.
    """
    result = measure_peak(scorer, sorted(batch_sizes), {"queries": queries}, repeats=3)
    return float(result["sets"]["queries"]["peak_texts_per_s"])


def stage_metrics(window: Window) -> dict[str, float | None]:
    """What the worker's metrics say about the window: time in BERT, texts per call, batch sizes.

    All None when the worker's ``/metrics`` did not answer at both ends of the window.
    """
    if f"{BERT_SECONDS}_sum" not in window.closed:
        return dict.fromkeys(STAGE_KEYS)
    bert_s, calls = window.delta(f"{BERT_SECONDS}_sum"), window.delta(f"{BERT_SECONDS}_count")
    texts = window.delta(BERT_TEXTS)
    batches = window.delta(CLICK_BATCHES.format("count"))
    return {
        "bert_busy_fraction": round(ratio(bert_s, window.seconds), 3),
        "encoder_texts_per_s": round(ratio(texts, bert_s), 1),
        "texts_per_encode_call": round(ratio(texts, calls), 1),
        "events_per_batch": round(ratio(window.delta(CLICK_BATCHES.format("sum")), batches), 1),
    }


def stage_repeat(stack: Settings, queries: list[str], latency: list[str] | None, r: int, cfg: BertBench,
                 logs: Path) -> dict[str, Any]:  # fmt: skip
    """Publish the catalog and the searches, let a fresh worker consume them; latency on the last."""
    ns = new_namespace(stack, "benchbert")
    s = worker_settings(ns, f"bench-bert-{r}")
    catalog = [e for e in FlashSaleMarket(ScenarioConfig()).initial_events() if e.topic == "catalog"]
    try:
        producer = Producer(ns, linger_ms=1)
        producer.send_stamped(catalog, None, None, "catalog")
        producer.send_stamped(search_events(queries, cfg.users), None, None, f"[{r}] produce searches")
        ends = end_offsets(ns, [CLICKS])
        with BenchProcess(s, logs / f"bert-{r}.log", WORKER) as proc:
            window = group_window(
                s, group_id(s), ends, lambda: proc.has_logged(CATALOG_READY), proc.check_alive,
                f"[{r}] user-clicks", snapshot=lambda: scrape_metrics(s.web_port),
            )  # fmt: skip
            result: dict[str, Any] = {"pipeline_texts_per_s": window.events_per_s, **stage_metrics(window)}
            if latency:
                rate = window.events_per_s / 2
                # Enough users that the recommendation debounce never hides an event's output.
                users = max(cfg.users, int(4 * rate * s.recommendation_debounce_s))
                events = search_events(latency, users, first_id=len(queries))
                result["latency"] = timed_outputs(
                    producer, events, rate, cfg.warmup_s, cfg.latency_s, group_id(s), proc
                )
            producer.close()
            return result
    finally:
        drop_namespace(ns)


def run_bert_bench(settings: Settings, cfg: BertBench, say: Say) -> dict[str, Any]:
    """Peak, then the stage through Kafka (median of repeats), then latency; returns the JSON."""
    logs = Path(tempfile.mkdtemp(prefix="flashsale-bench-logs-"))
    say(f"worker logs in {logs}")
    scorer, peak_queries = load_scorer(settings), distinct_queries(256, seed=1)
    max_batch = scorer.max_batch  # the setting, or the device's default
    peak_result = peak(scorer, peak_queries, cfg, say)
    sets = peak_result["sets"]
    peak_rate = sets["queries"]["peak_texts_per_s"]
    near = {sets["queries"]["peak_batch_size"], max_batch}
    # A faster device gets more texts, so that every stage window lasts about target_s.
    texts = max(cfg.texts, int(peak_rate * cfg.target_s))
    n_latency = int(0.6 * peak_rate * (cfg.warmup_s + cfg.latency_s)) + 100
    pool = distinct_queries(texts * cfg.repeats + n_latency, seed=2)
    with bench_stack(settings, say) as stack:
        runs = []
        for r in range(cfg.repeats):
            mine = pool[r * texts : (r + 1) * texts]
            last = r == cfg.repeats - 1
            here = adjacent_peak(scorer, peak_queries, near)
            run = stage_repeat(stack, mine, pool[-n_latency:] if last else None, r + 1, cfg, logs)
            run.update(peak_texts_per_s=here, efficiency=ratio(run["pipeline_texts_per_s"], here))
            runs.append(run)
            say(f"[{r + 1}] stage {run['pipeline_texts_per_s']:,.0f} texts/s vs peak {here:,.0f} just before")
    del scorer
    gc.collect()
    stage = median_of(run["pipeline_texts_per_s"] for run in runs)
    latency = runs[-1]["latency"]
    at_max = {row["batch_size"]: row["texts_per_s"] for row in sets["queries"]["per_batch"]}
    return {
        "device": peak_result["device"],
        "model": peak_result["model"],
        "precision": peak_result["precision"],
        "threads": peak_result["threads"],
        "peak_texts_per_s": round(peak_rate, 1),
        "peak_batch_size": sets["queries"]["peak_batch_size"],
        "texts_per_s_at_bert_max_batch": round(at_max.get(max_batch, 0.0), 1),
        "pipeline_texts_per_s": round(stage, 1),
        "efficiency": round(median_of(run["efficiency"] for run in runs), 3),
        "efficiency_vs_sweep_peak": round(ratio(stage, peak_rate), 3),
        "latency_ms_p50": latency["latency_ms_p50"],
        "latency_ms_p99": latency["latency_ms_p99"],
        "latency": latency,
        "stage": {k: median_or_none([run[k] for run in runs]) for k in STAGE_KEYS},
        "peak_by_set": {name: round(v["peak_texts_per_s"], 1) for name, v in sets.items()},
        "peak_detail": sets,
        "texts": texts,
        "repeats": cfg.repeats,
        "statistic": "median of repeats" if cfg.repeats > 1 else "single run",
        "runs": runs,
        "settings": {k: getattr(settings, k) for k in SETTINGS_REPORTED},
        "distinct_texts": True,
        "host": host_info(),
        "logs": str(logs),
    }


def format_result(result: dict[str, Any]) -> str:
    """The table ``flashsale bench bert`` prints."""
    stage = result["stage"]
    rows = [
        (f"peak, batch {result['peak_batch_size']} ({result['precision']})",
         f"{result['peak_texts_per_s']:,.0f} texts/s"),
        ("streaming stage (Kafka, user-clicks)", f"{result['pipeline_texts_per_s']:,.0f} texts/s"),
        ("efficiency (vs peak just before each run)", f"{result['efficiency']:.2f}"),
        ("efficiency vs the sweep's peak", f"{result['efficiency_vs_sweep_peak']:.2f}"),
        ("  time in BERT", _or_na(stage["bert_busy_fraction"], "{:.0%}")),
        ("  encoder texts/s while busy", _or_na(stage["encoder_texts_per_s"], "{:,.0f}")),
        ("  texts per encode call", _or_na(stage["texts_per_encode_call"], "{:,.0f}")),
        (f"latency p50 @ {result['latency']['latency_rate_per_s']:,.0f} texts/s",
         f"{result['latency_ms_p50']:,.0f} ms"),
        ("latency p99", f"{result['latency_ms_p99']:,.0f} ms"),
    ]  # fmt: skip
    by_set = ", ".join(f"{k} {v:,.0f}" for k, v in result["peak_by_set"].items())
    title = (
        f"flashsale bench bert: {result['model']} on {result['device']} ({result['threads']} threads), "
        f"{result['statistic']} of {result['repeats']}; peak by text set: {by_set}"
    )
    return format_table(rows, title)


def median_or_none(values: list[float | None]) -> float | None:
    """Median of the measured values; None when none was measured."""
    measured = [v for v in values if v is not None]
    return median_of(measured) if measured else None


def _or_na(value: float | None, spec: str) -> str:
    return "n/a (no /metrics)" if value is None else spec.format(value)
