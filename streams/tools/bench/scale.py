"""``flashsale bench scale``: state for many users and SKUs, built through the real stack, and what a
restart costs with it.

1. **Build.** A catalog of ``skus`` SKUs (half in a campaign) with their opening stock, and one view
   click per user for ``users`` users, are published as a backlog to a fresh namespace; one worker
   (role ``all``, RocksDB state) drains it. Events/s and events per CPU-second of the worker (psutil
   user + system time) are read over the group's committed window, startup excluded; peak RSS over
   the run; changelog records per user and per SKU afterwards.
2. **Recovery.** The worker is SIGKILLed, a probe of fresh clicks is published, and a worker is started
   on the same data directory: ``recovery_s`` is the time from its start until the group has committed
   the probe (process start, BERT, the catalog's titles encoded again, the changelog tail, the probe).
   ``flashsale_state_restored_total`` says how many changelog records it applied.
3. **Full restore.** The same, but on an empty data directory with in-memory tables: every changelog
   record is read again, which is what every restart and takeover cost before RocksDB.

Not measured yet (issue 16): 2 and 4 workers (scale-out efficiency), RSS per split role, a surviving
worker's takeover, the rebalance pause, decisions across worker counts, the large/small catalog ratio.
"""

from __future__ import annotations

import signal
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from models.sim.events import SimEvent, iso
from streams.app import group_id
from streams.contracts.topics import INPUT_TOPICS
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.tools.bench.common import format_table, host_info, rate
from streams.tools.bench.measure import committed, end_offsets, group_window, scrape_metrics
from streams.tools.bench.pipeline import CATALOG_READY, WORKER, worker_settings
from streams.tools.bench.process import BenchProcess
from streams.tools.bench.produce import Producer
from streams.tools.bench.stack import Say, bench_stack, drop_namespace, new_namespace

START = datetime(2026, 11, 11, 12, tzinfo=UTC)
CATEGORIES = ("audio", "phones", "laptops", "kitchen", "toys", "garden", "sports", "books")
NOT_MEASURED = (
    "events_per_s at 2 and 4 workers", "scaleout_efficiency", "rss_mb_by_role.skus", "rss_mb_by_role.users",
    "takeover_s", "rebalance_pause_s", "decisions_identical", "large_vs_small_catalog",
)  # fmt: skip


@dataclass(frozen=True)
class ScaleBench:
    """Distinct users (one click each), SKUs, and fresh clicks after each restart."""

    users: int = 1_000_000
    skus: int = 10_000
    probe: int = 2_000


