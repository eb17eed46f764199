"""The decision tables and the holdout experiment's estimates, named once here; ``tables_for(schema)``
binds them to a Postgres schema.

Every schema (``public`` live, one per replay namespace or test) holds its own copy of the tables,
created by ``infra.migrations.upgrade(url, schema)``. Bind explicitly rather than through an engine's
``schema_translate_map``, so the schema is visible in the SQL and a forgotten option cannot write to
``public``. Rows record their source (topic, partition, offset); ``event_id`` makes writes idempotent.

>>> tables = tables_for("replay1")
>>> tables.restock_events.fullname
'replay1.restock_events'
>>> stmt = insert_ignore(tables.discount_adjustments)
>>> "ON CONFLICT (event_id) DO NOTHING" in str(stmt.compile(dialect=postgresql.dialect()))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import ReturningInsert

RESTOCK_EVENTS = "restock_events"
DISCOUNT_ADJUSTMENTS = "discount_adjustments"
EXPERIMENT_RESULTS = "experiment_results"
UPLIFT_COLUMNS = ("treatment", "baseline", "control", "uplift", "se", "lo", "hi", "df")


def _source_columns() -> list[Column[Any]]:
    """Where a decision was consumed from, and when it landed: every output records its source."""
    return [
        Column("source_topic", Text, nullable=False),
        Column("source_partition", Integer, nullable=False),
        Column("source_offset", BigInteger, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


# Schema-less templates: use ``tables_for(schema)``, whose SQL always names its schema.
_template = MetaData()

Table(
    RESTOCK_EVENTS,
    _template,
    Column("event_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("inbound", Integer, nullable=False),
    Column("forecast_units", Double, nullable=False),
    Column("horizon_minutes", Integer, nullable=False),
    Column("service_level", Double, nullable=False),
    Column("reason", Text, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    *_source_columns(),
    PrimaryKeyConstraint("event_id", name=f"pk_{RESTOCK_EVENTS}"),
    Index(f"ix_{RESTOCK_EVENTS}_sku_ts", "sku", "ts"),
)

Table(
    DISCOUNT_ADJUSTMENTS,
    _template,
    Column("event_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("old_discount", Double, nullable=False),
    Column("new_discount", Double, nullable=False),
    Column("projected_sell_through", Double, nullable=False),
    Column("reason", Text, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    *_source_columns(),
    PrimaryKeyConstraint("event_id", name=f"pk_{DISCOUNT_ADJUSTMENTS}"),
    Index(f"ix_{DISCOUNT_ADJUSTMENTS}_sku_ts", "sku", "ts"),
)


Table(
    EXPERIMENT_RESULTS,
    _template,
    Column("event_id", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("minutes", Double, nullable=False),
    Column("n_treatment", Integer, nullable=False),
    Column("n_control", Integer, nullable=False),
    Column("level", Double, nullable=False),
    *[
        Column(f"{metric}_{name}", Double, nullable=False)
        for metric in ("revenue", "units")
        for name in UPLIFT_COLUMNS
    ],
    Column("revenue_covariates", Integer, nullable=False),
    Column("units_covariates", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    *_source_columns(),
    PrimaryKeyConstraint("event_id", name=f"pk_{EXPERIMENT_RESULTS}"),
    Index(f"ix_{EXPERIMENT_RESULTS}_campaign_ts", "campaign_id", "ts"),
)


@dataclass(frozen=True)
class DecisionTables:
    """The decision tables of one schema."""

    metadata: MetaData
    restock_events: Table
    discount_adjustments: Table
    experiment_results: Table


@lru_cache(maxsize=64)
def tables_for(schema: str) -> DecisionTables:
    """The decision tables in ``schema`` (cached: the same objects for the same schema)."""
    metadata = MetaData(schema=schema)
    for table in _template.tables.values():
        table.to_metadata(metadata, schema=schema)
    return DecisionTables(
        metadata,
        metadata.tables[f"{schema}.{RESTOCK_EVENTS}"],
        metadata.tables[f"{schema}.{DISCOUNT_ADJUSTMENTS}"],
        metadata.tables[f"{schema}.{EXPERIMENT_RESULTS}"],
    )


@lru_cache(maxsize=64)
def insert_ignore(table: Table) -> ReturningInsert[str]:
    """``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` into ``table``, to execute
    with the rows as parameters (``conn.execute(insert_ignore(table), rows)``).

    Re-inserting a decision is a no-op, so at-least-once delivery stores each decision once; the result
    rows are the ``event_id``s actually inserted (duplicates are absent). One statement per table,
    compiled once: SQLAlchemy sends the rows as multi-row ``VALUES`` pages (its "insertmanyvalues").
    """
    stmt = postgresql.insert(table)
    return stmt.on_conflict_do_nothing(index_elements=[table.c.event_id]).returning(table.c.event_id)
