"""Replay, step 2: run the pipeline on a namespace's copied records and see when it has finished.

The worker is the ordinary ``flashsale worker`` (the same pipeline code), started as a child process
with the namespace's settings, so it has its own consumer group, topics and schema. A bounded input is
finished when the group has committed every partition it consumes (inputs, the internal ``sku-events``
and the two decision topics its Postgres sink reads) to its end, and those ends have stood still for
longer than a commit interval plus the idle-mark delay: the last marks close the last buckets, their
decisions reach the sink, and the sink commits only what Postgres has taken.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaAdminClient, TopicPartition

from streams.admin import client_config, committed
from streams.app import group_id
from streams.replay_copy import ReplayError, consumer_for
from streams.runlog import RunLog
from streams.settings import Settings
from streams.topics import GROUP_TOPICS, INPUT_TOPICS

# > Faust's commit interval (2.8 s) + the idle-mark delay (a fetch response and a 0.5-s timer tick after
# a source is caught up: about 1.5 s at most), with margin
SETTLE_S = 6.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM if the replay command dies, even by kill -9."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class WorkerProcess:
    """A ``python -m streams worker`` child process with exactly ``settings`` (no inherited FLASHSALE_*)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.log, self._ready = RunLog(log), False  # a resumed replay appends to its earlier log
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHSALE_")}
        env.update(settings.to_env(), PYTHONUNBUFFERED="1")
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the replay command, which stops the worker
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def ready(self) -> bool:
        """Whether the worker has started (Faust logged "Ready"); a one-line error once it has exited."""
        if self.proc.poll() is not None:
            last = self.log.last_line()[:300]
            raise ReplayError(f"worker exited ({self.proc.returncode}): {last} (log: {self.log})")
        self._ready = self._ready or self.log.has("]: Ready")
        return self._ready

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM (Faust shuts down cleanly and commits), then SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
    settle_s: float = SETTLE_S,
    stall_s: float = 300.0,
) -> None:
    """Block until the settings' group has processed everything in its topics (see module doc).

    ``progress(done, total)`` gets the input records processed. The quiet time only counts while
    ``ready()`` (the worker has started: a resumed worker may still have marks to send), which may
    raise to give up. Raises :class:`ReplayError` when nothing moved for ``stall_s``.
    """
    group = group_id(settings)
    inputs, every = watched_partitions(settings)
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-replay")
    consumer = consumer_for(settings)
    try:
        quiet: tuple[float, dict[TopicPartition, int]] | None = None
        last: tuple[float, object] = (time.monotonic(), None)
        while True:
            started = ready()
            ends = consumer.end_offsets(every)
            done = committed(admin, group, every)
            progress(sum(min(done[tp], ends[tp]) for tp in inputs), sum(ends[tp] for tp in inputs))
            now = time.monotonic()
            if started and all(done[tp] >= ends[tp] for tp in every):
                if quiet is None or quiet[1] != ends:
                    quiet = (now, ends)
                elif now - quiet[0] >= settle_s:
                    return
            else:
                quiet = None
            if (ends, done) != last[1]:
                last = (now, (ends, done))
            elif now - last[0] > stall_s:
                raise ReplayError(f"group {group} made no progress for {stall_s:.0f} s")
            time.sleep(0.5)
    finally:
        consumer.close()
        admin.close()
