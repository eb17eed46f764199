"""Worker logs are appended to across runs: only this run's lines say whether its worker started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.errors import InfraError
from streams.tools.demo import wait_ready
from streams.tools.runlog import RunLog


def test_the_demo_waits_for_its_own_workers_ready_not_an_earlier_demos(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    path.write_text("[earlier demo] [^FlashsaleWorker]: Ready\n")
    log = RunLog(path)
    with path.open("ab") as out:  # a worker that fails to start, writing after the earlier run
        proc = subprocess.Popen([sys.executable, "-c", "print('no broker'); raise SystemExit(3)"], stdout=out)
    proc.wait(30)
    with pytest.raises(InfraError, match="no broker"):
        wait_ready(proc, log, timeout_s=30)
    assert "[earlier demo]" in path.read_text()  # the earlier run's lines are kept, not counted
