"""``flashsale bench scale``: see :mod:`streams.tools.bench.scale.phases` for what runs and what is timed."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.tools.bench.common import format_table, host_info, ratio
from streams.tools.bench.scale.decisions import reference, wait_identical
from streams.tools.bench.scale.fleet import Fleet
from streams.tools.bench.scale.phases import (
    Sale,
    ScaleBench,
    all_role,
    build,
    full_restore,
    recovery,
    takeover,
    window,
)
from streams.tools.bench.stack import Say, bench_stack, drop_namespace, new_namespace

__all__ = ["ScaleBench", "format_result", "run_scale_bench"]

Save = Callable[[dict[str, Any]], None]


def large_sale(sale: Sale, save: Save) -> dict[str, Any]:
    """Build, the window of each worker count (recovery after the first), takeover, decisions; ``save``
    gets what is measured so far after each phase, so a run cut short still leaves its figures."""
    out: dict[str, Any] = {**build(sale), "windows": {}}

    def save_so_far() -> None:
        save({**out, "rss_mb_by_role": {r: round(mb, 1) for r, mb in sale.fleet.peak_rss_mb.items()}})

    save_so_far()
    for n in sale.cfg.workers:
        out["windows"][str(n)] = window(sale, n)
        if n == sale.cfg.workers[0]:
            out |= recovery(sale)
        save_so_far()
    if len(sale.fleet.live("users")) > 1:
        out |= takeover(sale)
    out["decisions"] = wait_identical(
        sale.ns, reference(sale.decision_input, sale.ns), sale.fleet.check_alive
    )
    sale.say(f"decisions against one uninterrupted pass: {out['decisions']}")
    save_so_far()
    out |= full_restore(sale)
    save_so_far()
    if sale.cfg.all_role:
        out |= all_role(sale)
    return out


def small_sale(sale: Sale) -> dict[str, Any]:
    """The same build and one-worker window on a small catalog."""
    return {**build(sale), "window": window(sale, sale.cfg.workers[0])}


def run_sale(
    stack: Settings, cfg: ScaleBench, skus: int, logs: Path, say: Say, save: Save | None = None
) -> dict[str, Any]:
    """The large sale when ``save`` is given (it gets the figures so far), else the small one."""
    ns = new_namespace(stack, "bench")
    sale = Sale(ns, Fleet(ns, "bench-scale", logs), cfg, skus, say)
    try:
        out = large_sale(sale, save) if save else small_sale(sale)
    finally:
        sale.fleet.stop()
        drop_namespace(ns)
    rss = {role: round(mb, 1) for role, mb in sale.fleet.peak_rss_mb.items()}
    say(f"peak RSS per role: {', '.join(f'{role} {mb:,.0f} MB' for role, mb in sorted(rss.items()))}")
    return {**out, "rss_mb_by_role": rss, "events_published": sale.published}


def run_scale_bench(
    settings: Settings, cfg: ScaleBench, say: Say, save: Save = lambda _: None
) -> dict[str, Any]:
    """The bench on the stack ``settings`` point at (or a temporary one); returns the JSON. ``save``
    gets the large sale's figures so far after each of its phases."""
    logs = Path(tempfile.mkdtemp(prefix="flashsale-bench-scale-"))
    say(f"worker logs and state in {logs}")
    with bench_stack(settings, say) as stack:
        say(f"large catalog: {cfg.users:,} users, {cfg.skus:,} SKUs")
        large = run_sale(stack, cfg, cfg.skus, logs / "large", say, save)
        say(f"small catalog: {cfg.users:,} users, {cfg.small_skus:,} SKUs")
        small = run_sale(stack, cfg, cfg.small_skus, logs / "small", say)
    out = result(cfg, large, small, logs)
    out |= {"standby_replicas": settings.standby_replicas, "topic_partitions": settings.topic_partitions}
    return {**out, "capacity": capacity(out)}


