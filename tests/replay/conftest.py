"""Replay fixtures: one recorded sale that a live worker processed, and the ``flashsale`` command.

The sale is the deterministic simulator's, small (12 minutes, 8 SKUs, half of them held out by the
holdout experiment), stamped two hours ago (recent: the live topics keep the broker's time-based
retention). The live worker runs until the sale is fully processed and is then stopped, so the live
group's offsets and outputs stand still and any change during a replay would be the replay's doing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from infra.net import free_port
from streams.app import group_id
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.tools.experiment import as_sent
from streams.tools.process import Child, child_env
from streams.tools.replay.copy import read_manifest
from streams.tools.replay.run import wait_settled
from streams.tools.simulate import scenario, simulate

ROOT = Path(__file__).resolve().parents[2]
SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset", "created_at")
DECISIONS = {"restock": "restock_events", "discount-adjustments": "discount_adjustments",
             "experiment-results": "experiment_results"}  # fmt: skip


@dataclass(frozen=True)
class Recorded:
    """The live run of the recorded sale: its settings, time range and what it left behind."""

    settings: Settings
    start: datetime
    end: datetime
    decisions: dict[str, dict[str, dict[str, Any]]]  # table → event_id → values, from Postgres
    snapshot: dict[str, Any]  # the live group's committed offsets and the live topics' end offsets

    def args(self) -> list[str]:
        return ["--from", self.start.isoformat(), "--to", self.end.isoformat()]


def schema_decisions(url: str, schema: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Decision rows of a schema by table and event_id, less where they were consumed from."""
    engine = sa.create_engine(url)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for table in DECISIONS.values():
                rows = conn.execute(sa.text(f'SELECT * FROM "{schema}".{table}')).mappings()
                out[table] = {
                    r["event_id"]: {k: v for k, v in r.items() if k not in SOURCE_COLUMNS} for r in rows
                }
    finally:
        engine.dispose()
    return out


def topic_decisions(settings: Settings, topic: str) -> dict[str, dict[str, Any]]:
    """Decisions on a topic by event_id (read to its end)."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends, out = consumer.end_offsets(tps), {}
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=500).values():
                out.update((v["event_id"], v) for v in (json.loads(r.value) for r in records))
        return out
    finally:
        consumer.close()


def live_snapshot(settings: Settings) -> dict[str, Any]:
    """The live group's committed offsets (admin client) and every live topic's end offsets."""
    group = group_id(settings)
    admin = KafkaAdminClient(**client_config(settings))
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        offsets = admin.list_group_offsets({group: None})[group]
        live = [t for t in consumer.topics() if t.startswith(f"{settings.topic_prefix}.")]
        tps = [TopicPartition(t, p) for t in live for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(tps)
    finally:
        consumer.close()
        admin.close()
    return {
        "committed": {f"{tp.topic}/{tp.partition}": o.offset for tp, o in offsets.items()},
        "ends": {f"{tp.topic}/{tp.partition}": end for tp, end in ends.items()},
    }


@pytest.fixture(scope="module")
def recorded(
    kafka_bootstrap: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorded]:
    """A simulated sale on the live topics of a fresh namespace, fully processed by a live worker."""
    from infra import migrations

    namespace, data = f"live{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("replay")
    settings = Settings(
        broker_url=f"kafka://{kafka_bootstrap}", database_url=postgres_url, topic_prefix=namespace,
        db_schema=namespace, data_dir=data, web_port=free_port(), stream_batch_wait_ms=50, bert_threads=1,
        holdout_share=0.5,
    )  # fmt: skip
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    # A fixed campaign id: the holdout's split (4 of the 8 SKUs) does not move with the start time.
    config = replace(scenario(seed=11, minutes=12, users=40, skus=8), start=start, campaign_id="replay-sale")
    migrations.upgrade(postgres_url, namespace)
    run = simulate(settings, config, rate=None, closed_loop=False, progress=False)
    worker = Child(settings, data / "live-worker.log")
    try:
        wait_settled(settings, worker.ready)
    finally:
        worker.stop()
    decisions = schema_decisions(postgres_url, namespace)
    assert all(decisions.values()), f"the recorded sale made no decisions of some kind: {decisions}"
    due = run.in_process | {e["event_id"] for e in map(as_sent, run.experiment)}
    missing = due - {i for rows in decisions.values() for i in rows}
    assert not missing, f"live settled without {len(missing)} due decisions (log: {worker.log})"
    end = start + timedelta(minutes=config.duration_minutes + 1)
    yield Recorded(settings, start, end, decisions, live_snapshot(settings))


def run_flashsale(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``flashsale ARGS`` as a real process with exactly ``settings`` in its environment."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *args], cwd=ROOT, env=command_env(settings),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


command_env = child_env  # the environment of a ``flashsale`` process: exactly ``settings``


@pytest.fixture
def flashsale(recorded: Recorded) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``flashsale ARGS`` (a real process) with the live settings; returns the finished process."""
    return lambda *args, timeout=300: run_flashsale(recorded.settings, *args, timeout=timeout)


@dataclass(frozen=True)
class Replayed:
    namespace: str
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def faithful(recorded: Recorded) -> Replayed:
    """The recorded sale replayed, with live's own model and settings, into a fresh namespace."""
    namespace = f"same{uuid.uuid4().hex[:6]}"
    result = run_flashsale(recorded.settings, "replay", "--namespace", namespace, *recorded.args())
    assert result.returncode == 0, result.stderr[-3000:]
    return Replayed(namespace, result)


def ctrl_c_default() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGINT as Ctrl-C delivers it: a runner started in the background by a shell without job
    control passes SIGINT on ignored, and Python keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def interrupted(recorded: Recorded, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``flashsale replay ARGS --pause-after-commit``, and Ctrl-C once it has paused, unfinished.

    The pause point makes the interruption deterministic: the replay's worker has committed input,
    and the replay cannot finish before the signal, however fast this machine is.
    """

    def run(namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
        err = tmp_path / f"{namespace}.err"
        cmd = [sys.executable, "-m", "streams", "replay", "--namespace", namespace, *recorded.args(), *args]
        with err.open("w") as stderr:
            proc = subprocess.Popen(
                [*cmd, "--pause-after-commit"], cwd=ROOT, env=command_env(recorded.settings), stderr=stderr,
                preexec_fn=ctrl_c_default,
            )  # fmt: skip
        deadline = time.monotonic() + 240
        while "paused after commit" not in err.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        manifest = read_manifest(recorded.settings, namespace)  # held since the pause: not done
        assert manifest is not None and manifest.state != "done", manifest
        return subprocess.CompletedProcess(cmd, proc.returncode, "", err.read_text())

    return run


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny, randomly initialised BERT checkpoint with the packaged tokenizer: a different model."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from models.text.loading import packaged_model_path

    path = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@dataclass(frozen=True)
class Helpers:
    """The module-level helpers, for tests (a conftest cannot be imported under importlib mode)."""

    schema_decisions: Callable[[str, str], dict[str, dict[str, dict[str, Any]]]] = schema_decisions
    topic_decisions: Callable[[Settings, str], dict[str, dict[str, Any]]] = topic_decisions
    live_snapshot: Callable[[Settings], dict[str, Any]] = live_snapshot


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()
