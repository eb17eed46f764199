"""A hostile value in a real changelog topic: a worker restoring it refuses it, says where, counts it,
and never runs it (the value is a pickle that would create a file)."""

from __future__ import annotations

import os
import pickle
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.app import group_id
from streams.runtime.admin import client_config, ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.integration


class Exploit:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.path}",)


def refused_count(settings: Settings) -> float:
    url = f"http://127.0.0.1:{settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        lines = response.read().decode().splitlines()
    found = [line for line in lines if line.startswith('flashsale_state_refused_total{table="sku-clocks"}')]
    return float(found[0].split()[-1]) if found else 0.0


def test_a_worker_restoring_a_hostile_changelog_value_refuses_it(
    settings: Settings, start_worker: Callable, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    ensure_topics(settings)
    first = start_worker(settings)  # creates the changelog topics
    first.stop()
    changelog = f"{group_id(settings)}-sku-clocks-changelog"
    pwned = tmp_path / "pwned"
    producer = KafkaProducer(**client_config(settings), acks="all")
    sent = producer.send(changelog, key=b'"p0"', value=pickle.dumps(Exploit(pwned)), partition=0).get(60)
    producer.close()

    worker = start_worker(settings)
    where = f"{changelog}[0]@{sent.offset}: not a flashsale state value"
    deadline = time.monotonic() + 90
    while where not in worker.log.text() and time.monotonic() < deadline:
        worker.check_alive()
        time.sleep(0.5)
    assert where in worker.log.text()  # refused, with its topic, partition and offset
    assert refused_count(settings) == 1
    assert not pwned.exists()  # never unpickled
    assert worker.alive()
