"""Two workers on four partitions process the seeded sale while the chaos driver SIGKILLs a random
worker at random moments and restarts it. Afterwards, as Kafka's system tests check: the output set
equals the input's (per-SKU units sold in state = the orders' sum; the decision set in Postgres = an
uninterrupted run's) and nothing is there twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.driver import kill_through_run, start_run
from tests.chaos.workload import ChaosParams, Sale

pytestmark = pytest.mark.chaos


def test_sigkilled_workers_lose_and_duplicate_nothing(
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
    placed, ref, fleet = start_run(settings, sale.messages, start_worker, 2, tmp_path)
    kills = kill_through_run(settings, engine, chaos, fleet, placed, ref)
    figures(
        events=len(placed),
        units_sold=sum(ref.units.values()),
        decisions=ref.decision_count,
        kills=[json.loads(json.dumps(k.__dict__)) for k in kills],
        redelivered=observe.redeliveries(settings),
        seconds=round(time.monotonic() - began, 1),
    )
