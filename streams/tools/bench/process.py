"""A worker process under test: the common launcher (:mod:`streams.tools.process`), RSS sampled."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from streams.settings import Settings
from streams.tools.process import Child

# Faust commits acked offsets on a timer (2.8 s by default). The benches read progress from committed
# offsets, so both Faust workers commit every 0.2 s: a finer clock, the same for both.
COMMIT_INTERVAL_S = 0.2


class RssSampler(threading.Thread):
    """Samples a process's resident memory (children included) until stopped; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True, name=f"rss-{pid}")
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                return  # the process ended

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)


class BenchProcess(Child):
    """``python -m <module> [args]`` with ``settings``, committing every ``COMMIT_INTERVAL_S``, its peak
    resident memory sampled."""

    def __init__(self, settings: Settings, log: Path, args: list[str]) -> None:
        super().__init__(
            settings,
            log,
            ["-m", *args],
            env={"BROKER_COMMIT_INTERVAL": str(COMMIT_INTERVAL_S)},
            die_with_parent=True,  # a bench stopped by a signal leaves no worker behind
        )
        self.rss = RssSampler(self.pid)
        self.rss.start()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far."""
        try:
            process = psutil.Process(self.pid)
            return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])
        except psutil.Error:
            return 0.0

    @property
    def peak_rss_mb(self) -> float:
        return self.rss.peak_bytes / 2**20

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
        self.rss.stop()
        super().stop(sig, timeout_s)


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds so far: the whole machine's busy time (all cores), a worker's (children included) and
    this process's own (the bench: its producer and output watcher), at ``t`` (monotonic seconds)."""

    t: float
    machine_busy_s: float
    worker_s: float
    bench_s: float

    @classmethod
    def now(cls, worker: BenchProcess) -> CpuReading:
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        own = psutil.Process(os.getpid()).cpu_times()
        return cls(time.monotonic(), busy, worker.cpu_seconds(), own.user + own.system)


def cores_used(start: CpuReading, end: CpuReading, cores: int) -> dict[str, float]:
    """Cores busy on average between two readings: in all, by the worker, by the bench's load, and by
    everything else (the broker, Postgres, other processes)."""
    seconds = end.t - start.t
    if seconds <= 0:
        raise ValueError("the second reading must come later")
    busy, worker, bench = (
        (end.machine_busy_s - start.machine_busy_s) / seconds,
        (end.worker_s - start.worker_s) / seconds,
        (end.bench_s - start.bench_s) / seconds,
    )  # fmt: skip
    return {
        "cores": cores,
        "busy_cores": round(busy, 2),
        "worker_cores": round(worker, 2),
        "bench_load_cores": round(bench, 2),
        "other_cores": round(max(busy - worker - bench, 0.0), 2),
    }
