"""The holdout experiment through one real worker: a simulated sale with half its campaign SKUs held
out gives, on ``experiment-results`` and in Postgres, exactly the estimates the in-process maths
computes on the same events — each once."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from streams.settings import Settings
from streams.tools.experiment import as_sent
from streams.tools.replay.run import wait_settled
from streams.tools.simulate import scenario, simulate

pytestmark = pytest.mark.e2e
SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset", "created_at")


def table_rows(url: str, schema: str, n: int, timeout: float = 120) -> list[dict[str, Any]]:
    """The experiment_results rows of ``schema``, once at least ``n`` are there."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                found = conn.execute(sa.text(f'SELECT * FROM "{schema}".experiment_results'))
                rows = [dict(r._mapping) for r in found]
            if len(rows) >= n or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)
    finally:
        engine.dispose()


def as_row(sent: dict[str, Any]) -> dict[str, Any]:
    return {**sent, "ts": datetime.fromisoformat(sent["ts"]).astimezone(UTC)}


def test_the_live_estimates_are_the_in_process_ones_once_each_on_the_topic_and_in_postgres(
    settings: Settings, db_schema: str, postgres_url: str, start_worker: Callable, read_topic: Callable
) -> None:
    s = settings.model_copy(update={"holdout_share": 0.5})
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    # A fixed campaign id: the split (5 of 12 SKUs held out) does not move with the start time.
    config = replace(scenario(seed=11, minutes=16, users=60, skus=12), start=start, campaign_id="e2e-sale")
    worker = start_worker(s)
    run = simulate(s, config, rate=None, closed_loop=False, progress=False)
    expected = {e["event_id"]: e for e in map(as_sent, run.experiment)}
    assert len(expected) == config.campaign_minutes  # every campaign minute has an estimate in process
    wait_settled(s, worker.ready)  # the group has consumed all it reads, the sink's topics included

    sent = [json.loads(r.value) for r in read_topic(s, "experiment-results").to_end()]
    assert Counter(r["event_id"] for r in sent) == Counter(expected.keys())  # once each, nothing else
    assert {r["event_id"]: r for r in sent} == expected  # the same numbers, to the last bit

    rows = table_rows(postgres_url, db_schema, len(expected))
    assert len(rows) == len(expected)
    stored = {r["event_id"]: {k: v for k, v in r.items() if k not in SOURCE_COLUMNS} for r in rows}
    assert stored == {i: as_row(e) for i, e in expected.items()}
    last = max(expected.values(), key=lambda e: e["ts"])
    assert last["n_treatment"] >= 2 and last["n_control"] >= 2 and "held-out SKUs" in last["reason"]
