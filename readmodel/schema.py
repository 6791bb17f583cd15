"""Bringing a database to the read model: tables created, the audit trail made append-only, and a fresh
installation given the shipped registry of units."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from readmodel import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from readmodel.organisation import seed_units

APPEND_ONLY_TABLES = ("audit_entry", "dossier_event")


def init_db(engine: Engine) -> None:
    _create_tables(engine)
    _make_append_only(engine)
    seed_units(engine)


def _create_tables(engine: Engine) -> None:
    """Create what is missing; processes starting together (API, workers) must not trip over each other."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(20251700)"))
            SQLModel.metadata.create_all(connection)
        return
    for attempt in range(1, 11):
        try:
            SQLModel.metadata.create_all(engine)
            return
        except OperationalError as exc:
            # Another process created a table between our look and our CREATE: look again.
            if "already exists" not in str(exc) or attempt == 10:
                raise
            time.sleep(0.05 * attempt)


def _make_append_only(engine: Engine) -> None:
    """The audit trail cannot be rewritten through the database either: UPDATE and DELETE are refused."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(20251701)"))  # two processes starting together
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION motcua_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only (%)', TG_TABLE_NAME; END $$"
                )
            )
            for table in APPEND_ONLY_TABLES:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
                connection.execute(
                    text(
                        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION motcua_append_only()"
                    )
                )
        elif engine.dialect.name == "sqlite":
            for table in APPEND_ONLY_TABLES:
                for operation in ("UPDATE", "DELETE"):
                    connection.execute(
                        text(
                            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                            "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
                        )
                    )
