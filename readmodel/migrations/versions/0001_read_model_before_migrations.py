"""The read model as it stood before migrations: every table, and the audit trail made append-only.

Written out here rather than read from readmodel/tables.py, so that later changes to the models never rewrite
this revision. readmodel/migrations_runner.py adopts a database made before migrations by comparing its tables
with `declare_tables` and running `append_only_statements` (idempotent: the old start ran them every time).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("audit_entry", "dossier_event")


def declare_tables(metadata: sa.MetaData) -> None:
    """The tables as this revision creates them. The models' defaults are Python's: no column has a server default."""
    sa.Table(
        "procedure_version",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("code", "version", name="uq_procedure_version"),
        sa.UniqueConstraint("code", "content_hash", name="uq_procedure_content"),
    )
    sa.Table(
        "dossier_serial",
        metadata,
        sa.Column("agency_code", sa.String(80), primary_key=True),
        sa.Column("day", sa.String(6), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    sa.Table(
        "dossier",
        metadata,
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("procedure_code", sa.String(40), nullable=False, index=True),
        sa.Column("procedure_version", sa.Integer(), nullable=False),
        sa.Column("procedure_name", sa.String(), nullable=False),
        sa.Column("receiving_unit", sa.String(80), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("applicant", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("step_units", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_date", sa.Date(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("workflow_started", sa.Boolean(), nullable=False),
        sa.Column("parent_code", sa.String(100), nullable=True, index=True),
        sa.Column("owner_citizen_id", sa.String(12), nullable=True, index=True),
        sa.Column("submitted_by", sa.JSON(), nullable=True),
        sa.Column("handling_unit", sa.String(80), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False, index=True),
        sa.Column("active_steps", sa.JSON(), nullable=False),
        sa.Column("supplement_request", sa.JSON(), nullable=True),
        sa.Column("fee_request", sa.JSON(), nullable=True),
        sa.Column("fees_paid_vnd", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("outcome_reason", sa.String(), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("original_appointment_date", sa.Date(), nullable=True),
        sa.Column("jurisdiction", sa.String(10), nullable=False),
        sa.Column("supplement_count", sa.Integer(), nullable=False),
        sa.Column("suspended_working_hours", sa.Float(), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("apology", sa.JSON(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue_without_apology", sa.Boolean(), nullable=False),
        sa.Column("prefilled", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "dossier_active_step",
        metadata,
        sa.Column("dossier_code", sa.String(100), primary_key=True),
        sa.Column("step_id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("awaiting", sa.String(20), nullable=False),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("unit_code", sa.String(80), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warning", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("system", sa.String(63), nullable=True, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_active_step_inbox", "awaiting", "unit_code", "role", "due_at", "started_at"),
    )
    sa.Table(
        "dossier_event",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dossier_code", sa.String(100), nullable=False, index=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=True),
        sa.Column("actor_id", sa.String(100), nullable=True),
        sa.Column("on_behalf_of", sa.String(100), nullable=True),
        sa.Column("unit_code", sa.String(80), nullable=True),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.UniqueConstraint("dossier_code", "seq", name="uq_dossier_event_seq"),
    )
    sa.Table(
        "calendar_day",
        metadata,
        sa.Column("jurisdiction", sa.String(10), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "unit",
        metadata,
        sa.Column("code", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("parent_code", sa.String(80), nullable=True, index=True),
        sa.Column("area_code", sa.String(10), nullable=True, index=True),
        sa.Column("province_code", sa.String(10), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "officer",
        metadata,
        sa.Column("officer_id", sa.String(100), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("unit_code", sa.String(80), nullable=False, index=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "delegation",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delegator_id", sa.String(100), nullable=False, index=True),
        sa.Column("delegate_id", sa.String(100), nullable=False, index=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    sa.Table(
        "audit_entry",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(100), nullable=True, index=True),
        sa.Column("on_behalf_of", sa.String(100), nullable=True),
        sa.Column("unit_code", sa.String(80), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target", sa.String(200), nullable=False, index=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    sa.Table(
        "issued_result",
        metadata,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dossier_code", sa.String(100), nullable=False, index=True),
        sa.Column("document_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("unit_code", sa.String(80), nullable=False),
        sa.Column("unit_name", sa.String(300), nullable=False),
        sa.Column("signer", sa.String(100), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("html_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("manifest", sa.String(), nullable=False),
        sa.Column("signature", sa.String(), nullable=False),
        sa.Column("signature_algorithm", sa.String(40), nullable=False),
        sa.Column("certificate_chain_pem", sa.String(), nullable=False),
        sa.Column("certificate_subject", sa.String(500), nullable=False),
        sa.Column("html", sa.LargeBinary(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("store_reference", sa.String(200), nullable=True),
        sa.Column("deposit_refusal", sa.String(), nullable=True),
        sa.UniqueConstraint("dossier_code", "document_id", name="uq_issued_result_document"),
    )


def append_only_statements(dialect_name: str) -> list[str]:
    """The audit trail cannot be rewritten through the database either: UPDATE and DELETE are refused."""
    if dialect_name == "postgresql":
        statements = [
            "CREATE OR REPLACE FUNCTION motcua_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only (%)', TG_TABLE_NAME; END $$"
        ]
        for table in APPEND_ONLY_TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION motcua_append_only()",
            ]
        return statements
    if dialect_name == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            for table in APPEND_ONLY_TABLES
            for operation in ("UPDATE", "DELETE")
        ]
    return []


def upgrade() -> None:
    metadata = sa.MetaData()
    declare_tables(metadata)
    context = op.get_context()
    for table in metadata.sorted_tables:
        context.impl.create_table(table)  # with its indexes, as op.create_table would
    for statement in append_only_statements(context.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    metadata = sa.MetaData()
    declare_tables(metadata)
    for table in reversed(metadata.sorted_tables):
        op.drop_table(table.name)  # and its triggers with it
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS motcua_append_only()")
