"""experiment_results: the holdout experiment's uplift estimates, one row per campaign and closed bucket

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Tables go into the schema being migrated (``op.get_context().version_table_schema``): never hard-code one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPLIFT_COLUMNS = ("treatment", "baseline", "control", "uplift", "se", "lo", "hi", "df")


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "experiment_results",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Double(), nullable=False),
        sa.Column("n_treatment", sa.Integer(), nullable=False),
        sa.Column("n_control", sa.Integer(), nullable=False),
        sa.Column("level", sa.Double(), nullable=False),
        *[
            sa.Column(f"{metric}_{name}", sa.Double(), nullable=False)
            for metric in ("revenue", "units")
            for name in UPLIFT_COLUMNS
        ],
        sa.Column("revenue_covariates", sa.Integer(), nullable=False),
        sa.Column("units_covariates", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source_topic", sa.Text(), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_experiment_results"),
        schema=schema,
    )
    op.create_index("ix_experiment_results_campaign_ts", "experiment_results", ["campaign_id", "ts"],
                    schema=schema)  # fmt: skip


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_table("experiment_results", schema=schema)  # drops its index too
