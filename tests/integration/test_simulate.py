"""The simulator's Kafka side on the real broker: what is published is what the market made, exactly."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest

from models.sim.evaluation import AdaptivePolicy
from models.sim.market import FlashSaleMarket, SimEvent, timestamp_ms
from models.sim.policies import run_policy
from models.sim.twin import run_twin
from streams.settings import Settings
from streams.skus.processor import sku_policy
from streams.tools.simulate import scenario, simulate

pytestmark = pytest.mark.integration
SMALL = scenario(seed=5, minutes=12, users=80, skus=5)
TOPICS = ("catalog", "clicks", "orders", "stock")


def canonical(value: dict) -> str:
    return json.dumps(value, sort_keys=True)


def market_events() -> list[SimEvent]:
    market = FlashSaleMarket(SMALL)
    return market.initial_events() + market.step(SMALL.duration_minutes)


def test_a_seeded_sale_is_read_back_identically(settings: Settings, consume: Callable[..., list]) -> None:
    run = simulate(settings, SMALL, rate=None, closed_loop=False, progress=False)
    expected = market_events()  # the same seed, generated again: the same events
    assert run.published == Counter(e.topic for e in expected)
    for topic in TOPICS:
        sent = [e for e in expected if e.topic == topic]
        records = consume(settings.topic(topic), len(sent))
        assert len(records) == len(sent)
        got = sorted((r.key.decode(), r.timestamp, canonical(json.loads(r.value))) for r in records)
        want = sorted((e.key, timestamp_ms(e), canonical(e.value)) for e in sent)
        assert got == want  # same keys, values (event_ids included) and Kafka timestamps = event times
        by_key: dict[bytes, list[int]] = {}
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            by_key.setdefault(r.key, []).append(r.timestamp)
        assert all(ts == sorted(ts) for ts in by_key.values())  # each key's events in event-time order


def test_same_seed_gives_the_same_event_ids() -> None:
    first, second = market_events(), market_events()
    assert [e.value.get("event_id") for e in first] == [e.value.get("event_id") for e in second]
    assert first == second


def test_closed_loop_applies_the_workers_decisions(settings: Settings, start_worker: Callable) -> None:
    start_worker(settings)
    run = simulate(settings, SMALL, rate=None, closed_loop=True, wait_s=60, progress=False)
    # Every decision the per-SKU maths takes in process on the published events came through Kafka
    # (the last minute's excepted: no later event moves the worker's watermark past it), and no other.
    assert run.expected > 0 and run.missing == 0
    assert set(run.decisions) == run.in_process
    assert run.applied["restock"] + run.applied["discount-adjustments"] == len(run.decisions)
    # Its twin (the in-process adaptive run shown the same lists at the same minutes) is the same run.
    twin = run_twin(SMALL, sku_policy(settings), run.applied_lists)
    assert run.ledger.summary() == twin.summary()
    if not run.shown:  # no recommendations changed the market: it is exactly the in-process adaptive run
        in_process = run_policy(SMALL, AdaptivePolicy(sku_policy(settings), lag_minutes=1))
        assert run.ledger.summary() == in_process.summary()
