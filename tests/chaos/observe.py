"""What a run produced — per-SKU status, decision rows and records, dead letters, consumer-group
progress — and the wait until it converges on the reference, with a readable diff when it does not.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from streams.app import group_id
from streams.contracts.topics import DISCOUNTS, INPUT_TOPICS, RESTOCK, SKU_EVENTS, SKU_STATUS
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.sink.tables import tables_for
from tests.chaos.workload import Placed, Reference, normalise

DECISION_TOPICS = {"restock": RESTOCK, "discount": DISCOUNTS}
SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset", "created_at")
GROUP_TOPICS = (*INPUT_TOPICS, SKU_EVENTS, RESTOCK, DISCOUNTS)  # what the consumer group reads


def read_topic(settings: Settings, name: str, timeout_s: float = 60) -> list[Any]:
    """Every record of contract topic ``name`` up to its current end, in partition/offset order."""
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topic(name)
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: could not read to its end in {timeout_s}s")
            for batch in consumer.poll(timeout_ms=200, max_records=5000).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def latest_status(settings: Settings) -> dict[str, dict[str, Any]]:
    """The last status each SKU published to the compacted ``sku-status`` topic."""
    return {r.key.decode(): json.loads(r.value) for r in read_topic(settings, SKU_STATUS) if r.value}


def decision_rows(engine: sa.Engine, schema: str) -> dict[str, list[dict[str, Any]]]:
    """All decision rows of ``schema``, per kind (duplicates, were there any, kept)."""
    tables = tables_for(schema)
    out = {}
    with engine.connect() as conn:
        for kind, table in (("restock", tables.restock_events), ("discount", tables.discount_adjustments)):
            out[kind] = [dict(r._mapping) for r in conn.execute(sa.select(table))]
    return out


def as_decisions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows (or topic values) by event_id, source columns dropped."""
    return {r["event_id"]: normalise({k: v for k, v in r.items() if k not in SOURCE_COLUMNS}) for r in rows}


def group_offsets(admin: Any, group: str, timeout_s: float = 60) -> dict[Any, Any]:
    """The group's committed offsets, asked again while its coordinator moves or loads (a broker restart)."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return admin.list_group_offsets(group).get(group, {})
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
            time.sleep(1)


def group_progress(settings: Settings) -> tuple[int, int]:
    """(lag, consumed input) of the app's consumer group: lag over every topic it reads."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(**client_config(settings))
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        group = group_id(settings)
        committed = group_offsets(admin, group)
        names = [settings.topic(t) for t in GROUP_TOPICS]
        tps = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
        ends = consumer.end_offsets(tps)
        done = {
            tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps
        }
        lag = sum(ends[tp] - done[tp] for tp in tps)
        inputs = {settings.topic(t) for t in INPUT_TOPICS}
        return lag, sum(done[tp] for tp in tps if tp.topic in inputs)
    finally:
        consumer.close()
        admin.close()


@dataclass
class Outcome:
    """One look at a run's results, compared with the reference."""

    status: dict[str, dict[str, Any]]
    rows: dict[str, list[dict[str, Any]]]
    lag: int
    problems: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)  # can never heal: an over-count or a duplicate

    @property
    def converged(self) -> bool:
        return not self.problems and not self.fatal and self.lag == 0


def compare(settings: Settings, engine: sa.Engine, ref: Reference) -> Outcome:
    """Look at the run once: per-SKU status, decision rows and group lag against ``ref``."""
    status, rows = latest_status(settings), decision_rows(engine, settings.db_schema)
    lag, _ = group_progress(settings)
    out = Outcome(status, rows, lag)
    for sku, units in sorted(ref.units.items()):
        seen = status.get(sku, {}).get("units_sold")
        if seen is not None and seen > units:
            out.fatal.append(f"{sku}: state counts {seen} units sold, the orders hold {units}")
        elif seen != units:
            out.problems.append(f"{sku}: state counts {seen} units sold, the orders hold {units}")
    for sku in sorted(set(status) - set(ref.units) - set(ref.status)):
        out.fatal.append(f"{sku}: a status for an SKU the input never sold: {status[sku]}")
    for kind, expected in ref.decisions.items():
        ids = Counter(r["event_id"] for r in rows[kind])
        out.fatal += [f"{kind} {i}: {n} rows" for i, n in ids.items() if n > 1]
        got = as_decisions(rows[kind])
        extra = sorted(set(got) - set(expected))
        out.fatal += [f"{kind} {i}: not in the uninterrupted run: {got[i]}" for i in extra[:5]]
        missing = sorted(set(expected) - set(got))
        if missing:
            out.problems.append(f"{kind}: {len(missing)} of {len(expected)} decisions not in Postgres yet")
        changed = [i for i in set(got) & set(expected) if got[i] != expected[i]]
        out.fatal += [f"{kind} {i}: {got[i]} != uninterrupted {expected[i]}" for i in sorted(changed)[:5]]
    return out


