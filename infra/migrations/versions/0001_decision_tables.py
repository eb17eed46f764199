"""decision tables: restock_events and discount_adjustments

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Tables go into the schema being migrated (``op.get_context().version_table_schema``): never hard-code one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _source_columns() -> list[sa.Column]:
    return [
        sa.Column("source_topic", sa.Text(), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "restock_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("inbound", sa.Integer(), nullable=False),
        sa.Column("forecast_units", sa.Double(), nullable=False),
        sa.Column("horizon_minutes", sa.Integer(), nullable=False),
        sa.Column("service_level", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        *_source_columns(),
        sa.PrimaryKeyConstraint("event_id", name="pk_restock_events"),
        schema=schema,
    )
    op.create_index("ix_restock_events_sku_ts", "restock_events", ["sku", "ts"], schema=schema)
    op.create_table(
        "discount_adjustments",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Text(), nullable=False),
        sa.Column("old_discount", sa.Double(), nullable=False),
        sa.Column("new_discount", sa.Double(), nullable=False),
        sa.Column("projected_sell_through", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        *_source_columns(),
        sa.PrimaryKeyConstraint("event_id", name="pk_discount_adjustments"),
        schema=schema,
    )
    op.create_index("ix_discount_adjustments_sku_ts", "discount_adjustments", ["sku", "ts"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_table("discount_adjustments", schema=schema)  # drops its index too
    op.drop_table("restock_events", schema=schema)
