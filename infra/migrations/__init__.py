"""Alembic migrations of the decision tables, run programmatically (no alembic.ini).

Schemas are independent: a schema's tables *and* its ``alembic_version`` table live in it, so the live
schema, each replay namespace and each test schema migrate on their own. Migrations of one schema are
serialised by a Postgres advisory lock, so workers starting together may all call ``upgrade``.

New revision: ``alembic.command.revision(config(), "message", rev_id="0002")``, then write its DDL by hand
(migrations are frozen history: they never import ``streams.sink.tables``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.schema import CreateSchema

_HERE = Path(__file__).resolve().parent


def config(connection: sa.Connection | None = None, schema: str = "public") -> Config:
    """The Alembic configuration of these migrations, bound to ``connection`` and ``schema``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.attributes.update(connection=connection, schema=schema)
    return cfg


def head() -> str:
    """The newest revision id."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "no migrations found"
    return revision


def upgrade(url: str, schema: str = "public", revision: str = "head") -> None:
    """Migrate ``schema`` (created if missing) up to ``revision``, in one transaction."""
    with _locked(url, schema) as conn:
        conn.execute(CreateSchema(schema, if_not_exists=True))
        command.upgrade(config(conn, schema), revision)


def downgrade(url: str, schema: str = "public", revision: str = "base") -> None:
    """Migrate ``schema`` down to ``revision``; ``base`` drops the tables (the schema stays)."""
    with _locked(url, schema) as conn:
        if sa.inspect(conn).has_schema(schema):  # a missing schema has nothing to undo
            command.downgrade(config(conn, schema), revision)


def current(url: str, schema: str = "public") -> str | None:
    """The revision ``schema`` is at, or None when it was never migrated (or does not exist)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table_schema": schema})
            return context.get_current_revision()
    finally:
        engine.dispose()


@contextmanager
def _locked(url: str, schema: str) -> Iterator[sa.Connection]:
    """A transaction holding the migration lock of ``schema``; committed when the block ends."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            # Transaction-scoped: released on commit or rollback, even if this process dies.
            key = f"flashsale-migrations:{schema}"
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            yield conn
    finally:
        engine.dispose()
