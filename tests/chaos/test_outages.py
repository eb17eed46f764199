"""Servers fail under running workers: Postgres goes down for a while, the broker is SIGKILLed and
restarted. Workers live through it, and the output set still equals the input's, with no duplicates.
These tests break a Kafka and a Postgres of their own (see ``own_stack``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from streams.contracts.topics import DISCOUNTS, RESTOCK, SKU_EVENTS
from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.driver import OwnStack, start_run
from tests.chaos.workload import ChaosParams, Sale

pytestmark = pytest.mark.chaos


def test_postgres_outage_is_waited_out(
    chaos: ChaosParams,
    sale: Sale,
    own_stack: OwnStack,
    own_settings: Settings,
    own_engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    placed, ref, fleet = start_run(own_settings, sale.messages, start_worker, 1, tmp_path)
    try:
        observe.wait_for(lambda: observe.topic_size(own_settings, [SKU_EVENTS]) > 0, 120, "forwarding")
        own_stack.postgres.kill()  # immediate shutdown, as a crash: open transactions are lost
        down = time.monotonic()
        # Down for the outage, and at least until every decision was published: all must be retried.
        observe.wait_for(
            lambda: observe.topic_size(own_settings, [RESTOCK, DISCOUNTS]) >= ref.decision_count,
            chaos.timeout_s,
            "decisions published while Postgres is down",
            every_s=0.5,
        )
        time.sleep(max(0.0, chaos.outage_s - (time.monotonic() - down)))
        retried = fleet.logs().count("postgres unavailable")  # the sink's warning per failed write
        assert not fleet.dead(), fleet.dead()
        own_stack.postgres.start()
        outage = time.monotonic() - down
        observe.wait_exact(own_settings, own_engine, ref, chaos.timeout_s, alive=fleet.dead)
    finally:
        fleet.kill_all()
        if not own_stack.postgres.is_running():  # failed mid-outage: the tests after this one need it
            own_stack.postgres.start()
    assert retried > 0, "the sink never noticed the outage"
    logs = fleet.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 :][:6000]
    figures(events=len(placed), decisions=ref.decision_count, outage_s=round(outage, 1), sink_retries=retried)


def test_broker_restart_is_ridden_out(
    chaos: ChaosParams,
    sale: Sale,
    own_stack: OwnStack,
    own_settings: Settings,
    own_engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    placed, ref, fleet = start_run(own_settings, sale.messages, start_worker, 2, tmp_path)
    point = random.Random(chaos.seed).uniform(0.1, 0.6)
    try:
        observe.wait_for(
            lambda: observe.progress(own_settings, placed, ref) >= point, chaos.timeout_s, "progress"
        )
        own_stack.kafka.kill()  # SIGKILL: the broker recovers its logs on start
        down = time.monotonic()
        time.sleep(chaos.outage_s)
        assert not fleet.dead(), fleet.dead()
        own_stack.kafka.start()
        outage = time.monotonic() - down
        observe.wait_exact(own_settings, own_engine, ref, chaos.timeout_s, alive=fleet.dead)
    finally:
        fleet.kill_all()
    figures(
        events=len(placed),
        decisions=ref.decision_count,
        at_progress=round(point, 2),
        outage_s=round(outage, 1),
    )
