"""A producer that retries re-sends a tenth of the sale's orders and clicks at later offsets. The copies
are dropped and counted: per-SKU units, status and decisions equal the run of the sale without them,
with one worker and with two workers SIGKILLed at random moments.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.driver import Fleet, kill_through_run
from tests.chaos.workload import ChaosParams, Message, Placed, Reference, Sale, publish, reference

pytestmark = pytest.mark.chaos
RESENT_SHARE = 0.1
RESENT_TOPICS = ("orders", "clicks")


def with_copies(messages: Sequence[Message], seed: int) -> tuple[list[Message], dict[int, int]]:
    """``messages`` with a tenth of their orders and clicks sent again, each 1 to 500 messages after its
    original (a retry after a timeout); returns the sequence and each copy's position → its original's."""
    rng = random.Random(seed)
    later: dict[int, list[int]] = {}
    for i, m in enumerate(messages):
        if m.topic in RESENT_TOPICS and rng.random() < RESENT_SHARE:
            later.setdefault(min(i + rng.randint(1, 500), len(messages) - 1), []).append(i)
    out: list[Message] = []
    position: dict[int, int] = {}  # input index → position in out
    copies: dict[int, int] = {}
    for i, m in enumerate(messages):
        position[i] = len(out)
        out.append(m)
        for original in later.get(i, []):
            copies[len(out)] = position[original]
            out.append(messages[original])
    return out, copies


def start(
    settings: Settings, sale: Sale, seed: int, start_worker: Callable, workers: int, logs: Path
) -> tuple[list[Placed], dict[int, int], Reference, Fleet]:
    """Publish the sale with its copies; the reference is the run of the sale without them."""
    from streams.runtime.admin import ensure_topics

    ensure_topics(settings)
    messages, copies = with_copies(sale.messages, seed)
    placed = publish(settings, messages)
    last: dict[tuple[str, int], int] = {}
    for p in placed:  # the premise: each partition holds its messages in the order they were sent
        assert p.offset > last.get((p.message.topic, p.partition), -1)
        last[p.message.topic, p.partition] = p.offset
    ref = reference([p for i, p in enumerate(placed) if i not in copies], settings)
    return placed, copies, ref, Fleet(start_worker, settings, workers, logs)


def copies_dead_lettered(settings: Settings, placed: Sequence[Placed], copies: dict[int, int]) -> list[str]:
    """Coordinates of copies that went to dead-letters (a copy is no bad input)."""
    at = {(settings.topic(placed[i].message.topic), placed[i].partition, placed[i].offset) for i in copies}
    out = []
    for record in observe.read_topic(settings, "dead-letters"):
        headers = {k: v.decode() for k, v in record.headers}
        where = (headers.get("source_topic"), int(headers.get("source_partition", -1)),
                 int(headers.get("source_offset", -1)))  # fmt: skip
        if where in at:
            out.append(f"{where}: {headers.get('error_class')} {headers.get('error_message')}")
    return out


def resent(placed: Sequence[Placed], copies: dict[int, int], topic: str) -> int:
    return sum(placed[i].message.topic == topic for i in copies)


def test_resent_orders_and_clicks_count_once(
    chaos: ChaosParams,
    sale: Sale,
    settings: Settings,
    db_schema: str,
    engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    began = time.monotonic()
    placed, copies, ref, fleet = start(settings, sale, chaos.seed, start_worker, 1, tmp_path)
    try:
        observe.wait_exact(settings, engine, ref, chaos.timeout_s, alive=fleet.dead)
        samples = observe.scrape(fleet.metrics_url())
    finally:
        fleet.kill_all()
    dropped = {k: v for k, v in samples.items() if k.startswith("flashsale_duplicates_total{")}
    orders, clicks = resent(placed, copies, "orders"), resent(placed, copies, "clicks")
    assert copies_dead_lettered(settings, placed, copies) == []
    assert dropped == {
        'flashsale_duplicates_total{agent="skus",topic="orders"}': orders,
        'flashsale_duplicates_total{agent="user-orders",topic="orders"}': orders,
        'flashsale_duplicates_total{agent="user-clicks",topic="clicks"}': clicks,
    }
    figures(events=len(placed), resent_orders=orders, resent_clicks=clicks, decisions=ref.decision_count,
            seconds=round(time.monotonic() - began, 1))  # fmt: skip


def test_resent_events_count_once_while_workers_are_killed(
    chaos: ChaosParams,
    sale: Sale,
    settings: Settings,
    db_schema: str,
    engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    began = time.monotonic()
    placed, copies, ref, fleet = start(settings, sale, chaos.seed + 1, start_worker, 2, tmp_path)
    kills = kill_through_run(settings, engine, chaos, fleet, placed, ref)
    assert copies_dead_lettered(settings, placed, copies) == []
    figures(events=len(placed), resent=len(copies), decisions=ref.decision_count,
            kills=[json.loads(json.dumps(k.__dict__)) for k in kills],
            seconds=round(time.monotonic() - began, 1))  # fmt: skip
