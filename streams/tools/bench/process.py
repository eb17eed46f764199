"""A worker process under test: started with bench settings, watched through its log, RSS sampled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from infra.errors import InfraError
from streams.settings import Settings
from streams.tools.runlog import RunLog

ROOT = Path(__file__).resolve().parents[3]  # the checkout: children run from it
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


class BenchProcess:
    """``python -m <module> [args]`` with ``settings`` in its environment, its output in ``log``."""

    def __init__(self, settings: Settings, log: Path, args: list[str]) -> None:
        self.log = RunLog(log)
        env = {
            **os.environ,
            **settings.to_env(),
            "PYTHONUNBUFFERED": "1",
            "BROKER_COMMIT_INTERVAL": str(COMMIT_INTERVAL_S),
        }
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.rss = RssSampler(self.proc.pid)
        self.rss.start()

    @property
    def peak_rss_mb(self) -> float:
        return self.rss.peak_bytes / 2**20

    def has_logged(self, marker: str) -> bool:
        return self.log.has(marker)

    def check_alive(self) -> None:
        """Raise with the end of the log if the process has exited."""
        if self.proc.poll() is not None:
            raise InfraError(f"bench process exited {self.proc.returncode}: {self.log_tail()}")

    def wait_for(self, marker: str, timeout_s: float = 180) -> None:
        """Wait until ``marker`` appears in the log."""
        deadline = time.monotonic() + timeout_s
        while not self.has_logged(marker):
            self.check_alive()
            if time.monotonic() > deadline:
                raise InfraError(f"{marker!r} not logged after {timeout_s:.0f} s: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        return f"{self.log.last_line()} (log: {self.log})"

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``."""
        self.rss.stop()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> BenchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
