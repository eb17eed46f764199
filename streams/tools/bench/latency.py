"""Event → output latency: stamped events sent at a rate, their outputs noted as they arrive.

Each event carries its send time (Kafka timestamp and ``ts``); an output names its source event
(``source_event_id``), so its latency is its arrival here minus that send time. The first seconds
(``warmup_s``) are sent but not counted: a fresh worker's first batches pay one-off costs.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psutil
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from infra.errors import InfraError
from models.sim.market import SimEvent
from streams.contracts.topics import INPUT_TOPICS, RECOMMENDATIONS
from streams.runtime import heap
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.tools.bench.common import latency_summary
from streams.tools.bench.measure import committed, end_offsets
from streams.tools.bench.process import BenchProcess, CpuReading, cores_used
from streams.tools.bench.produce import Producer


class OutputWatcher(threading.Thread):
    """Reads a topic from its current end and notes when each message arrived (epoch s)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True, name=f"watch-{topic}")
        # The broker answers a fetch as soon as anything arrives: a longer wait only makes fewer empty
        # fetches (at 10 ms they took a tenth of a core of the two the bench shares with the worker).
        self.consumer = KafkaConsumer(
            **client_config(settings), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self.topic = topic
        name = settings.topic(topic)
        parts = [TopicPartition(name, p) for p in sorted(self.consumer.partitions_for_topic(name) or ())]
        self.consumer.assign(parts)
        self.consumer.seek_to_end()
        for tp in parts:  # resolve the end now, before anything is produced
            self.consumer.position(tp)
        self.arrivals: list[tuple[float, dict]] = []
        self.read_to: dict[TopicPartition, int] = {}  # next offset of each partition, once read
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for tp, records in self.consumer.poll(timeout_ms=50).items():
                arrived = time.time()
                self.arrivals += [(arrived, json.loads(r.value)) for r in records]
                self.read_to[tp] = records[-1].offset + 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        self.consumer.close()

    def latencies_ms(self, sent_at: dict[str, float], id_field: str = "source_event_id") -> list[float]:
        """Arrival minus send time of every output whose source event is in ``sent_at``."""
        return [
            (arrived - sent_at[value[id_field]]) * 1000
            for arrived, value in self.arrivals
            if value.get(id_field) in sent_at
        ]


def wait_outputs(watcher: OutputWatcher, settings: Settings, group: str, limit_s: float = 600) -> None:
    """Until ``group`` has committed every input sent (a worker commits an event only once its outputs
    are stored) and ``watcher`` has read its topic to where that topic then ended."""
    inputs = end_offsets(settings, list(INPUT_TOPICS))
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-bench")
    deadline = time.monotonic() + limit_s
    try:
        while (committed(admin, group, inputs) or 0) < sum(inputs.values()):
            if time.monotonic() > deadline:
                raise InfraError(f"group {group} did not commit what was sent within {limit_s:.0f} s")
            time.sleep(0.2)
    finally:
        admin.close()
    outputs = end_offsets(settings, [watcher.topic])
    while any(watcher.read_to.get(tp, 0) < end for tp, end in outputs.items()):
        if time.monotonic() > deadline:
            raise InfraError(f"{watcher.name}: did not read {watcher.topic} to its end in {limit_s:.0f} s")
        time.sleep(0.1)


def timed_outputs(
    producer: Producer,
    events: list[SimEvent],
    rate: float,
    warmup_s: float,
    latency_s: float,
    group: str,
    worker: BenchProcess | None = None,
) -> dict[str, Any]:
    """Send ``events`` stamped at ``rate``/s for ``warmup_s + latency_s``; latency of the later ones
    (all of whose outputs are in: ``group``, the worker's, has committed them), and with ``worker``
    the cores used while they were sent (:func:`~streams.tools.bench.process.cores_used`)."""
    watcher = OutputWatcher(producer.settings, RECOMMENDATIONS)
    heap.freeze("building the load")  # a full collection here paused sends and arrivals for 300 ms
    watcher.start()
    desc = f"latency at {rate:,.0f}/s"
    warmup = int(rate * warmup_s)
    producer.send_stamped(events[:warmup], rate, warmup_s, f"{desc}, warm-up")  # sent, not counted
    start = CpuReading.now(worker) if worker else None
    sent_at = producer.send_stamped(events[warmup:], rate, latency_s, desc)
    cores = cores_used(start, CpuReading.now(worker), psutil.cpu_count()) if worker and start else None
    wait_outputs(watcher, producer.settings, group)
    watcher.stop()
    result = {
        **latency_summary(watcher.latencies_ms(sent_at)),
        "latency_rate_per_s": round(rate, 1),
        "latency_sent_per_s": round(len(sent_at) / latency_s, 1),  # below the rate: the load fell behind
        "latency_events_counted": len(sent_at),
        "latency_warmup_s": warmup_s,
    }
    return result | ({"latency_cores": cores} if cores else {})
