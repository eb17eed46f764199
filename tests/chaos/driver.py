"""The chaos driver: a fleet of worker processes, and a thread that SIGKILLs a random one at random
moments of the run and restarts it, as Kafka's own system tests bounce their services.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from infra.net import free_port
from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.workload import ChaosParams, Message, Placed, Reference, publish, reference

StartWorker = Callable[[Settings], Any]  # tests/conftest.py's ``start_worker``: a ready WorkerProcess


@dataclass
class OwnStack:
    """A Kafka and a Postgres that a test may stop, kill and restart."""

    kafka: Any  # infra.kafka.KafkaServer
    postgres: Any  # infra.postgres.PostgresServer


class Fleet:
    """``n`` workers of one consumer group, each with its own web port and data dir."""

    def __init__(self, start: StartWorker, settings: Settings, n: int, root: Path) -> None:
        self.start = start
        self.settings = [
            settings.model_copy(update={"web_port": free_port(), "data_dir": root / f"worker{i}"})
            for i in range(n)
        ]
        # One after the other: start_worker names each log by the count of workers started so far.
        self.workers = [start(s) for s in self.settings]
        self.expected_exits = 0

    def metrics_url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.settings[i].web_port}/metrics"

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i``, as a crash would, and reap it."""
        proc = self.workers[i].proc
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def restart(self, i: int) -> None:
        self.workers[i] = self.start(self.settings[i])

    def dead(self) -> list[str]:
        """Workers that exited on their own, with the end of their log."""
        out = []
        for w in self.workers:
            if w.proc.poll() is not None:
                tail = w.log.text()[-2000:]
                out.append(f"worker {w.proc.pid} exited {w.proc.returncode}; log ends:\n{tail}")
        return out

    def logs(self) -> str:
        """Everything every worker of this fleet logged (restarted ones included)."""
        root = self.workers[0].log.path.parent
        return "".join(p.read_text(errors="replace") for p in sorted(root.glob("worker-*.log")))

    def kill_all(self) -> None:
        """End the run: SIGKILL every worker (a graceful stop is not what is tested here)."""
        for i, w in enumerate(self.workers):
            if w.proc.poll() is None:
                self.kill(i)


@dataclass
class Kill:
    worker: int
    progress: float  # share of the input the group had committed when the worker was killed
    down_s: float  # how long it stayed down before its restart began
    restart_s: float  # until it was ready again


class ChaosDriver(threading.Thread):
    """Kills a random worker of ``fleet`` ``kills`` times, each when the run's ``progress`` (0..1)
    passes a random point of its own stretch of the run (plus up to 0.3 s), and restarts it after a
    random pause; exceptions are kept for the test to raise.

    There is no deadline on the run as a whole: a loaded machine makes it slower, not shorter of
    kills. It stops killing only when progress stands still for ``stall_s``, longer than the longest
    standstill the design allows (a commit stall is re-read after ``commit_stall_s``, looked for every
    15 s, plus a restart), so the test's own checks say what is stuck.
    """

    def __init__(self, fleet: Fleet, progress: Callable[[], float], kills: int, seed: int) -> None:
        super().__init__(name="chaos-driver", daemon=True)
        self.fleet, self.progress, self.kills, self.seed = fleet, progress, kills, seed
        self.stall_s = 2 * fleet.settings[0].commit_stall_s + 60
        self.done: list[Kill] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(self.seed)
        width = 0.9 / self.kills  # one kill in each of ``kills`` equal stretches of the run
        points = [0.05 + width * (k + rng.random()) for k in range(self.kills)]
        try:
            for point in points:
                seen = self.reach(point)
                if seen < point:
                    return  # stuck: the test's own checks say why
                time.sleep(rng.uniform(0, 0.3))
                victim = rng.randrange(len(self.fleet.workers))
                self.fleet.kill(victim)
                down = rng.uniform(0, 3)
                time.sleep(down)
                began = time.monotonic()
                self.fleet.restart(victim)
                self.done.append(
                    Kill(victim, round(seen, 3), round(down, 2), round(time.monotonic() - began, 1))
                )
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def reach(self, point: float) -> float:
        """Wait until progress passes ``point`` or stands still for ``stall_s``; the progress then."""
        seen, moved = self.progress(), time.monotonic()
        while seen < point and time.monotonic() < moved + self.stall_s:
            time.sleep(0.1)
            if (now := self.progress()) != seen:
                seen, moved = now, time.monotonic()
        return seen

    def finish(self) -> list[Kill]:
        """Wait for every kill and restart; the kills done."""
        self.join()  # bounded: progress moves towards 1, or stands still for ``stall_s``
        if self.error is not None:
            raise self.error
        return self.done


def kill_through_run(
    settings: Settings, engine: sa.Engine, params: ChaosParams, fleet: Fleet, placed: Sequence[Placed],
    ref: Reference,
) -> list[Kill]:  # fmt: skip
    """SIGKILL workers of ``fleet`` ``params.kills`` times through the run (:class:`ChaosDriver`), then
    wait until the run ends exactly as ``ref`` says; the fleet is gone afterwards. The kills done."""
    driver = ChaosDriver(fleet, lambda: observe.progress(settings, placed, ref), params.kills, params.seed)
    driver.start()
    try:
        kills = driver.finish()
        observe.wait_exact(settings, engine, ref, params.timeout_s, alive=fleet.dead)
    finally:
        fleet.kill_all()
    assert len(kills) == params.kills, f"only {len(kills)} kills: the run stalled before the others"
    return kills


def start_run(
    settings: Settings, messages: Sequence[Message], start_worker: Callable, workers: int, logs: Path
) -> tuple[list[Placed], Reference, Fleet]:
    """Create the topics, publish ``messages``, compute the reference, start ``workers`` workers."""
    from streams.runtime.admin import ensure_topics

    ensure_topics(settings)
    placed = publish(settings, messages)
    return placed, reference(placed, settings), Fleet(start_worker, settings, workers, logs)
