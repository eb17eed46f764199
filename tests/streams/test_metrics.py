"""Worker metrics the operators' dashboard and alerts read: consumer lag of the partitions held now,
and the time a rebalance (table recovery included) keeps the worker from processing."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.types import TP
from prometheus_client import REGISTRY

from streams.app import create_app
from streams.metrics import RebalanceTimer, partition_lags, publish_lags
from streams.settings import Settings

ORDERS0, ORDERS1 = TP("orders", 0), TP("orders", 1)


def lag(tp: TP) -> float | None:
    return REGISTRY.get_sample_value(
        "flashsale_consumer_lag", {"topic": tp.topic, "partition": str(tp.partition)}
    )


class HeldPartitions:
    """A consumer holding ``positions``; ``orders[1]`` was revoked meanwhile and has no position."""

    def __init__(self, highwaters: dict[TP, int], positions: dict[TP, int]) -> None:
        self.highwaters, self.positions = highwaters, positions

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int:
        return self.highwaters[tp]

    async def position(self, tp: TP) -> int:
        return self.positions[tp]  # KeyError: no position


async def test_lag_is_measured_for_the_partitions_with_a_position() -> None:
    consumer = HeldPartitions({ORDERS0: 120, ORDERS1: 50}, {ORDERS0: 100})
    assert await partition_lags(consumer) == {ORDERS0: 20}


def test_a_partition_no_longer_held_leaves_the_lag_gauge() -> None:
    publish_lags({ORDERS0: 20, ORDERS1: 7})
    publish_lags({ORDERS0: 3})  # a rebalance gave orders[1] to another worker
    assert (lag(ORDERS0), lag(ORDERS1)) == (3.0, None)


def test_a_rebalance_is_timed_until_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 112.5])
    monkeypatch.setattr("streams.metrics.time.monotonic", lambda: next(clock))
    count, total = (
        REGISTRY.get_sample_value(f"flashsale_rebalance_seconds_{s}") or 0.0 for s in ("count", "sum")
    )
    timer = RebalanceTimer()
    timer.on_rebalance_end(None, timer.on_rebalance_start(None))
    assert REGISTRY.get_sample_value("flashsale_rebalance_seconds_count") == count + 1
    assert REGISTRY.get_sample_value("flashsale_rebalance_seconds_sum") == total + 12.5


def test_every_app_times_its_rebalances(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path)).app
    assert any(isinstance(sensor, RebalanceTimer) for sensor in app.sensors)
