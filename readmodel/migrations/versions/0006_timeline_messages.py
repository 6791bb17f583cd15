"""The timeline's messages (dossier_event.message, .params): what an event says, as a key and its values, rendered
for each reader in their language (domain/timeline_messages.py). Events recorded before have neither and show their
summary. Nullable columns added and, on downgrade, dropped in place.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

TABLE = "dossier_event"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("message", sa.String(60), nullable=True))
    op.add_column(TABLE, sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later), not a batch copy: the copy would drop the table's append-only
    # triggers with the table.
    op.drop_column(TABLE, "params")
    op.drop_column(TABLE, "message")
