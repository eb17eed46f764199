"""Prometheus metrics of a worker, served on its web port at ``/metrics``."""

from __future__ import annotations

import faust
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_IN = Counter("flashsale_events_in_total", "Events consumed", ["topic"])
EVENTS_OUT = Counter("flashsale_events_out_total", "Events published", ["topic"])
DEAD_LETTERS = Counter("flashsale_dead_letters_total", "Events sent to dead-letters", ["topic", "error"])
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


def serve(app: faust.App) -> None:
    """Expose ``/metrics`` (Prometheus text format) on the worker's web port."""

    class MetricsView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            # aiohttp refuses a content_type with a charset: the header carries it instead
            return self.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.page("/metrics")(MetricsView)

    @app.timer(interval=5.0)
    async def measure_lag() -> None:
        for tp in app.consumer.assignment():
            try:  # a partition revoked by a rebalance meanwhile has no position: skip it
                highwater, position = app.consumer.highwater(tp), await app.consumer.position(tp)
            except Exception:
                continue
            if highwater is not None and position is not None:
                CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(highwater - position)
