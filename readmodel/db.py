"""One SQLAlchemy engine per process for the read model (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


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


@lru_cache
def reader_for(url: str) -> Engine:
    """The engine of the citizens' status polls. On PostgreSQL each round trip to the server costs more than the
    read itself, so a poll's statement runs as its own transaction (no BEGIN and ROLLBACK around it) on a connection
    taken without a ping; the caller reads once more when the server restarted under a pooled connection. Polls run
    on the API's event loop, so a server that stops answering must not hold it for long: connecting, each statement,
    each lock wait and a silent connection are bounded."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return engine_for(url)
    # Added to the URL's own options, if any. A server that goes silent mid-statement is given up by the kernel after
    # tcp_user_timeout instead of TCP's quarter of an hour; a poll behind a migration's lock waits briefly.
    options = " ".join(filter(None, [parsed.query.get("options"), "-c statement_timeout=3000 -c lock_timeout=500"]))
    return create_engine(
        parsed.difference_update_query(["options"]),
        isolation_level="AUTOCOMMIT",
        pool_size=4,
        max_overflow=4,
        connect_args={
            "connect_timeout": 3,
            "options": options,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 3,
            "keepalives_count": 3,
            "tcp_user_timeout": 5000,
        },
    )


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
