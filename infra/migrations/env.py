"""Alembic environment: ``infra.migrations`` hands in the connection and the target schema.

There is no alembic.ini: each schema is migrated on its own, with its version table inside it.
"""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported: use infra.migrations.upgrade")
    attributes = context.config.attributes
    context.configure(connection=attributes["connection"], version_table_schema=attributes["schema"])
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
