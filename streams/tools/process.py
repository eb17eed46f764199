"""One launcher for the child processes of the tools and the tests: ``python -m streams worker`` (or
any other command) with exactly the given settings, its output appended to a log that earlier
runs may share. The demo, the replay, the benchmarks and the test fixtures all start workers with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from infra.errors import InfraError
from streams.settings import Settings
from streams.tools.runlog import RunLog

READY = "]: Ready"  # Faust's "[^Worker]: Ready", not "NodeNotReadyError"
WORKER = ("-m", "streams", "worker")
PR_SET_PDEATHSIG = 1


class ChildExited(InfraError):
    """A child process that ended (or never got ready); the message is one line with its log's end."""


def child_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: exactly ``settings`` (no inherited ``FLASHSALE_*``), unbuffered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHSALE_")}
    return {**env, **settings.to_env(), "PYTHONUNBUFFERED": "1", **(extra or {})}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if its parent dies, even by kill -9."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """``python COMMAND`` (default: ``-m streams worker``) with ``settings``, its output appended to ``log``.

    In a session of its own, so a Ctrl-C reaches the parent, which stops it; ``die_with_parent``: it
    also stops when the parent is killed.
    """

    def __init__(
        self,
        settings: Settings,
        log: Path,
        command: Sequence[str] = WORKER,
        *,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.name = " ".join(command[2:] if command[:2] == ("-m", "streams") else command)
        self.log = RunLog(log)  # before the start: where this run's lines begin
        self._ready = False
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *command], env=child_env(settings, env), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        """:class:`ChildExited`, one line, if the process has ended."""
        if not self.alive():
            last = self.log.last_line()[:300]
            raise ChildExited(f"{self.name} exited ({self.proc.returncode}): {last} (log: {self.log})")

    def has_logged(self, marker: str) -> bool:
        return self.log.has(marker)

    def ready(self) -> bool:
        """Whether this run has logged Faust's "Ready"; :class:`ChildExited` once it has ended."""
        self.check_alive()
        self._ready = self._ready or self.has_logged(READY)
        return self._ready

    def wait_for(self, marker: str = READY, timeout_s: float = 180) -> None:
        """Until this run logs ``marker``; :class:`ChildExited` if it ends or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while not self.has_logged(marker):
            self.check_alive()
            if time.monotonic() > deadline:
                raise ChildExited(f"{self.name}: {marker!r} not logged in {timeout_s:.0f} s: "
                                  f"{self.log.last_line()[:300]} (log: {self.log})")  # fmt: skip
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
        """``sig`` (SIGTERM: Faust shuts down cleanly and commits), then SIGKILL if it does not end."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
