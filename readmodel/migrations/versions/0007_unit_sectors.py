"""The sectors a unit is competent for (unit.sectors): `select: by_sector` in a definition hands a step to the unit of
the applicant's province or ward whose sectors include the procedure's. A nullable JSON column added in place (no
sectors: null); the provincial departments and offices of the shipped registry get theirs, as a fresh installation
loads them (domain/data/units.yaml). Downgrade drops the column.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

TABLE = "unit"
# The shipped registry's sectors as of this revision (units an installation renamed or removed are left alone).
SHIPPED_SECTORS = {
    "H29.10": ["civil_status", "justice"],
    "H29.22": ["land"],
    "H29.CA": ["residence"],
    "H29.BHXH": ["social_insurance", "health_insurance"],
    "H15.10": ["civil_status", "justice"],
    "H15.22": ["land"],
}


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("sectors", sa.JSON(), nullable=True))
    unit = sa.table(TABLE, sa.column("code", sa.String()), sa.column("sectors", sa.JSON()))
    for code, sectors in SHIPPED_SECTORS.items():
        op.execute(unit.update().where(unit.c.code == code, unit.c.sectors.is_(None)).values(sectors=sectors))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later), as 0006 does.
    op.drop_column(TABLE, "sectors")
