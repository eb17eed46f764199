"""Replay namespaces: their names, what belongs to one, and dropping one whole.

A namespace ``NAME`` is the topics ``NAME.*``, the replay worker's consumer group
``<app_id>-replay.NAME`` with its Faust topics (``<group>-…-changelog``), the Postgres schema
``NAME`` and the worker's local data; nothing of it is shared with live processing.

>>> replay_group(Settings(), "try1")
'flashsale-replay.try1'
"""

from __future__ import annotations

import re
import shutil
import time

import sqlalchemy as sa
from kafka import KafkaAdminClient
from kafka.errors import GroupIdNotFoundError

from streams.app import group_id
from streams.contracts.topics import INPUT_TOPICS, INTERNAL_TOPICS, OUTPUT_TOPICS
from streams.runtime.admin import TOPIC_CONFIGS, client_config, message_limits
from streams.settings import Settings
from streams.sink.agents import create_engine
from streams.tools.replay.copy import MANIFEST, ReplayError

NAMESPACE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")  # a plain Postgres identifier and topic prefix
RESERVED = {"live", "public", "flashsale"}


def check_namespace(live: Settings, name: str) -> None:
    """A one-line error unless ``name`` can be a replay namespace beside ``live``."""
    if not NAMESPACE_RE.fullmatch(name):
        raise ReplayError(f"namespace {name!r}: use 1-40 of a-z, 0-9 and _, starting with a letter")
    if name in RESERVED or name in (live.topic_prefix, live.db_schema):
        raise ReplayError(f"namespace {name!r} is reserved or live's own; pick another name")


def namespace_in_use(live: Settings, name: str) -> bool:
    """Whether any topic, the consumer group's state or the schema of the namespace exists."""
    admin = KafkaAdminClient(**client_config(live), client_id="flashsale-replay")
    try:
        topics = namespace_topics(admin, live, name)
    finally:
        admin.close()
    engine = create_engine(live)
    try:
        with engine.connect() as conn:
            return bool(topics) or sa.inspect(conn).has_schema(name)
    finally:
        engine.dispose()


def replay_group(live: Settings, name: str) -> str:
    """The consumer group (= Faust app id) of namespace ``name``'s worker."""
    return group_id(live.model_copy(update={"topic_prefix": name, "app_id": f"{live.app_id}-replay"}))


def namespace_topics(admin: KafkaAdminClient, live: Settings, name: str) -> list[str]:
    """The namespace's topics and its worker's Faust topics (changelogs, leader election)."""
    prefixes = (f"{name}.", f"{replay_group(live, name)}-")
    return sorted(t for t in admin.list_topics() if t.startswith(prefixes))


def drop_namespace(live: Settings, name: str) -> None:
    """Delete everything of a replay namespace: topics, consumer group, schema, local worker data."""
    check_namespace(live, name)
    group = replay_group(live, name)
    admin = KafkaAdminClient(**client_config(live), client_id="flashsale-replay")
    try:
        for result in admin.delete_groups([group]).values():
            if result not in ("OK", GroupIdNotFoundError.__name__):  # a running worker: NonEmptyGroupError
                raise ReplayError(f"cannot delete consumer group {group} ({result}): stop its worker first")
        topics = namespace_topics(admin, live, name)
        if topics:
            admin.delete_topics(topics)
        deadline = time.monotonic() + 60
        while namespace_topics(admin, live, name):  # deletion is asynchronous; recreating needs it done
            if time.monotonic() > deadline:
                raise ReplayError(f"topics of namespace {name!r} still exist after 60 s")
            time.sleep(0.5)
    finally:
        admin.close()
    engine = create_engine(live)
    try:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))
    finally:
        engine.dispose()
    shutil.rmtree(live.data_dir / "faust" / group, ignore_errors=True)
    shutil.rmtree(live.data_dir / "replay" / name, ignore_errors=True)


def create_namespace_topics(live: Settings, namespace: str, partitions: int) -> None:
    """Every topic of the namespace, with the source's partition count and no time-based retention.

    Replayed records keep their (possibly old) event-time timestamps: with the broker's default
    retention a replay of last month's sale would be deleted as soon as it was written. Input topics
    take the live topic's ``max.message.bytes``: whatever live accepted, the copy holds too.
    """
    target = live.model_copy(update={"topic_prefix": namespace})
    names = {target.topic(n): n for n in (*INPUT_TOPICS, *OUTPUT_TOPICS, *INTERNAL_TOPICS, MANIFEST)}
    admin = KafkaAdminClient(**client_config(live), client_id="flashsale-replay")
    try:
        existing = set(admin.list_topics())
        limits = message_limits(admin, [live.topic(n) for n in INPUT_TOPICS if live.topic(n) in existing])
        sized = {
            n: {"max.message.bytes": str(limits[live.topic(n)])}
            for n in INPUT_TOPICS
            if live.topic(n) in limits
        }
        specs = {
            full: {
                "num_partitions": 1 if name == MANIFEST else partitions,
                "replication_factor": live.topic_replication_factor,
                "configs": {**TOPIC_CONFIGS.get(name, {}), "retention.ms": "-1"}
                | ({"cleanup.policy": "compact"} if name == MANIFEST else {})
                | sized.get(name, {}),
            }
            for full, name in names.items()
        }
        missing = {n: s for n, s in specs.items() if n not in existing}
        if missing:
            admin.create_topics(missing)
            admin.wait_for_topics(list(missing), timeout_ms=60_000)
    finally:
        admin.close()
