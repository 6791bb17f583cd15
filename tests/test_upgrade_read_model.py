"""Upgrading an installation's read model: every schema change is an Alembic revision, and an installation at any
earlier revision (or from before migrations) reaches head with every row intact, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError
from sqlmodel import SQLModel
from typer.testing import CliRunner

from api.admin_cli import app as admin_cli
from infrastructure.settings import get_settings
from readmodel import tables  # noqa: F401  (the models compared with the migrations)
from readmodel.migrations_runner import (
    FIRST_REVISION,
    SchemaNotAtHead,
    UnknownSchema,
    alembic_config,
    current_revision,
    first_revision_metadata,
    head_revision,
    migrate,
)
from readmodel.schema import init_db


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
        return
    postgres = request.getfixturevalue("postgres")
    name = f"upgrade_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 7, day, hour, minute, tzinfo=UTC)


DOSSIER = "H29.50.05.13-250714-0001"
UNIT = "H29.50.05.13"
ACTOR = {"kind": "officer", "id": f"reception@{UNIT}", "unit_code": UNIT, "channel": "api"}

# A realistic row or two in every table, as an installation at the first revision holds them.
ROWS: dict[str, list[dict[str, Any]]] = {
    "procedure_version": [
        {"code": "2.000635", "version": 1, "content_hash": "a3" * 32, "name": "Cấp bản sao trích lục hộ tịch",
         "body": {"code": "2.000635", "steps": [{"id": "receive", "role": "reception"}]},
         "deployed_at": at(1, 2), "retired_at": None},
        {"code": "2.000635", "version": 2, "content_hash": "b4" * 32, "name": "Cấp bản sao trích lục hộ tịch",
         "body": {"code": "2.000635", "steps": [{"id": "receive"}, {"id": "approve", "role": "leader"}]},
         "deployed_at": at(10, 2), "retired_at": at(20, 9)},
    ],
    "dossier_serial": [{"agency_code": UNIT, "day": "250714", "last": 1}],
    "dossier": [
        {"code": DOSSIER, "procedure_code": "2.000635", "procedure_version": 2,
         "procedure_name": "Cấp bản sao trích lục hộ tịch", "receiving_unit": UNIT, "channel": 2,
         "applicant": {"full_name": "Nguyễn Văn An", "citizen_id": "079123456789"},
         "form": {"extract_kind": "birth", "copies": 2}, "step_units": {"approve": UNIT},
         "received_at": at(14, 2, 15), "appointment_date": date(2025, 7, 17), "idempotency_key": "portal-7f3a",
         "request_hash": "c5" * 32, "workflow_started": True, "parent_code": None, "owner_citizen_id": "079123456789",
         "submitted_by": {"kind": "citizen", "id": "079123456789"}, "handling_unit": None, "status": 4,
         "active_steps": [{"step_id": "approve", "role": "leader"}],
         "supplement_request": None, "fee_request": {"amount_vnd": 16000}, "fees_paid_vnd": 16000,
         "outcome": None, "outcome_reason": None, "partial": False, "results": [], "completed_at": None,
         "original_appointment_date": date(2025, 7, 17), "jurisdiction": "79", "supplement_count": 1,
         "suspended_working_hours": 3.5, "extended": False, "apology": None, "overdue": False,
         "overdue_without_apology": False, "prefilled": True, "last_seq": 3, "updated_at": at(15, 3)},
    ],
    "dossier_active_step": [
        {"dossier_code": DOSSIER, "step_id": "approve", "name": "Lãnh đạo phê duyệt", "kind": "task",
         "awaiting": "officer", "role": "leader", "unit_code": UNIT, "due_date": date(2025, 7, 16),
         "due_at": at(16, 10), "warning": True, "overdue": False, "system": None, "started_at": at(15, 3)},
    ],
    "dossier_event": [
        {"dossier_code": DOSSIER, "seq": seq, "kind": kind, "at": at(14 + seq // 2, 2 + seq), "step_id": step,
         "actor": ACTOR["id"], "summary": summary, "status": status, "detail": {"seq": seq},
         "actor_kind": "officer", "actor_id": ACTOR["id"], "on_behalf_of": None, "unit_code": UNIT, "channel": "api"}
        for seq, kind, step, summary, status in [
            (1, "submitted", None, "Hồ sơ được nộp trực tuyến", 1),
            (2, "supplement_requested", "receive", "Yêu cầu bổ sung giấy khai sinh", 5),
            (3, "decision", "receive", "Tiếp nhận hồ sơ", 4),
        ]
    ],
    "calendar_day": [
        {"jurisdiction": "VN", "day": date(2025, 9, 1), "kind": "day_off", "reason": "Nghỉ bù Quốc khánh",
         "changed_at": at(1, 1)},
        {"jurisdiction": "79", "day": date(2025, 9, 6), "kind": "working_day", "reason": "Làm bù",
         "changed_at": at(1, 1)},
    ],
    "unit": [
        {"code": "VN", "name": "Chính phủ", "kind": "national", "parent_code": None, "area_code": None,
         "province_code": None, "active": True, "updated_at": at(1, 0)},
        {"code": UNIT, "name": "UBND Phường Sài Gòn", "kind": "commune", "parent_code": "H29", "area_code": "26734",
         "province_code": "79", "active": True, "updated_at": at(1, 0)},
    ],
    "officer": [
        {"officer_id": f"reception@{UNIT}", "full_name": "Trần Thị Bình", "unit_code": UNIT, "roles": ["reception"],
         "active": True, "updated_at": at(2, 1)},
        {"officer_id": f"leader@{UNIT}", "full_name": "Lê Văn Cường", "unit_code": UNIT,
         "roles": ["leader", "specialist"], "active": False, "updated_at": at(2, 1)},
    ],
    "delegation": [
        {"delegator_id": f"leader@{UNIT}", "delegate_id": f"reception@{UNIT}", "roles": ["leader"],
         "valid_from": date(2025, 7, 14), "valid_until": date(2025, 7, 25), "reason": "Nghỉ phép",
         "created_by": "admin", "created_at": at(13, 9), "revoked_at": None},
    ],
    "audit_entry": [
        {"at": at(13, 9), "actor_kind": "officer", "actor_id": "admin", "on_behalf_of": None, "unit_code": None,
         "channel": "cli", "action": "procedure.deploy", "target": "2.000635", "detail": {"version": 2}},
        {"at": at(14, 2, 16), "actor_kind": "portal", "actor_id": None, "on_behalf_of": "079123456789",
         "unit_code": UNIT, "channel": "portal", "action": "dossier.submit", "target": DOSSIER, "detail": {}},
    ],
    "issued_result": [
        {"id": "KQ-250716-8F2C", "dossier_code": DOSSIER, "document_id": "extract", "name": "Bản sao trích lục",
         "template": "civil-status-extract.html", "unit_code": UNIT, "unit_name": "UBND Phường Sài Gòn",
         "signer": f"leader@{UNIT}", "sha256": "d6" * 32, "html_sha256": "e7" * 32,
         "manifest": '{"html_sha256":"' + "e7" * 32 + '","sha256":"' + "d6" * 32 + '"}',
         "signature": "MEUCIQDk…", "signature_algorithm": "ecdsa-sha256",
         "certificate_chain_pem": "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n",
         "certificate_subject": f"CN={UNIT}", "html": "<p>Trích lục</p>".encode(), "pdf": b"%PDF-1.7\n\x00\xff",
         "issued_at": at(16, 8), "deposited_at": None, "store_reference": None, "deposit_refusal": "store offline"},
    ],
}  # fmt: skip


def insert_rows(connection: Connection) -> None:
    """Through the database's own tables as they are, not through today's models."""
    metadata = sa.MetaData()
    metadata.reflect(connection, only=list(ROWS))
    for table, rows in ROWS.items():
        connection.execute(sa.insert(metadata.tables[table]), rows)


def every_row(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection, only=list(ROWS))
        return {
            name: [dict(row._mapping) for row in connection.execute(sa.select(table).order_by(*table.primary_key))]
            for name, table in metadata.tables.items()
        }


def assert_intact(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> None:
    """Every row still there with every value it had (a later revision may add columns beside them, and a downgrade
    take those away again)."""
    assert {table: len(rows) for table, rows in before.items()} == {table: len(rows) for table, rows in ROWS.items()}
    for table, rows in before.items():
        kept = [{column: value for column, value in row.items() if column in ROWS[table][0]} for row in rows]
        assert [{column: row[column] for column in old} for old, row in zip(kept, after[table], strict=True)] == kept


def assert_trail_refuses_rewrites(engine: Engine) -> None:
    with engine.connect() as connection:
        for table in ("audit_entry", "dossier_event"):
            for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
                with pytest.raises(DatabaseError, match="append-only"):
                    connection.execute(sa.text(statement))
                connection.rollback()


# Revision 0002 dropped these single-column indexes: a unique constraint leading with the same column serves their
# lookups. (table, column, the lookup's order, the constraint whose index serves it, the index dropped)
SERVED_BY_A_CONSTRAINT = [
    ("dossier_event", "dossier_code", "seq", "uq_dossier_event_seq", "ix_dossier_event_dossier_code"),
    ("issued_result", "dossier_code", "document_id", "uq_issued_result_document", "ix_issued_result_dossier_code"),
    ("procedure_version", "code", "version", "uq_procedure_version", "ix_procedure_version_code"),
]
REDUNDANT_INDEXES_DROPPED_AT = "0002"


def assert_lookups_served_by_the_constraints_indexes(engine: Engine) -> None:
    """The redundant indexes are gone, and a lookup by their column still reads an index, not the whole table."""
    inspector = sa.inspect(engine)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE"))
            connection.execute(sa.text("SET enable_seqscan = off"))  # a few rows: make the planner show its choice
        for table, column, order, constraint, dropped in SERVED_BY_A_CONSTRAINT:
            assert dropped not in {index["name"] for index in inspector.get_indexes(table)}
            lookup = f"SELECT * FROM {table} WHERE {column} = '{ROWS[table][0][column]}' ORDER BY {order}"
            if engine.dialect.name == "postgresql":
                plan = "\n".join(connection.execute(sa.text(f"EXPLAIN {lookup}")).scalars())
                assert f"Index Scan using {constraint} on {table}" in plan and "Seq Scan" not in plan, plan
            else:  # SQLite names a unique constraint's index sqlite_autoindex_<table>_<n>
                plan = "\n".join(row[3] for row in connection.execute(sa.text(f"EXPLAIN QUERY PLAN {lookup}")))
                assert f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_" in plan, plan
                assert f"({column}=?)" in plan and "TEMP B-TREE" not in plan, plan  # read in order, no sort
        connection.rollback()


def test_a_fresh_installation_migrated_to_head_has_exactly_the_models_schema(engine):
    migrate(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        options = {"compare_type": True, "compare_server_default": True}
        assert compare_metadata(MigrationContext.configure(connection, opts=options), SQLModel.metadata) == []


def test_an_installation_at_the_first_revision_upgrades_with_every_row_intact(engine, database_url, monkeypatch):
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), FIRST_REVISION)
        insert_rows(connection)
    inspector = sa.inspect(engine)
    indexes = {index["name"] for table, *_ in SERVED_BY_A_CONSTRAINT for index in inspector.get_indexes(table)}
    assert {dropped for *_, dropped in SERVED_BY_A_CONSTRAINT} <= indexes  # the first revision's, before 0002
    before = every_row(engine)
    assert migrate(engine) == (FIRST_REVISION, head_revision())
    assert REDUNDANT_INDEXES_DROPPED_AT in revisions_between(FIRST_REVISION, head_revision())
    assert_intact(before, every_row(engine))
    assert_trail_refuses_rewrites(engine)
    assert_lookups_served_by_the_constraints_indexes(engine)
    assert admin(database_url, monkeypatch, "migrate", "--status").splitlines() == [
        f"current revision: {head_revision()}",
        f"head revision:    {head_revision()}",
    ]


def test_the_dropped_indexes_come_back_on_downgrade_to_the_first_revision(engine):
    migrate(engine)
    with engine.begin() as connection:
        insert_rows(connection)
    before = every_row(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    with engine.connect() as connection:
        metadata = first_revision_metadata()
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables,
            },
        )
        assert compare_metadata(context, metadata) == []  # exactly the first revision's tables and indexes again
    assert_intact(before, every_row(engine))
    assert_trail_refuses_rewrites(engine)  # no revision's downgrade copied the trail's tables without their triggers
    assert migrate(engine) == (FIRST_REVISION, head_revision())
    assert_lookups_served_by_the_constraints_indexes(engine)


def test_an_installation_from_before_migrations_is_adopted_and_upgraded_with_every_row_intact(engine):
    # What the start created before migrations: SQLModel.metadata.create_all of the models of the time, which the
    # first revision writes out (and were today's models until a revision after it).
    first_revision_metadata().create_all(engine)
    with engine.begin() as connection:
        insert_rows(connection)
    before = every_row(engine)
    init_db(engine)
    assert current_revision(engine) == head_revision()
    assert_intact(before, every_row(engine))
    assert_trail_refuses_rewrites(engine)  # even where the old start had not made it append-only yet
    assert_lookups_served_by_the_constraints_indexes(engine)


def test_tables_that_are_not_the_first_revisions_are_refused_rather_than_adopted(engine):
    first_revision_metadata().create_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_dossier_status"))
    with pytest.raises(UnknownSchema, match="ix_dossier_status"):
        init_db(engine)
    assert current_revision(engine) is None
    assert "alembic_version" not in sa.inspect(engine).get_table_names()


def test_a_process_told_not_to_migrate_refuses_a_database_behind_head(engine):
    with pytest.raises(SchemaNotAtHead, match="run `motcua-admin migrate`"):
        init_db(engine, migrate_schema=False)
    migrate(engine)
    init_db(engine, migrate_schema=False)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM unit")).scalar_one() > 0  # units seeded


def revisions_between(base: str, head: str) -> list[str]:
    return [script.revision for script in ScriptDirectory.from_config(alembic_config()).iterate_revisions(head, base)]


def admin(database_url: str, monkeypatch: pytest.MonkeyPatch, *arguments: str) -> str:
    """What `motcua-admin <arguments>` prints for the database, which must succeed."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(admin_cli, list(arguments))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def test_an_operator_migrates_with_motcua_admin_and_reads_the_revisions(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        status = runner.invoke(admin_cli, ["migrate", "--status"])
        assert status.exit_code == 0, status.output
        assert status.output.splitlines() == ["current revision: none", f"head revision:    {head_revision()}"]
        migrated = runner.invoke(admin_cli, ["migrate"])
        assert migrated.exit_code == 0, migrated.output
        assert migrated.output.splitlines() == ["revision before: none", f"revision after:  {head_revision()}"]
        again = runner.invoke(admin_cli, ["migrate", "--status"])
        assert again.output.splitlines()[0] == f"current revision: {head_revision()}"
        unknown = runner.invoke(admin_cli, ["migrate", "--to", "9999"])
        assert unknown.exit_code == 1 and "not migrated" in unknown.output
    finally:
        get_settings.cache_clear()
