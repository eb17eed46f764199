"""Faust tables holding pickled ``models/`` state, written for an explicit partition.

A Faust table writes its changelog to the partition of the *current* event; in a batch
(``take_events``) that is not the event a key belongs to, so batch agents name the partition.
Values are plain dataclasses of models/ state, pickled whole (numpy arrays included); tables are
declared with ``value_type=bytes`` so the changelog carries exactly those bytes.
"""

from __future__ import annotations

import pickle
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import TableT

from streams.runtime.outbox import Outbox


def state_table(app: faust.App, name: str) -> TableT:
    """A changelog-backed table of pickled values keyed by str."""
    return app.Table(name, default=None, key_type=str, value_type=bytes)


def load(table: TableT, key: str) -> Any | None:
    """The value stored under ``key``, or None."""
    raw = table.data.get(key)
    return pickle.loads(raw) if raw is not None else None


async def put(table: TableT, partition: int, key: str, value: Any, outbox: Outbox) -> None:
    """Store ``value`` under ``key``, its changelog record on ``partition`` sent via ``outbox``
    (an ``Outbox(app)``: state is written by the hundred per batch, as record batches).

    Settle the outbox before the batch is acknowledged: an offset could otherwise be committed
    before the state that applied it is durable.
    """
    raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    table.data[key] = raw
    # The bytes Faust itself would write: key_type=str with the json serializer, value_type=bytes raw.
    await outbox.send_bytes(
        table.changelog_topic.get_topic_name(), key=codecs.dumps("json", key), value=raw, partition=partition
    )