def catalog(skus: int) -> list[SimEvent]:
    """``skus`` listings (every other one in a campaign around the clicks) and their opening stock."""
    listed, stock = START - timedelta(hours=1), START - timedelta(minutes=30)
    ends = iso(START + timedelta(hours=6))
    campaign = {"campaign_id": "bench", "starts_at": iso(listed), "ends_at": ends, "discount": 0.2,
                "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 20}  # fmt: skip
    events = []
    for i in range(skus):
        sku, category = f"sku-{i}", CATEGORIES[i % len(CATEGORIES)]
        item = {"sku": sku, "title": f"{category} item {i}", "category": category,
                "base_price": 10.0 + i % 90, "updated_at": iso(listed),
                "campaign": campaign if i % 2 == 0 else None}  # fmt: skip
        events.append(SimEvent("catalog", sku, item))
        level = {"event_id": f"stk-{i}", "sku": sku, "on_hand": 500, "inbound": 0, "ts": iso(stock)}
        events.append(SimEvent("stock", sku, level))
    return events


def clicks(users: range, skus: int, tag: str) -> list[SimEvent]:
    """One view per user of ``users``, 1 ms of event time apart, each on a campaign SKU."""
    out = []
    for n, u in enumerate(users):
        ts = START + timedelta(milliseconds=n)
        value = {"event_id": f"{tag}-{u}", "user_id": f"u{u}", "action": "view",
                 "sku": f"sku-{(u * 7919) % skus // 2 * 2}", "ts": iso(ts)}  # fmt: skip
        out.append(SimEvent("clicks", f"u{u}", value))
    return out


def changelog_records(settings: Settings, table: str) -> int:
    """Records in a table's changelog topic (sum of end offsets)."""
    name = f"{group_id(settings)}-{table}-changelog"
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def publish(settings: Settings, events: list[SimEvent], desc: str) -> None:
    producer = Producer(settings)
    producer.send_all(events, desc=desc)
    producer.close()


def build(s: Settings, cfg: ScaleBench, logs: Path, say: Say) -> dict[str, Any]:
    """Publish the backlog, drain it with one worker, then SIGKILL that worker."""
    publish(s, catalog(cfg.skus) + clicks(range(cfg.users), cfg.skus, "clk"), "publish the backlog")
    ends = end_offsets(s, list(INPUT_TOPICS))
    with BenchProcess(s, logs / "build.log", WORKER) as proc:
        started = lambda: proc.has_logged(CATALOG_READY)  # noqa: E731
        cpu = lambda: {"cpu": proc.cpu_seconds()}  # noqa: E731
        window = group_window(s, group_id(s), ends, started, proc.check_alive, "build state", 6 * 3600, cpu)
        proc.stop(signal.SIGKILL)
        rss = proc.peak_rss_mb
    per_cpu_s = rate(window.events, window.delta("cpu"))
    say(f"built: {window.events_per_s:,.0f} events/s, {per_cpu_s:,.0f} per CPU-second, RSS {rss:,.0f} MB")
    return {
        "events": sum(ends.values()),
        "events_per_s": {"1": round(window.events_per_s, 1)},
        "events_per_cpu_s": {"1": round(per_cpu_s, 1)},
        "rss_mb_by_role": {"all": round(rss, 1)},
        "changelog_records_per_user": round(changelog_records(s, "users") / cfg.users, 3),
        "changelog_records_per_sku": round(changelog_records(s, "sku-slots") / cfg.skus, 3),
    }


def restart(s: Settings, probe: list[SimEvent], log: Path, desc: str) -> dict[str, float]:
    """Publish ``probe``, start a worker on ``s`` and time it until the group has committed the probe."""
    publish(s, probe, f"{desc}: publish the probe")
    ends = end_offsets(s, list(INPUT_TOPICS))
    total = sum(ends.values())
    admin = KafkaAdminClient(**client_config(s), client_id="flashsale-bench")
    began, catalog_s = time.monotonic(), None
    try:
        with BenchProcess(s, log, WORKER) as proc:
            while (committed(admin, group_id(s), ends) or 0) < total:
                proc.check_alive()
                if catalog_s is None and proc.has_logged(CATALOG_READY):
                    catalog_s = time.monotonic() - began
                time.sleep(0.1)
            seconds = time.monotonic() - began
            samples = scrape_metrics(s.web_port)
    finally:
        admin.close()
    restored = samples.get('flashsale_state_restored_total{table="users"}', 0.0)
    return {
        "seconds": round(seconds, 2),
        "catalog_ready_s": round(catalog_s or seconds, 2),
        "restored": restored,
    }


def run_scale_bench(settings: Settings, cfg: ScaleBench, say: Say) -> dict[str, Any]:
    """The bench on the stack ``settings`` point at (or a temporary one); returns the JSON."""
    logs = Path(tempfile.mkdtemp(prefix="flashsale-bench-scale-"))
    say(f"worker logs and state in {logs}")
    with bench_stack(settings, say) as stack:
        ns = new_namespace(stack, "bench")
        s = worker_settings(ns, "bench-scale").model_copy(
            update={"data_dir": logs / "worker", "table_store": "rocksdb"}
        )
        try:
            built = build(s, cfg, logs, say)
            fresh = range(cfg.users, cfg.users + cfg.probe)
            local = restart(
                s, clicks(fresh, cfg.skus, "probe1"), logs / "recovery.log", "restart on its data"
            )
            say(f"restart on its data dir: {local['seconds']:.1f} s, {local['restored']:,.0f} records")
            empty = s.model_copy(update={"data_dir": logs / "empty", "table_store": "memory"})
            full = restart(
                empty, clicks(fresh, cfg.skus, "probe2"), logs / "full.log", "restart without data"
            )
            say(f"restart without local state: {full['seconds']:.1f} s, {full['restored']:,.0f} records")
        finally:
            drop_namespace(ns)
    return {
        "users": cfg.users, "skus": cfg.skus, **built,
        "recovery_s": local["seconds"], "recovery_catalog_ready_s": local["catalog_ready_s"],
        "recovery_restored_records": local["restored"],
        "full_restore_s": full["seconds"], "full_restore_records": full["restored"],
        "not_measured": list(NOT_MEASURED), "host": host_info(), "logs": str(logs),
    }  # fmt: skip


def format_result(result: dict[str, Any]) -> str:
    """The table ``flashsale bench scale`` prints."""
    rate_1 = f"{result['events_per_s']['1']:,.0f} ev/s, {result['events_per_cpu_s']['1']:,.0f} ev/CPU-s"
    per_user, per_sku = result["changelog_records_per_user"], result["changelog_records_per_sku"]
    local = (
        f"{result['recovery_s']:.1f} s ({result['recovery_restored_records']:,.0f} records; "
        f"catalog ready at {result['recovery_catalog_ready_s']:.1f} s)"
    )
    full = f"{result['full_restore_s']:.1f} s ({result['full_restore_records']:,.0f} records)"
    rows = [
        ("events (backlog)", f"{result['events']:,}"),
        ("1 worker", rate_1),
        ("peak RSS (role all)", f"{result['rss_mb_by_role']['all']:,.0f} MB"),
        ("changelog records per user / SKU", f"{per_user:.2f} / {per_sku:.2f}"),
        ("restart on its data dir", local),
        ("restart without local state", full),
    ]
    title = f"flashsale bench scale: {result['users']:,} users, {result['skus']:,} SKUs"
    return format_table(rows, f"{title}; {result['host']['cpu_cores']} cores")
