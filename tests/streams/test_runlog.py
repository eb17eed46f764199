"""Child processes and their logs: appended to across runs, only this run's lines say whether it started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.tools.process import READY, Child, ChildExited, child_env

FAILS = ("-c", "print('no broker'); raise SystemExit(3)")


def test_a_child_waits_for_its_own_ready_not_an_earlier_runs(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    path.write_text("[earlier demo] [^FlashsaleWorker]: Ready\n")
    child = Child(Settings(data_dir=tmp_path), path, FAILS)  # fails to start, writing after the earlier run
    with pytest.raises(ChildExited, match=r"exited \(3\): no broker"):
        child.wait_for(READY, timeout_s=30)
    assert "[earlier demo]" in path.read_text()  # the earlier run's lines are kept, not counted


def test_a_child_logs_its_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = ("-c", f"import time; print('[^Worker{READY}', flush=True); time.sleep(60)")
    with Child(Settings(data_dir=tmp_path), tmp_path / "w.log", ready) as child:
        child.wait_for(READY, timeout_s=30)
        assert child.ready() and child.alive()
    assert not child.alive() and child.proc.returncode == -15


def test_a_child_gets_exactly_its_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, topic_prefix="ns1")
    monkeypatch.setenv("FLASHSALE_KAFKA_SSL_CAFILE", "/inherited.pem")  # the parent's, not in settings
    env = child_env(settings, {"EXTRA": "1"})
    assert env["FLASHSALE_TOPIC_PREFIX"] == "ns1" and env["EXTRA"] == "1"
    assert "FLASHSALE_KAFKA_SSL_CAFILE" not in env and env["PATH"] == os.environ["PATH"]
