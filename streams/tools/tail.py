"""``flashsale tail``: print a topic's events live, one line each, for downstream developers.

>>> from kafka.consumer.fetcher import ConsumerRecord
>>> value = b'{"sku": "AUD-1", "quantity": 2}'
>>> record = ConsumerRecord("orders", 0, -1, 5, 1794398400250, 0, b"u1", value, [], None, 2, 31, 0)
>>> format_record(record)
'2026-11-11T12:00:00.250Z  orders/0@5  u1  {"sku":"AUD-1","quantity":2}'
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.contracts.topics import DEAD_LETTERS, INPUT_TOPICS, INTERNAL_TOPICS, OUTPUT_TOPICS
from streams.runtime.admin import client_config
from streams.settings import Settings

KNOWN_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS, *INTERNAL_TOPICS)


class UnknownTopic(ValueError):
    """The topic does not exist under this namespace."""


def _text(raw: bytes | None) -> str:
    if raw is None:
        return "null"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)


def format_value(raw: bytes | None) -> str:
    """Compact JSON when the value is JSON, else the raw text (marked)."""
    if raw is None:
        return "<tombstone>"
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return f"<not JSON, {len(raw)} bytes> {_text(raw)[:200]}"


def format_record(record: Any) -> str:
    """``<Kafka time, UTC>  <topic>/<partition>@<offset>  <key>  <value>`` (+ dead letters' headers)."""
    ts = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
    where = f"{record.topic}/{record.partition}@{record.offset}"
    line = f"{ts.replace('+00:00', 'Z')}  {where}  {_text(record.key)}  {format_value(record.value)}"
    if record.topic.endswith(DEAD_LETTERS) and record.headers:
        line += "  " + json.dumps({k: _text(v) for k, v in record.headers}, separators=(",", ":"))
    return line


def resolve_topic(settings: Settings, topic: str, existing: set[str]) -> str:
    """The full topic name: a contract name under the namespace, or an existing full name."""
    full = settings.topic(topic) if topic in KNOWN_TOPICS else topic
    if full not in existing:
        where = f" under namespace {settings.topic_prefix!r}" if settings.topic_prefix else ""
        raise UnknownTopic(f"unknown topic {full!r}{where}; contract topics: {', '.join(KNOWN_TOPICS)}")
    return full


def tail(
    settings: Settings, topic: str, key: str | None = None, from_beginning: bool = False
) -> Iterator[str]:
    """Lines of ``topic``'s messages (filtered by ``key``), live, until the caller stops iterating."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        name = resolve_topic(settings, topic, consumer.topics())
        parts = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
        consumer.assign(parts)
        (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)()
        wanted = key.encode() if key is not None else None
        while True:
            batches = consumer.poll(timeout_ms=500)
            records = sorted(
                (r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.partition)
            )
            for record in records:
                if wanted is None or record.key == wanted:
                    yield format_record(record)
    finally:
        consumer.close()


def run_tail(
    settings: Settings, topic: str, key: str | None, from_beginning: bool, echo: Callable[[str], Any]
) -> None:
    """Print lines until Ctrl-C or a closed pipe (``| head``), both of which end quietly."""
    try:
        for line in tail(settings, topic, key, from_beginning):
            echo(line)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # the reader left; keep Python's exit-time flush from failing too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
