"""A 3-node Kafka (replication 3, min.insync.replicas 2) loses its busiest leader mid-run: the broker
leading the most input records is SIGKILLed once the workers have processed part of the sale, the sale
goes on on the other two, and the broker is restarted. Afterwards nothing is lost, nothing is in
Postgres twice, and the decisions (ids and values) equal the uninterrupted run's.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra.kafka_cluster import MIN_INSYNC, REPLICAS, KafkaCluster
from streams.settings import Settings
from tests.chaos import observe, replicas
from tests.chaos.driver import start_run
from tests.chaos.workload import ChaosParams, Sale

pytestmark = pytest.mark.chaos

CLUSTER_WAIT_S = 180  # bound on the cluster's own moves (a new leader, replicas catching up)


def test_killed_leader_loses_and_duplicates_nothing(
    chaos: ChaosParams,
    sale: Sale,
    kafka_cluster: KafkaCluster,
    cluster_settings: Settings,
    cluster_engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    settings, began = cluster_settings, time.monotonic()
    placed, ref, fleet = start_run(settings, sale.messages, start_worker, 2, tmp_path)
    point = random.Random(chaos.seed).uniform(0.1, 0.6)
    try:
        progress = functools.partial(observe.progress, settings, placed, ref)
        observe.wait_for(lambda: progress() >= point, chaos.timeout_s, "progress")
        topics = [*replicas.run_topics(settings), replicas.OFFSETS_TOPIC]
        check_replicated(settings, topics)
        victim, led_records = replicas.busiest_leader(settings, replicas.input_end_offsets(settings))
        led = replicas.led_by(settings, topics, victim)
        at_kill = progress()
        kafka_cluster.node(victim).kill()
        killed = time.monotonic()
        moved = replicas.unless_unreachable(lambda: replicas.leaders_moved(settings, led, victim))
        failover = observe.wait_for(moved, CLUSTER_WAIT_S, "new leaders", every_s=0.5)
        # The sale goes on with two of three brokers (a write needs two in sync): the run moves on.
        on_two = replicas.unless_unreachable(lambda: progress() > at_kill)
        observe.wait_for(on_two, chaos.timeout_s, "progress on 2 brokers")
        assert not fleet.dead(), fleet.dead()
        kafka_cluster.node(victim).start()
        down = time.monotonic() - killed
        caught_up = observe.wait_for(
            lambda: replicas.fully_in_sync(settings, topics), CLUSTER_WAIT_S, "replicas in sync", every_s=0.5
        )
        observe.wait_exact(settings, cluster_engine, ref, chaos.timeout_s, alive=fleet.dead)
    finally:
        fleet.kill_all()
    figures(
        events=len(placed),
        decisions=ref.decision_count,
        at_progress=round(at_kill, 2),
        killed_broker=victim,
        led_input_records=led_records,
        led_partitions=len(led),
        failover_s=round(failover, 1),
        down_s=round(down, 1),
        in_sync_after_restart_s=round(caught_up, 1),
        redelivered=observe.redeliveries(settings),
        seconds=round(time.monotonic() - began, 1),
    )


def check_replicated(settings: Settings, topics: list[str]) -> None:
    """Every partition of the run (Faust's changelogs and the group's offsets too) has 3 replicas, all
    in sync, and every topic of the run takes an ``acks=all`` write only on 2 of them."""
    placed = replicas.placements(settings, topics)
    assert {topic for topic, _ in placed} == set(topics)
    thin = {tp: p for tp, p in placed.items() if len(p.replicas) != REPLICAS or len(p.isr) != REPLICAS}
    assert not thin, f"partitions without {REPLICAS} replicas in sync: {thin}"
    isr = replicas.min_insync(settings, [t for t in topics if t != replicas.OFFSETS_TOPIC])
    assert set(isr.values()) == {MIN_INSYNC}, isr
