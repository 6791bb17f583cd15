"""Sign-in through OpenID Connect providers (the national SSO, VNeID): the logins under way (oidc_login) and the ID
token a provider's session began with (sign_in_session.id_token, sent back as id_token_hint at sign-out).

A login under way is keyed by the SHA-256 of its `state`, bound to the browser by the SHA-256 of a short-lived
cookie's id, and holds its nonce, PKCE verifier and where to go afterwards; the callback takes it once.
Written out rather than read from readmodel/tables.py, like every revision. A new table, and a nullable column added
(no batch copy needed on SQLite).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

TABLE = "oidc_login"


def upgrade() -> None:
    op.add_column("sign_in_session", sa.Column("id_token", sa.String(), nullable=True))
    op.create_table(
        TABLE,
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("code_verifier", sa.String(200), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_login_expires_at", TABLE, ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_oidc_login_expires_at", table_name=TABLE)
    op.drop_table(TABLE)
    with op.batch_alter_table("sign_in_session") as batch:
        batch.drop_column("id_token")
