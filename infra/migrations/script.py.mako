"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Tables go into the schema being migrated (``op.get_context().version_table_schema``): never hard-code one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    ${downgrades if downgrades else "pass"}
