"""A real worker process on the real broker: 1,000 orders in, 1,000 re-keyed orders out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from streams.runtime.admin import ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 11, 12, tzinfo=UTC)


def order(i: int) -> tuple[bytes, bytes, float]:
    ts = START + timedelta(seconds=i)
    value = {
        "event_id": f"e{i}", "order_id": f"o{i}", "user_id": f"u{i % 37}", "sku": f"sku-{i % 11}",
        "quantity": 1 + i % 3, "unit_price": 10.0, "ts": ts.isoformat(),
    }  # fmt: skip
    return f"u{i % 37}".encode(), json.dumps(value).encode(), ts.timestamp()


def listing(i: int) -> tuple[bytes, bytes, float]:
    """The catalog entry of ``sku-i``, an hour before the first order (unlisted SKUs are dead-lettered)."""
    ts = START - timedelta(hours=1)
    value = {"sku": f"sku-{i}", "title": f"speaker {i}", "category": "audio", "base_price": 10.0,
             "updated_at": ts.isoformat()}  # fmt: skip
    return f"sku-{i}".encode(), json.dumps(value).encode(), ts.timestamp()


def test_thousand_orders_flow_through_a_running_agent(
    settings: Settings, start_worker: Callable, produce: Callable, consume: Callable
) -> None:
    ensure_topics(settings)
    bad = [(b"u1", b"{broken", START.timestamp()), (b"u2", json.dumps({"quantity": -1}).encode(), 0.0)]
    produce(settings.topic("catalog"), [listing(i) for i in range(11)])
    produce(settings.topic("orders"), [order(i) for i in range(1000)] + bad)
    start_worker(settings)

    is_order = lambda r: dict(r.headers).get("kind") == b"order"  # noqa: E731 (marks are interleaved)
    forwarded = consume(settings.topic("sku-events"), 1000, where=is_order)
    assert len(forwarded) == 1000
    values = [json.loads(r.value) for r in forwarded]
    assert sorted(v["event_id"] for v in values) == sorted(f"e{i}" for i in range(1000))
    assert all(r.key.decode() == v["sku"] for r, v in zip(forwarded, values, strict=True))

    dead = consume(settings.topic("dead-letters"), 2)
    reasons = sorted(dict(r.headers)["error_message"].decode() for r in dead)
    assert len(dead) == 2 and any("not JSON" in r for r in reasons)
    assert all(dict(r.headers)["source_topic"] == settings.topic("orders").encode() for r in dead)
