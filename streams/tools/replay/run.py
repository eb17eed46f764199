"""Replay, step 2: run the pipeline on a namespace's copied records and see when it has finished.

The worker is the ordinary ``flashsale worker`` (the same pipeline code), started as a child process
with the namespace's settings, so it has its own consumer group, topics and schema. A bounded input is
finished when the worker says every source of every ``sku-events`` partition is marked idle (its
``flashsale_sku_sources_idle`` gauge, set once the batch that took the marks has stored all it led
to: the last buckets are closed and their decisions sent) and, after that, the group has committed
every partition it consumes (inputs, ``sku-events`` and the two decision topics its Postgres sink
reads) to its end: the sink commits only what Postgres has taken. No quiet period is waited out, so
a slow machine cannot make a replay stop early.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from kafka import KafkaAdminClient, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.app import group_id
from streams.contracts.topics import GROUP_TOPICS, INPUT_TOPICS
from streams.runtime.admin import client_config, committed
from streams.settings import Settings
from streams.tools.replay.copy import ReplayError, consumer_for


def watched_partitions(settings: Settings) -> tuple[list[TopicPartition], list[TopicPartition]]:
    """``(inputs, all)``: partitions the app's group consumes; decisions depend on all of them."""
    partitions = range(settings.topic_partitions)
    every = [TopicPartition(settings.topic(n), p) for n in GROUP_TOPICS for p in partitions]
    inputs = [tp for tp in every if tp.topic in {settings.topic(n) for n in INPUT_TOPICS}]
    return inputs, every


def wait_settled(
    settings: Settings,
    ready: Callable[[], bool] = lambda: True,
    progress: Callable[[int, int], None] = lambda done, total: None,
    stall_s: float = 300.0,
) -> None:
    """Block until the settings' group has processed everything in its topics (see module doc).

    ``progress(done, total)`` gets the input records processed. ``ready()`` says whether the worker
    has started and may raise to give up. Raises :class:`ReplayError` when nothing moved for
    ``stall_s``.
    """
    group = group_id(settings)
    inputs, every = watched_partitions(settings)
    partitions = set(range(settings.topic_partitions))
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-replay")
    consumer = consumer_for(settings)
    try:
        last: tuple[float, object] = (time.monotonic(), None)
        while True:
            idle = ready() and idle_partitions(settings) == partitions  # read before the ends it covers
            ends = consumer.end_offsets(every)
            done = committed(admin, group, every)
            progress(sum(min(done[tp], ends[tp]) for tp in inputs), sum(ends[tp] for tp in inputs))
            if idle and all(done[tp] >= ends[tp] for tp in every):
                return
            now = time.monotonic()
            if (ends, done) != last[1]:
                last = (now, (ends, done))
            elif now - last[0] > stall_s:
                raise ReplayError(f"group {group} made no progress for {stall_s:.0f} s")
            time.sleep(0.5)
    finally:
        consumer.close()
        admin.close()


def idle_partitions(settings: Settings) -> set[int]:
    """The ``sku-events`` partitions whose sources the worker has all marked idle (its ``/metrics``);
    none while it does not answer yet."""
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "") else settings.web_host
    try:
        with urllib.request.urlopen(f"http://{host}:{settings.web_port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:  # not serving yet (or any more)
        return set()
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(text)
        if family.name == "flashsale_sku_sources_idle"
        for sample in family.samples
        if sample.value == 1
    }
