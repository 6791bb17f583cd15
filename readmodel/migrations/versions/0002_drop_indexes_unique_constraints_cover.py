"""Drop the single-column indexes that a unique constraint on the same table already serves.

Each of these columns leads a unique constraint's (btree) index, which every lookup by the column alone uses as well
(the timeline by dossier_code ordered by seq even reads it in order). The extra index only cost a write per row (a
timeline event for every transition of every dossier) and its space.

Written out rather than read from readmodel/tables.py, like every revision: later changes to the models never
rewrite it. Plain DROP INDEX and CREATE INDEX, the same on SQLite and PostgreSQL (no batch copy of the table).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

# (index, table, column, the unique constraint leading with the column that serves its lookups)
REDUNDANT_INDEXES = (
    ("ix_dossier_event_dossier_code", "dossier_event", "dossier_code", "uq_dossier_event_seq"),
    ("ix_issued_result_dossier_code", "issued_result", "dossier_code", "uq_issued_result_document"),
    ("ix_procedure_version_code", "procedure_version", "code", "uq_procedure_version"),
)


def upgrade() -> None:
    for index, table, _column, _served_by in REDUNDANT_INDEXES:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for index, table, column, _served_by in REDUNDANT_INDEXES:
        op.create_index(index, table, [column], unique=False)
