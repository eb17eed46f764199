"""``flashsale bench`` helpers: statistics, load generation, metrics parsing, the BERT peak in process,
and (integration) both benches end to end on the real Kafka and Postgres with a tiny model.

No timing is asserted anywhere: figures only have to exist, be positive and be consistent.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: no hub, ever

import json
from datetime import datetime
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoTokenizer, BertConfig, BertModel

from models.text.bert import packaged_model_path
from streams.cli import cli
from streams.contracts.decoding import decode
from streams.contracts.records import CatalogItem, Click
from streams.settings import Settings
from streams.tools.bench.bert import BertBench, load_scorer, peak, run_bert_bench
from streams.tools.bench.common import latency_summary, median_of, percentile, rate, ratio
from streams.tools.bench.measure import Window, parse_metrics
from streams.tools.bench.pipeline import PipelineBench, run_pipeline_bench
from streams.tools.bench.process import CpuReading, cores_used
from streams.tools.bench.produce import simulator_events, stamp
from streams.tools.bench.queries import distinct_queries, search_events
from streams.tools.bench.scale import ScaleBench, run_scale_bench

PIPELINE_KEYS = (
    "pipeline_events_per_s", "faust_passthrough_events_per_s", "faust_batched_count_events_per_s",
    "raw_consumer_events_per_s", "latency_ms_p50", "latency_ms_p99", "peak_rss_mb",
)  # fmt: skip
BERT_KEYS = ("peak_texts_per_s", "pipeline_texts_per_s", "efficiency", "latency_ms_p50", "latency_ms_p99")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT checkpoint with the packaged tokenizer, saved to disk."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(list(reversed(values)), 50) == pytest.approx(50.5)  # order of input is irrelevant


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_reports_p50_p99_and_count() -> None:
    summary = latency_summary([10.0] * 99 + [1000.0])
    assert summary["latency_ms_p50"] == 10.0 and summary["latency_n"] == 100
    assert 10.0 < summary["latency_ms_p99"] <= summary["latency_ms_max"] == 1000.0
    with pytest.raises(ValueError, match="no latency samples"):
        latency_summary([])


def test_ratio_median_and_rate() -> None:
    assert ratio(300.0, 1200.0) == 0.25 and ratio(1.0, 0.0) == 0.0
    assert median_of([5.0, 1.0, 3.0, 100.0]) == 4.0
    assert rate(1000, 2.0) == 500.0
    with pytest.raises(ValueError):
        rate(10, 0.0)


def test_window_rate_and_metric_deltas() -> None:
    window = Window(500, 2.0, opened={"x": 1.0}, closed={"x": 4.0, "y": 2.0})
    assert window.events_per_s == 250.0
    assert window.delta("x") == 3.0 and window.delta("y") == 2.0 and window.delta("z") == 0.0


def test_parse_metrics_reads_prometheus_text() -> None:
    text = (
        "# HELP flashsale_bert_texts_total Texts encoded\n# TYPE flashsale_bert_texts_total counter\n"
        "flashsale_bert_texts_total 1234.0\n"
        'flashsale_batch_size_sum{agent="user-clicks"} 5e2\n'
    )
    assert parse_metrics(text) == {
        "flashsale_bert_texts_total": 1234.0,
        'flashsale_batch_size_sum{agent="user-clicks"}': 500.0,
    }


def test_cores_used_splits_the_machines_busy_time_between_the_worker_the_load_and_the_rest() -> None:
    start = CpuReading(t=100.0, machine_busy_s=50.0, worker_s=10.0, bench_s=5.0)
    end = CpuReading(t=110.0, machine_busy_s=68.0, worker_s=19.0, bench_s=9.0)
    assert cores_used(start, end, cores=2) == {
        "cores": 2, "busy_cores": 1.8, "worker_cores": 0.9, "bench_load_cores": 0.4, "other_cores": 0.5,
    }  # fmt: skip
    with pytest.raises(ValueError, match="later"):
        cores_used(end, start, cores=2)


def test_simulator_events_are_deterministic_catalog_first() -> None:
    events = simulator_events(3000, seed=3)
    assert len(events) == 3000 and events == simulator_events(3000, seed=3)
    assert events[0].topic == "catalog"
    assert {e.topic for e in events} == {"catalog", "stock", "clicks", "orders"}


def test_stamped_events_are_valid_contract_events_at_now() -> None:
    now = 1_790_000_000.5
    catalog = next(e for e in simulator_events(100) if e.topic == "catalog" and e.value["campaign"])
    original = json.dumps(catalog.value)
    item = decode(CatalogItem, json.dumps(stamp(catalog.value, now)).encode(), now)
    assert json.dumps(catalog.value) == original  # stamping copies
    assert item.updated_at.timestamp() == pytest.approx(now)
    assert item.campaign.starts_at.timestamp() < now < item.campaign.ends_at.timestamp()


def test_search_queries_are_distinct_and_decode_as_clicks() -> None:
    queries = distinct_queries(5000)
    assert len(set(queries)) == 5000 and queries == distinct_queries(5000)
    events = search_events(queries[:3], n_users=2, first_id=10)
    assert [e.key for e in events] == ["bu000000", "bu000001", "bu000000"]
    click = decode(Click, json.dumps(stamp(events[1].value, 1_790_000_000.0)).encode())
    assert (click.action, click.query, click.event_id) == ("search", queries[1], "bench-search-11")
    assert isinstance(click.ts, datetime)


def test_bert_peak_in_process_with_a_tiny_model(tiny_model: Path) -> None:
    settings = Settings(model_path=tiny_model, device="cpu", bert_threads=2)
    scorer = load_scorer(settings)
    result = peak(scorer, distinct_queries(64), BertBench(repeats=1, batch_sizes=(1, 8)), lambda _: None)
    assert result["device"] == "cpu" and result["model"] == tiny_model.name
    assert set(result["sets"]) == {"queries", "short", "long"}
    for text_set in result["sets"].values():
        assert [row["batch_size"] for row in text_set["per_batch"]] == [1, 8]
        assert text_set["peak_texts_per_s"] > 0 and text_set["peak_batch_size"] in (1, 8)


def test_cli_has_bench_and_bench_bert() -> None:
    runner = CliRunner()
    assert "bert" in runner.invoke(cli, ["bench", "--help"]).output
    assert "--json" in runner.invoke(cli, ["bench", "bert", "--help"]).output


@pytest.mark.integration
def test_bert_bench_end_to_end(settings: Settings, tiny_model: Path) -> None:
    s = settings.model_copy(update={"model_path": tiny_model, "device": "cpu", "bert_threads": 1})
    cfg = BertBench(texts=600, repeats=1, latency_s=3, warmup_s=1, target_s=0.1, batch_sizes=(1, 16))
    result = run_bert_bench(s, cfg, lambda _: None)
    assert all(result[key] > 0 for key in BERT_KEYS), {k: result[k] for k in BERT_KEYS}
    assert result["device"] == "cpu" and result["model"] == tiny_model.name
    expected = result["pipeline_texts_per_s"] / result["peak_texts_per_s"]
    rounding = 1e-3  # ratios are reported to 3 decimals, from rates rounded to 1
    assert result["efficiency_vs_sweep_peak"] == pytest.approx(expected, rel=0.01, abs=rounding)
    (run,) = result["runs"]
    per_run = run["pipeline_texts_per_s"] / run["peak_texts_per_s"]
    assert result["efficiency"] == pytest.approx(per_run, rel=0.01, abs=rounding)
    assert result["latency_ms_p50"] <= result["latency_ms_p99"]
    json.dumps(result)  # JSON-ready


@pytest.mark.integration
def test_pipeline_bench_end_to_end(settings: Settings, tiny_model: Path) -> None:
    s = settings.model_copy(update={"model_path": tiny_model, "device": "cpu", "bert_threads": 1})
    cfg = PipelineBench(events=6000, repeats=1, latency_s=3, warmup_s=1, fixed_rate=150)
    result = run_pipeline_bench(s, cfg, lambda _: None)
    assert all(result[key] > 0 for key in PIPELINE_KEYS), {k: result[k] for k in PIPELINE_KEYS}
    fixed = result["latency_fixed"]
    assert fixed["latency_rate_per_s"] == 150 and 0 < fixed["latency_ms_p50"] <= fixed["latency_ms_p99"]
    assert result["latency_fixed_ms_p99"] == fixed["latency_ms_p99"]
    for lat in (result["latency"], fixed):  # the cores each latency run took, while its load was sent
        assert lat["latency_cores"]["worker_cores"] > 0 and lat["latency_cores"]["bench_load_cores"] > 0
        assert lat["latency_sent_per_s"] > 0
    assert result["pipeline_vs_raw"] == pytest.approx(
        result["pipeline_events_per_s"] / result["raw_consumer_events_per_s"], abs=0.001
    )
    assert result["pipeline_vs_batched_count"] == pytest.approx(
        result["pipeline_events_per_s"] / result["faust_batched_count_events_per_s"], abs=0.001
    )
    assert result["events"] == 6000 and len(result["runs"]) == 1
    assert result["runs"][0]["passthrough_forwarded"] == 6000  # the pass-through sent every event on
    json.dumps(result)


@pytest.mark.integration
def test_scale_bench_end_to_end(settings: Settings, tiny_model: Path) -> None:
    s = settings.model_copy(update={"model_path": tiny_model, "device": "cpu", "bert_threads": 1})
    cfg = ScaleBench(users=3000, skus=40, workers=(1, 2), window=3000, probe=300, small_skus=10, step_ms=40)
    saved: list[dict] = []
    result = run_scale_bench(
        s, cfg, lambda _: None, lambda so_far: saved.append(json.loads(json.dumps(so_far)))
    )
    assert saved[0]["windows"] == {} and saved[0]["changelog_records_per_user"] >= 1  # after the build
    # The build brings every SKU up to the sale (its open bucket within a minute and the allowed lateness
    # of it), not only to the opening stock half an hour before: the first timed window closes no hour.
    assert saved[0]["build_sku_state_behind_s"] <= 60 + s.allowed_lateness_s
    assert saved[-1]["full_restore_records"] == result["full_restore_records"]  # a cut-short run kept it
    assert saved[-1]["rss_mb_by_role"]["users"] > 0  # and the peak RSS per role so far
    assert result["events_per_s"].keys() == result["events_per_cpu_s"].keys() == {"1", "2"}
    assert all(v > 0 for v in [*result["events_per_s"].values(), *result["events_per_cpu_s"].values()])
    assert result["scaleout_efficiency"]["1"] == 1.0 and result["scaleout_efficiency"]["2"] > 0
    assert all(result["rss_mb_by_role"][role] > 0 for role in ("all", "skus", "users"))
    assert result["changelog_records_per_user"] >= 1 and result["changelog_bytes_per_user"] > 0
    assert result["recovery_restored_records"] == 0  # killed while idle: all of it was in its local store
    assert result["full_restore_records"] >= 3000  # without local state: every user's record again
    assert result["recovery_s"] > 0 and result["takeover_s"] > 0 and result["rebalance_pause_s"] is not None
    assert result["decisions"]["expected"] > 0 and result["decisions_identical"], result["decisions"]
    assert result["small_catalog"]["skus"] == 10 and result["large_vs_small_catalog"] > 0
    json.dumps(result)