def wait_converged(
    settings: Settings,
    engine: sa.Engine,
    ref: Reference,
    timeout_s: float,
    alive: Callable[[], list[str]] = list,
) -> Outcome:
    """Poll until the run matches ``ref`` and its group has no lag; fail at once on what cannot heal.

    ``alive`` names problems with the processes (a worker that died) to fail on, too.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = compare(settings, engine, ref)
        dead = alive()
        if outcome.fatal or dead:
            raise AssertionError("\n".join(["results can no longer match:", *dead, *outcome.fatal[:20]]))
        if outcome.converged:
            return outcome
        if time.monotonic() > deadline:
            detail = [*outcome.problems[:20], f"consumer group lag {outcome.lag}"]
            raise AssertionError("\n".join([f"no convergence in {timeout_s:.0f}s:", *detail]))
        time.sleep(2)


def wait_exact(
    settings: Settings,
    engine: sa.Engine,
    ref: Reference,
    timeout_s: float,
    alive: Callable[[], list[str]] = list,
) -> None:
    """:func:`wait_converged`, then :func:`check_final`: the run ended exactly as ``ref`` says."""
    wait_converged(settings, engine, ref, timeout_s, alive)
    check_final(settings, engine, ref)


def check_final(
    settings: Settings, engine: sa.Engine, ref: Reference, settle_s: float = 4, drain_s: float = 60
) -> None:
    """After convergence and a pause: Postgres, the decision topics and the status equal the reference.

    Lag may show again meanwhile: a forwarder marks a source idle once a fetch confirms it caught up,
    seconds after the input ran out, and the group reads and commits those marks on its own time. It
    must drain within ``drain_s``; the results must not change."""
    time.sleep(settle_s)  # anything still in flight would show now
    outcome, deadline = compare(settings, engine, ref), time.monotonic() + drain_s
    while outcome.lag and not (outcome.problems or outcome.fatal) and time.monotonic() < deadline:
        time.sleep(1)
        outcome = compare(settings, engine, ref)
    assert outcome.converged, [*outcome.fatal, *outcome.problems, f"lag {outcome.lag}"]
    for kind, expected in ref.decisions.items():
        rows = outcome.rows[kind]
        assert len(rows) == len(expected), f"{kind}: {len(rows)} rows, {len(expected)} decisions"
        assert as_decisions(rows) == expected
        seen: dict[str, dict[str, Any]] = {}
        for record in read_topic(settings, DECISION_TOPICS[kind]):
            fields = normalise(json.loads(record.value))
            assert seen.setdefault(fields["event_id"], fields) == fields, f"one id, two decisions: {fields}"
        assert seen == expected, f"{kind} topic: {len(seen)} distinct decisions, {len(expected)} expected"
    for sku, status in ref.status.items():
        assert outcome.status.get(sku) == status, f"{sku}: status {outcome.status.get(sku)} != {status}"


def redeliveries(settings: Settings) -> dict[str, int]:
    """Records a run sent twice: events forwarded again (the per-SKU inbox drops them) and decisions
    published again (Postgres keeps one row per id)."""
    forwarded = Counter(
        (h["source"], h["source_offset"])
        for r in read_topic(settings, SKU_EVENTS)
        if (h := dict(r.headers)).get("kind") not in (b"mark", b"nudge")
    )
    out = {"sku_events": sum(n - 1 for n in forwarded.values())}
    for kind, topic in DECISION_TOPICS.items():
        ids = Counter(json.loads(r.value)["event_id"] for r in read_topic(settings, topic))
        out[kind] = sum(n - 1 for n in ids.values())
    return out


def progress(settings: Settings, placed: Sequence[Placed], ref: Reference) -> float:
    """How far a run is, 0..1: half the share of input committed, half the share of units counted.

    With the whole input published up front, the per-SKU state moves only once the watermark does,
    late in the run; this scale gives kills at random points of it a chance to land in both phases.
    """
    _, done = group_progress(settings)
    status = latest_status(settings)
    counted = sum(min(status.get(sku, {}).get("units_sold", 0), units) for sku, units in ref.units.items())
    return 0.5 * done / max(len(placed), 1) + 0.5 * counted / max(sum(ref.units.values()), 1)


def scrape(url: str) -> dict[str, float]:
    """A worker's Prometheus samples: ``name{label="v",…}`` → value (labels sorted)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def total(samples: dict[str, float], name: str) -> float:
    """Sum of ``name``'s samples over all label values."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def topic_size(settings: Settings, names: Sequence[str]) -> int:
    """Records in the contract topics ``names`` (sum of end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        tps = [
            TopicPartition(settings.topic(n), p)
            for n in names
            for p in consumer.partitions_for_topic(settings.topic(n)) or ()
        ]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> float:
    """Poll ``condition`` until it holds; the seconds that took. AssertionError after ``timeout_s``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s:.0f}s")
        time.sleep(every_s)
    return time.monotonic() - began
