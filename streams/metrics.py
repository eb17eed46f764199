"""Prometheus metrics of a worker, served on its web port at ``/metrics``."""

from __future__ import annotations

import faust
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

EVENTS_IN = Counter("flashsale_events_in_total", "Events consumed", ["topic"])
EVENTS_OUT = Counter("flashsale_events_out_total", "Events published", ["topic"])
DEAD_LETTERS = Counter("flashsale_dead_letters_total", "Events sent to dead-letters", ["topic", "error"])
BATCH_SIZE = Histogram(
    "flashsale_batch_size", "Events per processed batch", ["agent"], buckets=(1, 10, 50, 100, 250, 500, 1000)
)


def serve(app: faust.App) -> None:
    """Expose ``/metrics`` (Prometheus text format) on the worker's web port."""

    class MetricsView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    app.page("/metrics")(MetricsView)
