"""``flashsale replay compare A B``: how two runs' decisions differ; each side a namespace or ``live``.

Decisions are read from each side's Postgres schema and matched by their deterministic ``event_id``:
the same id with the same values is *same*, with other values *changed*, on one side only *only*.
Per SKU it sums restock quantities and follows the discount; recommendations are the latest per user
on each side's topic, compared by overlap@k = |top-k of A ∩ top-k of B| / the longer of the two lists.
Both sides are cut to one event-time window: ``--from/--to`` if given, else the replayed range(s).

>>> overlap_at_k(["a", "b", "c"], ["c", "a", "d"], k=2)
0.5
>>> overlap_at_k([], [], k=10)
1.0
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kafka import TopicPartition

from streams.contracts.topics import RECOMMENDATIONS
from streams.settings import Settings
from streams.sink.agents import create_engine
from streams.sink.tables import tables_for
from streams.tools.replay.copy import Manifest, ReplayError, consumer_for, epoch_ms, read, read_manifest

KINDS = {"restock": "restock_events", "discount": "discount_adjustments"}
SOURCE_COLUMNS = {"source_topic", "source_partition", "source_offset", "created_at"}
Window = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Side:
    """One run: where its decisions (schema) and recommendations (topic prefix) are."""

    label: str
    prefix: str
    schema: str
    manifest: Manifest | None

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name


def side(live: Settings, name: str) -> Side:
    """``live`` (the settings' own namespace and schema) or a replay namespace, which must exist."""
    if name == "live":
        return Side("live", live.topic_prefix, live.db_schema, None)
    engine = create_engine(live)
    try:
        with engine.connect() as conn:
            found = sa.inspect(conn).has_table(KINDS["restock"], schema=name)
    finally:
        engine.dispose()
    if not found:
        raise ReplayError(f"unknown namespace {name!r}: no decision tables in schema {name!r}")
    return Side(name, name, name, read_manifest(live, name))


def window_of(a: Side, b: Side, from_ts: datetime | None, to_ts: datetime | None) -> Window:
    """The explicit window, else the intersection of the sides' replayed ranges (None: unbounded)."""
    ranges = [m for m in (a.manifest, b.manifest) if m is not None]
    starts = [datetime.fromisoformat(m.from_ts) for m in ranges]
    ends = [datetime.fromisoformat(m.to_ts) for m in ranges]
    return from_ts or (max(starts) if starts else None), to_ts or (min(ends) if ends else None)


def decisions(live: Settings, schema: str, window: Window) -> dict[str, dict[str, dict[str, Any]]]:
    """``{kind: {event_id: values}}`` of the schema's decisions with ``ts`` in the window."""
    tables = tables_for(schema)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    engine = create_engine(live)
    try:
        with engine.connect() as conn:
            for kind, name in KINDS.items():
                table = tables.metadata.tables[f"{schema}.{name}"]
                query = sa.select(table).order_by(table.c.ts, table.c.event_id)
                if window[0] is not None:
                    query = query.where(table.c.ts >= window[0])
                if window[1] is not None:
                    query = query.where(table.c.ts < window[1])
                rows = (dict(r._mapping) for r in conn.execute(query))
                out[kind] = {r["event_id"]: strip_source(r) for r in rows}
    finally:
        engine.dispose()
    return out


def strip_source(row: dict[str, Any]) -> dict[str, Any]:
    """A decision's values: its row less where it was consumed from and when it landed."""
    return {k: v for k, v in row.items() if k not in SOURCE_COLUMNS}


def latest_recommendations(live: Settings, topic: str, window: Window) -> dict[str, list[str]]:
    """Each user's latest recommended SKUs on ``topic`` (by event time, then offset) in the window."""
    consumer = consumer_for(live)
    latest: dict[str, tuple[int, int, list[str]]] = {}
    lo, hi = (epoch_ms(t) if t else None for t in window)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        for tp in tps:
            for r in read(consumer, tp, begins[tp], ends[tp]):
                if (lo is not None and r.timestamp < lo) or (hi is not None and r.timestamp >= hi):
                    continue
                value = json.loads(r.value)
                if latest.get(value["user_id"], (-1, -1))[:2] < (r.timestamp, r.offset):
                    latest[value["user_id"]] = (r.timestamp, r.offset, [i["sku"] for i in value["items"]])
    finally:
        consumer.close()
    return {user: skus for user, (_, _, skus) in latest.items()}


def overlap_at_k(a: list[str], b: list[str], k: int) -> float:
    """Shared SKUs of the two top-k lists over the longer list's length (1.0 when both are empty)."""
    top_a, top_b = a[:k], b[:k]
    longest = max(len(top_a), len(top_b))
    return len(set(top_a) & set(top_b)) / longest if longest else 1.0


def count_differences(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, int]:
    shared = a.keys() & b.keys()
    same = sum(a[i] == b[i] for i in shared)
    return {
        "a": len(a), "b": len(b), "same": same, "changed": len(shared) - same,
        "only_a": len(a.keys() - b.keys()), "only_b": len(b.keys() - a.keys()),
    }  # fmt: skip


def per_sku(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Restock: count and total quantity per SKU; discount: count and final discount per SKU."""
    stats: dict[str, dict[str, Any]] = defaultdict(dict)
    for label, rows in (("a", a), ("b", b)):
        for row in rows.values():  # in ts order: the last discount seen is the final one
            s = stats[row["sku"]]
            s[f"{label}_count"] = s.get(f"{label}_count", 0) + 1
            if kind == "restock":
                s[f"{label}_quantity"] = s.get(f"{label}_quantity", 0) + row["quantity"]
            else:
                s[f"{label}_final"] = row["new_discount"]
    out = []
    for sku in sorted(stats):
        s = {"sku": sku, "a_count": 0, "b_count": 0, **stats[sku]}
        value = "quantity" if kind == "restock" else "final"
        default = 0 if kind == "restock" else None
        s.setdefault(f"a_{value}", default), s.setdefault(f"b_{value}", default)
        a_v, b_v = s[f"a_{value}"], s[f"b_{value}"]
        s["diff"] = round(b_v - a_v, 6) if a_v is not None and b_v is not None else None
        out.append(s)
    return out


def compare(live: Settings, a_name: str, b_name: str, window: Window = (None, None), k: int = 10) -> dict:
    """The comparison report (JSON-ready) of runs ``a_name`` and ``b_name``."""
    a, b = side(live, a_name), side(live, b_name)
    win = window_of(a, b, *window)
    da, db = decisions(live, a.schema, win), decisions(live, b.schema, win)
    ra = latest_recommendations(live, a.topic(RECOMMENDATIONS), win)
    rb = latest_recommendations(live, b.topic(RECOMMENDATIONS), win)
    both = sorted(ra.keys() & rb.keys())
    overlaps = [overlap_at_k(ra[u], rb[u], k) for u in both]
    return {
        "a": a.label, "b": b.label,
        "window": {"from": win[0] and win[0].isoformat(), "to": win[1] and win[1].isoformat()},
        "decisions": {kind: count_differences(da[kind], db[kind]) for kind in KINDS},
        "restock_by_sku": per_sku(da["restock"], db["restock"], "restock"),
        "discount_by_sku": per_sku(da["discount"], db["discount"], "discount"),
        "recommendations": {
            "k": k, "users_a": len(ra), "users_b": len(rb), "users_both": len(both),
            "overlap_at_k": round(sum(overlaps) / len(overlaps), 6) if overlaps else None,
            "identical_users": sum(ra[u][:k] == rb[u][:k] for u in both),
        },
    }  # fmt: skip


def format_report(report: dict, rows: int = 20) -> list[str]:
    """The report as text tables; per-SKU tables list only SKUs that differ (at most ``rows``)."""
    a, b = report["a"], report["b"]
    w = report["window"]
    lines = [f"compare {a} → {b}   event time {w['from'] or '-∞'} … {w['to'] or '∞'}", ""]
    lines.append(_row("decisions", a, b, "same", "changed", f"only {a}", f"only {b}"))
    for kind, c in report["decisions"].items():
        lines.append(_row(kind, c["a"], c["b"], c["same"], c["changed"], c["only_a"], c["only_b"]))
    for title, key, value in (
        ("restock quantity by SKU", "restock_by_sku", "quantity"),
        ("final discount by SKU", "discount_by_sku", "final"),
    ):
        differ = [
            s for s in report[key] if (s[f"a_{value}"], s["a_count"]) != (s[f"b_{value}"], s["b_count"])
        ]
        lines += ["", f"{title}: {len(differ)} of {len(report[key])} SKUs differ"]
        if differ:
            lines.append(f"  {'sku':<24}{'n ' + a:>12}{'n ' + b:>12}{a:>12}{b:>12}{'diff':>10}")
        for s in differ[:rows]:
            va, vb, diff = (_cell(s[f"a_{value}"]), _cell(s[f"b_{value}"]), _cell(s["diff"]))
            lines.append(f"  {s['sku']:<24}{s['a_count']:>12}{s['b_count']:>12}{va:>12}{vb:>12}{diff:>10}")
    r = report["recommendations"]
    overlap = "-" if r["overlap_at_k"] is None else f"{r['overlap_at_k']:.3f}"
    lines += [
        "",
        f"recommendations: users {a} {r['users_a']}, {b} {r['users_b']}, both {r['users_both']}; "
        f"overlap@{r['k']} {overlap}; identical top-{r['k']} for {r['identical_users']} users",
    ]
    return lines


def _row(*cells: Any) -> str:
    first, *rest = (str(c) for c in cells)
    return f"{first:<10}" + "".join(f"{c:>{max(len(c) + 2, 10)}}" for c in rest)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
