"""``flashsale replay``: run the pipeline again on a time range of the live topics, in a namespace.

A replay never touches live processing: it reads the live input topics with a group-less consumer
(the live group's offsets cannot move), copies the range into ``<namespace>.<topic>``
(:mod:`streams.tools.replay.copy`), migrates Postgres schema ``<namespace>`` and runs an ordinary worker
with the namespace's settings (its own consumer group ``<app_id>-replay.<namespace>``, its own output
topics and schema) until the range is processed (:mod:`streams.tools.replay.run`). Decision ids are
deterministic, so a replay of what live processed reproduces live's decisions exactly.
``flashsale replay compare`` then shows what a changed model or setting changed
(:mod:`streams.tools.replay.compare`).

>>> parse_overrides(["service-level=0.99", "FLASHSALE_DISCOUNT_MAX_STEP=0.1"])
{'service_level': '0.99', 'discount_max_step': '0.1'}
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from tqdm import tqdm

from infra import migrations
from infra.net import free_port
from streams.app import group_id
from streams.contracts.topics import DEAD_LETTERS, INPUT_TOPICS, RECOMMENDATIONS
from streams.settings import Settings
from streams.sink.agents import create_engine
from streams.sink.tables import tables_for
from streams.tools.process import Child
from streams.tools.replay.copy import (
    Manifest,
    ReplayError,
    copy_records,
    read_manifest,
    resolve_ranges,
    topic_size,
    write_manifest,
)
from streams.tools.replay.namespace import (
    check_namespace,
    create_namespace_topics,
    drop_namespace,
    namespace_in_use,
)
from streams.tools.replay.run import wait_settled

PINNED = {"topic_prefix", "app_id", "db_schema", "topic_partitions"}  # what isolates a replay


@dataclass(frozen=True)
class ReplayRequest:
    """What ``flashsale replay`` was asked to do."""

    namespace: str
    from_ts: datetime | None = None
    to_ts: datetime | None = None
    topics: tuple[str, ...] = INPUT_TOPICS
    model_path: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False
    resume: bool = False
    pause_after_commit: bool = False  # hold, unfinished, once the worker has committed input


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` settings (``service_level``, ``service-level`` or ``FLASHSALE_SERVICE_LEVEL``)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        name = key.strip().lower().replace("-", "_").removeprefix("flashsale_")
        if not sep or name not in Settings.model_fields:
            raise ReplayError(f"--set {item!r}: expected KEY=VALUE with KEY a setting (e.g. service_level)")
        if name in PINNED:
            raise ReplayError(f"--set {name}: the replay sets it (namespace isolation)")
        out[name] = value
    return out


def replay_settings(live: Settings, manifest: Manifest) -> Settings:
    """The worker's settings: live's, with the namespace, the model and the overrides (validated)."""
    values = live.model_dump() | manifest.overrides
    values.update(
        topic_prefix=manifest.namespace, app_id=f"{live.app_id}-replay", db_schema=manifest.namespace,
        topic_partitions=manifest.partitions, web_port=free_port(),
    )  # fmt: skip
    if manifest.model_path:
        values["model_path"] = manifest.model_path
    return Settings(**values)


def plan(live: Settings, request: ReplayRequest) -> Manifest:
    """Check the request and resolve its ranges: a manifest of a new replay, nothing created yet."""
    unknown = [t for t in request.topics if t not in INPUT_TOPICS]
    if unknown or not request.topics:
        replayable = ", ".join(INPUT_TOPICS)
        raise ReplayError(f"unknown topic {', '.join(unknown) or '(none)'}; replayable: {replayable}")
    if request.from_ts is None or request.to_ts is None:
        raise ReplayError("--from and --to are required (ISO-8601 times)")
    if request.from_ts >= request.to_ts:
        raise ReplayError(
            f"--from {request.from_ts.isoformat()} must be before --to {request.to_ts.isoformat()}"
        )
    topics = [t for t in INPUT_TOPICS if t in request.topics]
    partitions, ranges = resolve_ranges(live, topics, request.from_ts, request.to_ts)
    model = str(checked_model(request.model_path)) if request.model_path else None
    manifest = Manifest(
        request.namespace, live.topic_prefix, request.from_ts.isoformat(), request.to_ts.isoformat(),
        topics, partitions, ranges, model, dict(request.overrides),
    )  # fmt: skip
    replay_settings(live, manifest)  # a bad --set or --model fails now, before anything exists
    return manifest


def checked_model(path: Path) -> Path:
    """The absolute path of a loadable BERT checkpoint (the worker runs elsewhere, and later)."""
    from models.text.loading import ModelLoadError, checkpoint_model_type

    try:
        checkpoint_model_type(path)
    except ModelLoadError as exc:
        raise ReplayError(f"--model: {exc}") from None
    return path.resolve()


def resumable(live: Settings, request: ReplayRequest) -> Manifest:
    """The unfinished replay ``--resume`` continues, as it was started."""
    manifest = read_manifest(live, request.namespace)
    if manifest is None or manifest.state == "done":
        what = "is a finished replay" if manifest else "has no replay"
        raise ReplayError(f"namespace {request.namespace!r} {what}: nothing to resume")
    changed = request.from_ts or request.to_ts or request.model_path or request.overrides
    if changed or request.topics != INPUT_TOPICS:
        raise ReplayError("--resume continues the replay as it was started: give only --namespace")
    return manifest


def holds(live: Settings, name: str) -> str:
    """What an existing namespace holds, in words, with how to go on."""
    existing = read_manifest(live, name)
    if existing is None:
        return "topics or a schema, no replay manifest"
    if existing.state == "done":
        return f"a finished replay of {existing.from_ts} to {existing.to_ts}"
    return f"an unfinished replay, {existing.state}: --resume continues it"


def run_replay(live: Settings, request: ReplayRequest, say: Callable[[str], None] = print) -> Manifest:
    """Replay ``request`` (see module doc); returns the finished manifest with its stats."""
    name = request.namespace
    check_namespace(live, name)
    if request.resume:
        manifest = resumable(live, request)
    else:
        manifest = plan(live, request)
        if namespace_in_use(live, name):
            if not request.overwrite:
                raise ReplayError(f"namespace {name!r} exists ({holds(live, name)}); --overwrite replaces it")
            say(f"replay {name}: dropping the existing namespace")
            drop_namespace(live, name)
        create_namespace_topics(live, name, manifest.partitions)
        write_manifest(live, manifest)
    try:
        return process(live, manifest, say, request.pause_after_commit)
    except KeyboardInterrupt:
        say(f"replay {name}: interrupted; --resume continues it, --overwrite starts it again")
        raise


def process(live: Settings, manifest: Manifest, say: Callable[[str], None], pause: bool = False) -> Manifest:
    """Copy what is still to copy, then run a worker until the namespace's input is processed."""
    name, settings, started = manifest.namespace, replay_settings(live, manifest), time.monotonic()
    if manifest.state == "copying":
        with progress_bar(manifest.planned, f"copy {name}") as bar:
            copied = copy_records(live, manifest, bar.update)
        manifest.state, manifest.stats["records"] = "copied", copied
        write_manifest(live, manifest)
    migrations.upgrade(settings.database_url.get_secret_value(), name)
    worker = Child(settings, live.data_dir / "replay" / name / "worker.log", die_with_parent=True)
    say(f"replay {name}: worker started (group {group_id(settings)}, log {worker.log})")
    try:
        with progress_bar(manifest.stats["records"], f"replay {name}") as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)
                if pause and done > 0:
                    hold(name, done, total, say)

            wait_settled(settings, worker.ready, progress)
    finally:
        worker.stop()
    manifest.state = "done"
    manifest.stats.update(outcome(settings), seconds=round(time.monotonic() - started, 1))
    write_manifest(live, manifest)
    return manifest


