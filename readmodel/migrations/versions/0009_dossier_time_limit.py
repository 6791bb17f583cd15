"""A dossier's own time limit (dossier.time_limit_working_days, .step_budgets): the limit and step budgets the case
of `time_limit_when` that held at submission gave it, kept as decided then (a supplement may change the form, never
the limit). Rows registered before have neither and read the procedure's limit. Nullable columns added and, on
downgrade, dropped in place.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

TABLE = "dossier"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("time_limit_working_days", sa.Integer(), nullable=True))
    op.add_column(TABLE, sa.Column("step_budgets", sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later), as 0006 does.
    op.drop_column(TABLE, "step_budgets")
    op.drop_column(TABLE, "time_limit_working_days")
