"""Alembic migrations against a real PostgreSQL: they build exactly the tables of streams/sink/tables.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from infra import migrations
from streams.sink.tables import insert_ignore, tables_for

pytestmark = pytest.mark.integration
NewSchema = Callable[[], str]


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def new_schema(engine: sa.Engine) -> Iterator[NewSchema]:
    """Fresh uuid-named schemas, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(f"t_{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield make
    with engine.begin() as conn:
        for schema in made:
            conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))


def _shape(engine: sa.Engine, table: sa.Table) -> dict[str, object]:
    """Columns (name, SQL type, nullable, default), primary key and indexes as the database has them."""
    inspector, name, schema = sa.inspect(engine), table.name, table.schema
    columns = inspector.get_columns(name, schema=schema)
    pk = inspector.get_pk_constraint(name, schema=schema)
    indexes = inspector.get_indexes(name, schema=schema)
    return {
        "columns": [
            (c["name"], c["type"].compile(engine.dialect), c["nullable"], c["default"]) for c in columns
        ],
        "pk": (pk["name"], pk["constrained_columns"]),
        "indexes": sorted((i["name"], i["column_names"]) for i in indexes),
    }


def _declared(engine: sa.Engine, table: sa.Table) -> dict[str, object]:
    """The same shape as streams/sink/tables.py declares it."""

    def default(column: sa.Column) -> str | None:
        server_default = column.server_default
        return str(server_default.arg.compile(engine)) if server_default else None  # type: ignore[attr-defined]

    return {
        "columns": [(c.name, c.type.compile(engine.dialect), c.nullable, default(c)) for c in table.columns],
        "pk": (table.primary_key.name, [c.name for c in table.primary_key]),
        "indexes": sorted((i.name, [c.name for c in i.columns]) for i in table.indexes),
    }


def _restock(event_id: str) -> dict[str, object]:
    decision = {"sku": "sku-1", "quantity": 40, "on_hand": 3, "inbound": 0, "forecast_units": 41.5}
    decision |= {"horizon_minutes": 30, "service_level": 0.95, "reason": "stockout risk"}
    source = {"source_topic": "restock", "source_partition": 2, "source_offset": 17}
    return {"event_id": event_id, **decision, "ts": datetime(2026, 11, 11, 0, 1, tzinfo=UTC), **source}


def test_upgrade_builds_exactly_the_declared_tables(
    postgres_url: str, engine: sa.Engine, new_schema: NewSchema
) -> None:
    schema = new_schema()
    assert migrations.current(postgres_url, schema) is None
    migrations.upgrade(postgres_url, schema)
    assert migrations.current(postgres_url, schema) == migrations.head()
    tables = tables_for(schema)
    names = {"alembic_version", "restock_events", "discount_adjustments", "experiment_results"}
    assert set(sa.inspect(engine).get_table_names(schema=schema)) == names
    for table in (tables.restock_events, tables.discount_adjustments, tables.experiment_results):
        assert _shape(engine, table) == _declared(engine, table)


def test_insert_ignore_twice_inserts_once(
    postgres_url: str, engine: sa.Engine, new_schema: NewSchema
) -> None:
    schema = new_schema()
    migrations.upgrade(postgres_url, schema)
    table = tables_for(schema).restock_events
    rows = [_restock("e1"), _restock("e2")]
    with engine.begin() as conn:
        assert sorted(conn.execute(insert_ignore(table), rows).scalars()) == ["e1", "e2"]
    with engine.begin() as conn:
        assert list(conn.execute(insert_ignore(table), [*rows, _restock("e3")]).scalars()) == ["e3"]
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        created = conn.execute(sa.select(table.c.created_at).limit(1)).scalar_one()
    assert count == 3
    assert created.tzinfo is not None  # server default now(), timestamptz


def test_downgrade_to_base_then_upgrade_again(
    postgres_url: str, engine: sa.Engine, new_schema: NewSchema
) -> None:
    schema = new_schema()
    migrations.upgrade(postgres_url, schema)
    migrations.downgrade(postgres_url, schema)
    assert migrations.current(postgres_url, schema) is None
    assert set(sa.inspect(engine).get_table_names(schema=schema)) == {"alembic_version"}
    migrations.upgrade(postgres_url, schema)
    assert migrations.current(postgres_url, schema) == migrations.head()


def test_schemas_are_independent(postgres_url: str, engine: sa.Engine, new_schema: NewSchema) -> None:
    first, second = new_schema(), new_schema()
    migrations.upgrade(postgres_url, first)
    migrations.upgrade(postgres_url, second)
    with engine.begin() as conn:
        conn.execute(insert_ignore(tables_for(first).restock_events), [_restock("e1")])
    migrations.downgrade(postgres_url, first)
    assert migrations.current(postgres_url, first) is None
    assert migrations.current(postgres_url, second) == migrations.head()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(tables_for(second).restock_events))
        assert rows.scalar_one() == 0


def test_downgrade_of_a_missing_schema_is_a_no_op(
    postgres_url: str, engine: sa.Engine, new_schema: NewSchema
) -> None:
    schema = new_schema()
    migrations.downgrade(postgres_url, schema)
    assert not sa.inspect(engine).has_schema(schema)
