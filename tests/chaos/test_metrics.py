"""The operators' view of a running worker: Prometheus metrics on its web port (events in and out per
topic, dead letters, consumer lag, batch sizes, BERT latency, sink retries) and JSON log lines that
carry the topic, partition and offset of the event they are about.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.net import free_port
from streams.runtime.admin import ensure_topics
from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.driver import Fleet
from tests.chaos.workload import Message, Sale, publish

pytestmark = pytest.mark.chaos


def some_of_each_topic(sale: Sale, n: int = 40) -> list[Message]:
    """The first ``n`` messages of each input topic, searches among the clicks."""
    out: list[Message] = []
    for topic in ("catalog", "stock", "orders"):
        out += [m for m in sale.messages if m.topic == topic][:n]
    clicks = [m for m in sale.messages if m.topic == "clicks"]
    searches = [m for m in clicks if json.loads(m.value or b"{}")["action"] == "search"]
    return out + clicks[:n] + searches[:n]


@pytest.fixture
def busy_worker(
    sale: Sale, settings: Settings, start_worker: Callable, tmp_path: Path
) -> tuple[Settings, Fleet, list]:
    """A worker with JSON logs and Postgres down, fed good and bad input and one decision to sink."""
    settings = settings.model_copy(
        update={
            "log_format": "json",
            "database_url": f"postgresql+psycopg2://flashsale@127.0.0.1:{free_port()}/flashsale",
        }
    )
    ensure_topics(settings)
    good = some_of_each_topic(sale)
    decision = {
        "event_id": "d1", "sku": "s1", "quantity": 3, "on_hand": 1, "inbound": 0, "forecast_units": 2.5,
        "horizon_minutes": 15, "service_level": 0.95, "reason": "test",
        "ts": json.loads(good[0].value or b"{}")["updated_at"],
    }  # fmt: skip
    bad = [Message("orders", b"u1", b"{not json", good[0].ts), Message("stock", b"s1", b"\xff", good[0].ts)]
    placed = publish(
        settings, [*good, *bad, Message("restock", b"s1", json.dumps(decision).encode(), good[0].ts)]
    )
    return settings, Fleet(start_worker, settings, 1, tmp_path), placed[len(good) : len(good) + len(bad)]


def test_metrics_and_structured_logs(busy_worker: tuple[Settings, Fleet, list]) -> None:
    settings, fleet, bad = busy_worker
    topic = settings.topic
    wanted = {
        "events in per input topic": [
            f'flashsale_events_in_total{{topic="{topic(t)}"}}'
            for t in ("catalog", "clicks", "orders", "stock")
        ],
        "events out": [f'flashsale_events_out_total{{topic="{topic("sku-events")}"}}'],
        "dead letters": ["flashsale_dead_letters_total"],
        "batch sizes": ["flashsale_batch_size_count"],
        "consumer lag": [f'flashsale_consumer_lag{{partition="0",topic="{topic("clicks")}"}}'],
        "BERT latency": ["flashsale_bert_batch_seconds_count"],
        "sink retries": ['flashsale_sink_retries_total{table="restock_events"}'],
    }
    try:
        deadline, missing = time.monotonic() + 60, wanted
        while missing and time.monotonic() < deadline:
            time.sleep(1)
            try:
                samples = observe.scrape(fleet.metrics_url())
            except OSError as exc:  # urllib's HTTPError too
                missing = {"a /metrics page": [f"{fleet.metrics_url()}: {exc}"]}
                continue
            missing = {  # the lag gauge may well read 0; every other one must have counted something
                what: [
                    n for n in names if not (n in samples if "lag" in what else observe.total(samples, n) > 0)
                ]
                for what, names in wanted.items()
            }
            missing = {what: names for what, names in missing.items() if names}
        logs = fleet.logs()
    finally:
        fleet.kill_all()
    assert not missing, f"metrics missing or zero: {missing}"
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    about = {(e.get("topic"), e.get("partition"), e.get("offset")) for e in lines}
    for p in bad:
        assert (topic(p.message.topic), p.partition, p.offset) in about, f"no JSON log line about {p}"
