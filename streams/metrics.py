"""Prometheus metrics of a worker, served on its web port at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_IN = Counter("flashsale_events_in_total", "Events consumed", ["topic"])
EVENTS_OUT = Counter("flashsale_events_out_total", "Events published", ["topic"])
DEAD_LETTERS = Counter("flashsale_dead_letters_total", "Events sent to dead-letters", ["topic", "error"])
BATCH_SIZE = Histogram(
    "flashsale_batch_size", "Events per processed batch", ["agent"], buckets=(1, 10, 50, 100, 250, 500, 1000)
)
