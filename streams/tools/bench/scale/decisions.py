"""A bench run's decisions against the in-process reference: the per-SKU maths the workers run
(:class:`~models.policy.sku_state.SkuState` with :func:`~streams.skus.processor.sku_policy`) applied to
the same input in event-time order, with no worker, no Kafka and no crash in between. Whatever the
worker count, kills and restarts, the decisions in Postgres must carry the same ids and values.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from models.policy.sku_state import SkuState
from models.sim.evaluation import KIND_RANK
from models.sim.events import SimEvent, event_time
from streams.settings import Settings
from streams.sink.tables import tables_for
from streams.skus.processor import sku_policy

Decisions = dict[str, dict[str, Any]]  # event_id → the decision's fields
SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset", "created_at")


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """A decision as compared: without where it came from, its ``ts`` an aware UTC datetime."""
    ts = fields["ts"]
    ts = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return {**{k: v for k, v in fields.items() if k not in SOURCE_COLUMNS}, "ts": ts.astimezone(UTC)}


def reference(events: Iterable[SimEvent], settings: Settings) -> Decisions:
    """The decisions of one uninterrupted pass over ``events``, buckets closed up to the last event time
    less the allowed lateness (as far as the workers' watermark gets once the input ends)."""
    per_sku: dict[str, list[tuple[float, int, int, dict[str, Any]]]] = defaultdict(list)
    for n, (topic, _, value) in enumerate(events):
        if topic in KIND_RANK:
            per_sku[value["sku"]].append((event_time(value), KIND_RANK[topic], n, value))
    until = max(e[0] for sku_events in per_sku.values() for e in sku_events) - settings.allowed_lateness_s
    out: Decisions = {}
    for sku, sku_events in per_sku.items():
        state, taken = SkuState(sku, sku_policy(settings)), []
        for t, _, _, value in sorted(sku_events, key=lambda e: e[:3]):
            if t >= until:
                break
            if state.rejects(value) is None:
                taken += state.advance(t)
                state.apply(value, t)
        taken += state.advance(until)
        out.update({d.fields["event_id"]: normalise(d.fields) for d in taken})
    return out


def stored(settings: Settings) -> tuple[Decisions, int]:
    """The decisions in the namespace's Postgres tables, and how many rows repeat an id."""
    tables = tables_for(settings.db_schema)
    engine = sa.create_engine(settings.database_url.get_secret_value(), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for t in (tables.restock_events, tables.discount_adjustments)
                    for r in conn.execute(sa.select(t))]  # fmt: skip
    finally:
        engine.dispose()
    repeated = sum(n - 1 for n in Counter(r["event_id"] for r in rows).values())
    return {r["event_id"]: normalise(r) for r in rows}, repeated


def compare(expected: Decisions, got: Decisions, repeated: int) -> dict[str, Any]:
    """Counts of what matches; ``identical`` when every id is there once with the same values."""
    changed = sum(got[i] != expected[i] for i in set(got) & set(expected))
    missing, extra = len(set(expected) - set(got)), len(set(got) - set(expected))
    return {
        "identical": changed == missing == extra == repeated == 0, "expected": len(expected),
        "stored": len(got), "missing": missing, "changed": changed, "extra": extra, "repeated_rows": repeated,
    }  # fmt: skip


def wait_identical(
    settings: Settings, expected: Decisions, alive: Callable[[], None], timeout_s: float = 300
) -> dict[str, Any]:
    """Compare until the stored decisions match ``expected`` or ``timeout_s`` passes (the sink may still
    be writing the last ones); the last comparison."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive()
        result = compare(expected, *stored(settings))
        if result["identical"] or result["changed"] or result["extra"] or time.monotonic() > deadline:
            return result
        time.sleep(1.0)