def result(cfg: ScaleBench, large: dict[str, Any], small: dict[str, Any], logs: Path) -> dict[str, Any]:
    windows = large["windows"]
    per_s = {n: w["events_per_s"] for n, w in windows.items()}
    per_cpu_s = {n: w["events_per_cpu_s"] for n, w in windows.items()}
    first = str(cfg.workers[0])
    pauses = [w["pause_s"] for w in windows.values() if w["pause_s"] is not None]
    return {
        "users": cfg.users, "skus": cfg.skus, "events": large.pop("events_published", None),
        "window_events": cfg.window, "events_per_s": per_s, "events_per_cpu_s": per_cpu_s,
        "scaleout_efficiency": {n: round(ratio(v, per_cpu_s[first]), 3) for n, v in per_cpu_s.items()},
        "rss_mb_by_role": {**large.pop("rss_mb_by_role"), "all": large.pop("rss_mb_all", None)},
        "rebalance_pause_s": round(max(pauses), 2) if pauses else None,
        "rebalance_pause_s_by_workers": {n: w["pause_s"] for n, w in windows.items()},
        "decisions_identical": large["decisions"]["identical"],
        "large_vs_small_catalog": round(ratio(per_s[first], small["window"]["events_per_s"]), 3),
        "large_vs_small_catalog_per_cpu_s": round(
            ratio(per_cpu_s[first], small["window"]["events_per_cpu_s"]), 3
        ),
        "small_catalog": {"skus": cfg.small_skus, **small["window"]},
        **large, "host": host_info(), "logs": str(logs),
    }  # fmt: skip


TARGETS = (10_000, 50_000, 100_000)  # events/s of a sale's input


def capacity(result: dict[str, Any]) -> dict[str, Any]:
    """Sizing from the run: per role, the input events/s one worker on one core keeps up with (the first
    window), workers needed for each target rate at the last count's scale-out efficiency; state per
    10⁶ users on disk (changelog, local RocksDB) and recovery times scaled to 10⁶ users."""
    first, last = next(iter(result["windows"].values())), str(max(int(n) for n in result["windows"]))
    efficiency = min(result["scaleout_efficiency"][last], 1.0)
    million = 1_000_000 / result["users"]
    return {
        "events_per_s_per_worker": first["events_per_cpu_s_by_role"],
        "efficiency_used": efficiency,
        "workers_for": {
            str(target): {role: math.ceil(target / (per_core * efficiency))
                          for role, per_core in first["events_per_cpu_s_by_role"].items()}
            for target in TARGETS
        },
        "changelog_gb_per_million_users": round(result["changelog_bytes_per_user"] * 1e6 / 1e9, 2),
        "local_state_gb_per_million_users": round(result["local_state_bytes_per_user"] * 1e6 / 1e9, 2),
        "users_worker_rss_mb": result["rss_mb_by_role"].get("users"),
        "recovery_s_at_measured_users": result["recovery_s"],
        "full_restore_s_per_million_users": round(result["full_restore_s"] * million, 1),
    }  # fmt: skip


def format_result(result: dict[str, Any]) -> str:
    """The table ``flashsale bench scale`` prints."""
    rows = [("events per window", f"{result['window_events']:,}")]
    for n, per_s in result["events_per_s"].items():
        per_cpu = result["events_per_cpu_s"][n]
        rows.append((f"{n} worker(s) per role", f"{per_s:,.0f} ev/s, {per_cpu:,.0f} ev/CPU-s, "
                     f"efficiency {result['scaleout_efficiency'][n]:.2f}"))  # fmt: skip
    rss = result["rss_mb_by_role"]
    rows += [
        ("peak RSS per role", ", ".join(f"{role} {mb:,.0f} MB" if mb is not None else f"{role} not run"
                                        for role, mb in sorted(rss.items()))),  # all: --no-all-role
        ("changelog per user", f"{result['changelog_records_per_user']:.2f} records, "
                               f"{result['changelog_bytes_per_user']:,.0f} B"),
        ("changelog per SKU", f"{result['changelog_records_per_sku']:.2f} records, "
                              f"{result['changelog_bytes_per_sku']:,.0f} B"),
        ("recovery after SIGKILL", f"{result['recovery_s']:.1f} s (all of the probe "
                                   f"{result['recovery_probe_s']:.1f} s)"),
        ("takeover by survivors", f"{result.get('takeover_s', float('nan')):.1f} s"),
        ("full restore (no local state)", f"{result['full_restore_s']:.1f} s"),
        ("rebalance pause (worker joins)", f"{result['rebalance_pause_s'] or 0:.1f} s"),
        ("decisions identical", str(result["decisions_identical"])),
        ("large / small catalog", f"{result['large_vs_small_catalog']:.2f} "
                                  f"(per CPU-s {result['large_vs_small_catalog_per_cpu_s']:.2f})"),
    ]  # fmt: skip
    for target, workers in result["capacity"]["workers_for"].items():
        rows.append(
            (f"workers for {int(target):,} ev/s", ", ".join(f"{r} {n}" for r, n in sorted(workers.items())))
        )
    title = f"flashsale bench scale: {result['users']:,} users, {result['skus']:,} SKUs"
    return format_table(rows, f"{title}; {result['host']['cpu_cores']} cores")
