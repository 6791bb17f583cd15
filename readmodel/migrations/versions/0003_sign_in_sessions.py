"""Server-side sessions of browsers signed in to the pages (sign_in_session).

Until now the pages' cookie carried the bearer token itself, so signing out only forgot it in one browser and a
copied cookie stayed good until the token expired. The cookie now carries a random id, and this table the id's
SHA-256 with the identity the session names (principal, subject, issuer, citizen ID), its times and how it ended.

Written out rather than read from readmodel/tables.py, like every revision: later changes to the models never
rewrite it. A new table, so no batch copy is needed on SQLite.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

TABLE = "sign_in_session"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("citizen_id", sa.String(12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(40), nullable=True),
    )
    # Revocation ends every session of a subject; pruning deletes the long-expired.
    op.create_index("ix_sign_in_session_subject", TABLE, ["subject"], unique=False)
    op.create_index("ix_sign_in_session_expires_at", TABLE, ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sign_in_session_expires_at", table_name=TABLE)
    op.drop_index("ix_sign_in_session_subject", table_name=TABLE)
    op.drop_table(TABLE)
