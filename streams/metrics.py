"""Prometheus metrics of a worker, served on its web port at ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_IN = Counter("flashsale_events_in_total", "Events consumed", ["topic"])
EVENTS_OUT = Counter("flashsale_events_out_total", "Events published", ["topic"])
DEAD_LETTERS = Counter("flashsale_dead_letters_total", "Events sent to dead-letters", ["topic", "error"])
DUPLICATES = Counter(
    "flashsale_duplicates_total", "Re-sent events dropped: an event_id (or order_id) already applied",
    ["agent", "topic"],
)  # fmt: skip
STATE_REFUSED = Counter(
    "flashsale_state_refused_total", "Changelog values refused on recovery (not a readable state)", ["table"]
)
STATE_RESTORED = Counter(
    "flashsale_state_restored_total", "Changelog records applied to the tables on recovery", ["table"]
)
STATE_STANDBY = Counter(
    "flashsale_state_standby_total",
    "Changelog records applied to standby copies (kept ready for a takeover)", ["table"],
)  # fmt: skip
OVERSOLD_UNITS = Counter(
    "flashsale_oversold_units_total",
    "Units ordered beyond the stock last reported (counted as sold all the same)",
)
BERT_SECONDS = Histogram(
    "flashsale_bert_batch_seconds", "Wall time of one BERT encode of a batch of texts",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
BERT_TEXTS = Counter("flashsale_bert_texts_total", "Texts encoded by BERT (cache misses)")
CONSUMER_LAG = Gauge("flashsale_consumer_lag", "High watermark minus position", ["topic", "partition"])
SOURCES_IDLE = Gauge(
    "flashsale_sku_sources_idle",
    "1 once every source of a sku-events partition is marked idle, as of this worker's last batch of it",
    ["partition"],
)
BATCH_SIZE = Histogram(
    "flashsale_batch_size", "Events per processed batch", ["agent"], buckets=(1, 10, 50, 100, 250, 500, 1000)
)
COMMIT_STALLS = Counter(
    "flashsale_commit_stalls_total", "Partitions read again from their commit after it fell behind", ["topic"]
)
REBALANCE_SECONDS = Histogram(
    "flashsale_rebalance_seconds", "From a rebalance's start until the worker resumes (tables recovered)",
    buckets=(0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300),
)  # fmt: skip


class RebalanceTimer(faust.Sensor):
    """Times each rebalance until Faust resumes the streams, its tables restored (a takeover's recovery).

    A rebalance that starts again before the last one ended is timed from the later start.
    """

    def on_rebalance_start(self, app: Any) -> dict[str, float]:
        return {"started": time.monotonic()}

    def on_rebalance_end(self, app: Any, state: dict[str, float]) -> None:
        REBALANCE_SECONDS.observe(time.monotonic() - state["started"])


async def partition_lags(consumer: Any) -> dict[TP, int]:
    """High watermark minus read position of each partition ``consumer`` holds and can say it for."""
    lags = {}
    for tp in consumer.assignment():
        try:  # a partition revoked by a rebalance meanwhile has no position: skip it
            highwater, position = consumer.highwater(tp), await consumer.position(tp)
        except Exception:
            continue
        if highwater is not None and position is not None:
            lags[tp] = highwater - position
    return lags


def publish_lags(lags: Mapping[TP, int]) -> None:
    """Set the lag gauge to ``lags`` and drop partitions not in it: their new owner reports them, and a
    value left behind would be summed with its (and never fall)."""
    current = {(tp.topic, str(tp.partition)): lag for tp, lag in lags.items()}
    shown = {(s.labels["topic"], s.labels["partition"]) for m in CONSUMER_LAG.collect() for s in m.samples}
    for topic, partition in shown - current.keys():
        CONSUMER_LAG.remove(topic, partition)
    for (topic, partition), lag in current.items():
        CONSUMER_LAG.labels(topic=topic, partition=partition).set(lag)


def serve(app: faust.App) -> None:
    """Expose ``/metrics`` (Prometheus text format) on the worker's web port."""

    class MetricsView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            # aiohttp refuses a content_type with a charset: the header carries it instead
            return self.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.page("/metrics")(MetricsView)
    app.sensors.add(RebalanceTimer())

    @app.timer(interval=5.0)
    async def measure_lag() -> None:
        publish_lags(await partition_lags(app.consumer))
