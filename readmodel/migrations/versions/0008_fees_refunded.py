"""Fees refunded (dossier.fees_refunded_vnd): what the payment platform was asked to refund of the fees a dossier paid
through it, when the dossier did not complete (workflow revision 5). An integer column added in place, 0 for every
dossier before; downgrade drops it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

TABLE = "dossier"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("fees_refunded_vnd", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later), as 0006 does.
    op.drop_column(TABLE, "fees_refunded_vnd")
