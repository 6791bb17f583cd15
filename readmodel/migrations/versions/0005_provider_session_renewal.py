"""Provider sessions that follow the provider: renewal and back-channel sign-out (sign_in_session).

A session begun through an OpenID Connect provider keeps the provider's refresh token and when its access token
expires (renewed shortly before; a refusal ends the session), and the provider's session id (`sid`), which the
provider's back-channel sign-out names. Nullable columns added, and an index: no batch copy needed on SQLite.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

TABLE = "sign_in_session"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("refresh_token", sa.String(), nullable=True))
    op.add_column(TABLE, sa.Column("provider_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(TABLE, sa.Column("provider_sid", sa.String(200), nullable=True))
    op.create_index("ix_sign_in_session_provider_sid", TABLE, ["provider_sid"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sign_in_session_provider_sid", table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("provider_sid")
        batch.drop_column("provider_expires_at")
        batch.drop_column("refresh_token")
