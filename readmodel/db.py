"""One SQLAlchemy engine per process for the read model (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, create_engine

from readmodel import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


@lru_cache
def engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread-pool worker, kept: a new SQLite connection starts with a cold page cache.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=40, max_overflow=10
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the API read while the worker writes; busy_timeout makes two writers wait, not fail.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _use_write_ahead_log(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _use_write_ahead_log(cursor: sqlite3.Cursor) -> None:
    # Switching a fresh file to WAL takes an exclusive lock, and when processes starting together race for it SQLite
    # answers "database is locked" at once instead of waiting (its busy handler stands aside to avoid a deadlock).
    # The mode is stored in the file: once one process has switched it, the others find it done.
    for attempt in range(1, 61):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 60:
                raise
            time.sleep(min(0.01 * attempt, 0.25))


APPEND_ONLY_TABLES = ("audit_entry", "dossier_event")


def init_db(engine: Engine) -> None:
    from readmodel.organisation import seed_units

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


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Everything is stored in UTC; this also reads naive values written by other tools as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def release(session: Session) -> None:
    """Hand the session's connection back to the pool, keeping the rows it loaded (detached, as loaded).

    Requests that go on to await the workflow engine call this first, so a slow answer never holds a
    database connection other requests need."""
    session.expunge_all()
    session.rollback()
