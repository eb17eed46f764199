"""Postgres sink: every restock and discount decision (and holdout estimate) lands once, in batches,
retried until it does.

At-least-once delivery plus ``INSERT … ON CONFLICT (event_id) DO NOTHING`` on the deterministic
decision id gives one row per decision. While Postgres is down the agent retries with capped
backoff and does not move on, so its offsets are not committed and nothing is dropped. A stretch the
stream skipped is read from the broker before the records after it are written
(:func:`streams.runtime.catchup.in_order`): Faust can commit past it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Any

import faust
import sqlalchemy as sa
from faust.types import TP, EventT
from prometheus_client import Counter

from streams import metrics
from streams.app import Flashsale
from streams.contracts.records import Event
from streams.contracts.topics import DISCOUNTS, EXPERIMENT_RESULTS, RESTOCK
from streams.runtime.catchup import from_commit, in_order, read_range
from streams.runtime.faust_internals import committed_offsets
from streams.runtime.ingest import batches, decode_batch
from streams.settings import Settings
from streams.sink.tables import insert_ignore, tables_for

log = logging.getLogger(__name__)
SINK_RETRIES = Counter("flashsale_sink_retries_total", "Failed Postgres writes retried", ["table"])
SINK_ROWS = Counter("flashsale_sink_rows_total", "Decision rows inserted (duplicates excluded)", ["table"])
MAX_BACKOFF_S = 5.0


def create_engine(settings: Settings) -> sa.Engine:
    """An engine for the decision store; TLS mode from settings."""
    # lock_timeout: a write blocked by another session's open transaction fails and is retried
    # (write_until_done) instead of waiting forever.
    options = {"connect_timeout": 5, "options": "-c lock_timeout=10000"}
    return sa.create_engine(database_url(settings), pool_pre_ping=True, connect_args=options)


def database_url(settings: Settings) -> sa.URL:
    """The decision store's URL with FLASHSALE_DB_SSLMODE, unless the URL names its own sslmode."""
    url = sa.engine.make_url(settings.database_url.get_secret_value())
    if "sslmode" in url.query:  # the URL's own sslmode wins: it is never weakened
        return url
    return url.update_query_dict({"sslmode": settings.db_sslmode})


def decision_row(event: EventT, record: Event) -> dict[str, Any]:
    """A table row: the decision's fields plus the coordinates of the message it came in."""
    message = event.message
    row = record.asdict()
    row.update(source_topic=message.topic, source_partition=message.partition, source_offset=message.offset)
    return row


def write_rows(engine: sa.Engine, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` idempotently in one transaction; returns how many were new."""
    if not rows:
        return 0
    with engine.begin() as conn:
        return len(conn.execute(insert_ignore(table), list(rows)).all())


async def write_until_done(engine: sa.Engine, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Retry the batch with capped exponential backoff until Postgres takes it."""
    backoff = 0.2
    while True:
        try:
            return await asyncio.to_thread(write_rows, engine, table, rows)
        except sa.exc.OperationalError as exc:
            SINK_RETRIES.labels(table=table.name).inc()
            first_line = str(exc.orig or exc).strip().splitlines()[0] if str(exc).strip() else "error"
            log.warning(
                "postgres unavailable (%s); retry of %s rows in %.1fs", first_line, len(rows), backoff
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def register(flashsale: Flashsale) -> None:
    """Register one sink agent per decision topic and one for ``experiment-results``."""
    app, settings = flashsale.app, flashsale.settings
    engine = create_engine(settings)
    tables = tables_for(settings.db_schema)
    within = settings.stream_batch_wait_ms / 1000

    def sink_agent(topic_name: str, table: sa.Table) -> None:
        topic = app.topic(
            settings.topic(topic_name), key_type=bytes, value_type=bytes, value_serializer="raw"
        )

        written: dict[TP, int] = {}  # the last offset written per partition (a failed batch: not moved)
        read = functools.partial(read_range, settings)

        async def sink(stream: faust.StreamT) -> None:
            async for batch in batches(stream, settings.stream_batch_size, within):
                events = await in_order(batch, from_commit(committed_offsets(app), written), read)
                good = await decode_batch(events, flashsale.topics.dead_letters, settings.topic_prefix)
                rows = [decision_row(event, record) for event, record in good]
                if rows:
                    inserted = await write_until_done(engine, table, rows)
                    SINK_ROWS.labels(table=table.name).inc(inserted)
                for event in events:
                    written[event.message.tp] = max(written.get(event.message.tp, -1), event.message.offset)
                metrics.BATCH_SIZE.labels(agent=f"sink-{topic_name}").observe(len(batch))

        app.agent(topic, name=f"sink-{topic_name}")(sink)

    sink_agent(RESTOCK, tables.restock_events)
    sink_agent(DISCOUNTS, tables.discount_adjustments)
    sink_agent(EXPERIMENT_RESULTS, tables.experiment_results)
