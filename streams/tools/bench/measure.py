"""Measuring consumption: end offsets, a raw aiokafka consumer, a consumer group's committed progress,
and a worker's own metrics.
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioPartition
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from tqdm import tqdm

from infra.errors import InfraError
from streams.runtime.admin import aiokafka_config, client_config
from streams.settings import Settings
from streams.tools.bench.common import rate

Ends = dict[TopicPartition, int]


def end_offsets(settings: Settings, topics: list[str]) -> Ends:
    """End offset of every partition of the contract ``topics`` in this namespace."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        names = [settings.topic(t) for t in topics]
        parts = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
        return dict(consumer.end_offsets(parts))
    finally:
        consumer.close()


@dataclass(frozen=True)
class Window:
    """Events consumed between two observations of progress, and the seconds between them.

    ``opened`` and ``closed`` hold the worker's metrics read at both ends, when asked for.
    """

    events: int
    seconds: float
    opened: dict[str, float] = field(default_factory=dict)
    closed: dict[str, float] = field(default_factory=dict)

    def delta(self, series: str) -> float:
        """How much a metric series grew inside the window."""
        return self.closed.get(series, 0.0) - self.opened.get(series, 0.0)

    @property
    def events_per_s(self) -> float:
        return rate(self.events, self.seconds)


async def _read_raw(settings: Settings, ends: Ends) -> Window:
    # The consumer settings Faust gives its own aiokafka consumer (faust/transport/drivers/aiokafka.py).
    consumer = AIOKafkaConsumer(
        **aiokafka_config(settings), group_id=None, enable_auto_commit=False,
        max_partition_fetch_bytes=1024**2, fetch_max_wait_ms=1500, check_crcs=True,
    )  # fmt: skip
    await consumer.start()
    try:
        parts = [AioPartition(tp.topic, tp.partition) for tp in ends]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        for tp in parts:
            await consumer.position(tp)
        total, count, consumed_bytes = sum(ends.values()), 0, 0
        started = time.perf_counter()
        while count < total:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                count += len(messages)
                consumed_bytes += sum(len(m.value or b"") for m in messages)  # touch every message
        return Window(count, time.perf_counter() - started)
    finally:
        await consumer.stop()


def raw_consumer_window(settings: Settings, ends: Ends) -> Window:
    """Read every partition in ``ends`` from the beginning to its end with a bare aiokafka consumer."""
    return asyncio.run(_read_raw(settings, ends))


def committed(admin: KafkaAdminClient, group: str, ends: Ends) -> int | None:
    """Events of ``ends`` that ``group`` has committed; None while its coordinator is not known yet."""
    try:
        offsets = admin.list_group_offsets({group: list(ends)}).get(group, {})
    except KafkaError:  # a fresh broker creates __consumer_offsets on the first group's first request
        return None
    return sum(min(max(o.offset, 0), ends[tp]) for tp, o in offsets.items() if tp in ends)


def group_window(
    settings: Settings,
    group: str,
    ends: Ends,
    started: Callable[[], bool],
    alive: Callable[[], None],
    desc: str,
    timeout_s: float = 1800,
    snapshot: Callable[[], dict[str, float]] = dict,
) -> Window:
    """Progress of ``group`` over ``ends``, from its first commit after ``started()`` to the last.

    Startup (process, group join, model load) is excluded: the window opens at the first commit
    observed after ``started()`` holds (or, if none came before the end, where ``started()`` was first
    seen), with the count committed then, and closes when every partition is committed to its end.
    Each end is a (time, committed, ``snapshot()``) triple read together; offsets are polled 10×/s.
    """
    total = sum(ends.values())
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-bench")
    bar = tqdm(total=total, desc=desc, unit="ev", file=sys.stderr, mininterval=0.5, leave=False)
    deadline = time.monotonic() + timeout_s
    baseline: tuple[float, int, dict[str, float]] | None = None
    opened: tuple[float, int, dict[str, float]] | None = None
    try:
        while True:
            alive()
            now, done = time.monotonic(), committed(admin, group, ends)
            if done is None:
                time.sleep(0.1)
                continue
            bar.update(done - bar.n)
            if baseline is None and started():
                baseline = (now, done, snapshot())
            elif baseline is not None and opened is None and done != baseline[1] and done < total:
                opened = (now, done, snapshot())
            if done >= total:
                start = opened or baseline
                if start is None or start[1] >= total:
                    raise InfraError(f"{desc}: all {total} events were done before timing began; bench more")
                return Window(total - start[1], now - start[0], start[2], snapshot())
            if now > deadline:
                raise InfraError(f"{desc}: only {done} of {total} events committed after {timeout_s:.0f} s")
            time.sleep(0.1)
    finally:
        bar.close()
        admin.close()


def scrape_metrics(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """A worker's Prometheus metrics, ``{'name{labels}': value}``; empty when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return parse_metrics(text)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format → ``{'name{labels}': value}``.

    >>> parse_metrics('# HELP x y\\nx_total{a="b"} 3.0\\ny 1e3\\n')
    {'x_total{a="b"}': 3.0, 'y': 1000.0}
    """
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out