def hold(name: str, done: int, total: int, say: Callable[[str], None]) -> None:
    """``--pause-after-commit``: wait, the replay unfinished, until Ctrl-C.

    A fixed point at which an interrupted replay can be shown (and tested): the worker has committed
    some input and the manifest is not ``done``, and cannot be until the replay goes on. The worker
    keeps running meanwhile (a frozen one would drop out of its group), so ``--resume`` finds it
    anywhere from barely started to finished.
    """
    say(f"replay {name}: paused after commit at {done} of {total} input records; Ctrl-C interrupts it")
    while True:
        signal.pause()


def progress_bar(total: int, desc: str) -> tqdm:
    """Records done, records/s and % of the range, on stderr."""
    return tqdm(total=total, desc=desc, unit="rec", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)


def outcome(settings: Settings) -> dict[str, int]:
    """Decision rows in the namespace's schema and messages on its other outputs."""
    tables = tables_for(settings.db_schema)
    engine = create_engine(settings)
    try:
        with engine.connect() as conn:
            count = {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (tables.restock_events, tables.discount_adjustments)
            }
    finally:
        engine.dispose()
    return {**count, **{n: topic_size(settings, settings.topic(n)) for n in (RECOMMENDATIONS, DEAD_LETTERS)}}


def summary(manifest: Manifest) -> str:
    """One line: what the replay processed and decided."""
    s = manifest.stats
    rate = s["records"] / s["seconds"] if s.get("seconds") else 0.0
    return (
        f"replay {manifest.namespace}: {s['records']} records in {s['seconds']} s ({rate:.0f} records/s); "
        f"{s['restock_events']} restock and {s['discount_adjustments']} discount decisions, "
        f"{s[RECOMMENDATIONS]} recommendations, {s[DEAD_LETTERS]} dead letters"
    )
