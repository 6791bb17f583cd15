"""Bringing the read model's database to the schema this version of motcua expects, with Alembic.

Processes starting together (API, workers, `motcua-admin migrate`) migrate one at a time under a lock; the first
finds work to do, the others find the database at head. A database made before migrations is adopted at the first
revision once its tables are found to be that revision's."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_FOLDER = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
# A session-level advisory lock, its number any other of motcua's locks does not use.
_POSTGRES_MIGRATION_LOCK = 20251702


class SchemaNotAtHead(RuntimeError):
    """The database is behind (or ahead of) this version of motcua, and the process was told not to migrate."""


class UnknownSchema(RuntimeError):
    """Tables are there without Alembic's record of them, and they are not the first revision's."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `target` (adopting a database made before migrations first): the revisions before and after."""
    with migration_lock(engine), engine.begin() as connection:
        revisions = MigrationContext.configure(connection)
        before = revisions.get_current_revision()
        if before is None and _first_revision_tables_present(connection):
            _adopt(connection)
        command.upgrade(alembic_config(connection), target)
        return before, revisions.get_current_revision()


def require_head(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        found = f"is at revision {current}" if current else "has never been migrated"
        raise SchemaNotAtHead(
            f"the read model's database {found}, this version of motcua needs revision {head}, and "
            "MIGRATE_ON_START is off: run `motcua-admin migrate`"
        )


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while migrating, so that processes starting together never race on the schema."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        with _postgres_advisory_lock(engine):
            yield
    elif engine.dialect.name == "sqlite" and database and database != ":memory:":
        # Beside the database file, and left there: removing a lock file others may be waiting on splits the lock.
        with _file_lock(Path(f"{database}.migration-lock")):
            yield
    else:  # an in-memory database is its process's alone
        yield


@contextmanager
def _postgres_advisory_lock(engine: Engine) -> Iterator[None]:
    # On a connection of its own, in autocommit: the lock outlives the migration's transaction and never holds one
    # open. A pooled connection would keep a session lock, hence the explicit unlock.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _first_revision() -> ModuleType:
    script = _scripts().get_revision(FIRST_REVISION)
    assert script is not None
    return script.module


def first_revision_metadata() -> sa.MetaData:
    """The tables of the first revision: what motcua's start created before migrations."""
    metadata = sa.MetaData()
    _first_revision().declare_tables(metadata)
    return metadata


def _first_revision_tables_present(connection: Connection) -> bool:
    present = set(sa.inspect(connection).get_table_names())
    return bool(present & set(first_revision_metadata().tables))


def _adopt(connection: Connection) -> None:
    """Record a database made before migrations as the first revision, once its tables are found to be exactly
    that revision's; anything else is refused rather than stamped, since later revisions would build on it."""
    metadata = first_revision_metadata()
    differences = compare_metadata(
        MigrationContext.configure(
            connection,
            # Only the read model's tables: whatever else shares the database is not ours to judge.
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables,
            },
        ),
        metadata,
    )
    if differences:
        listed = "\n".join(f"  {difference}" for difference in differences)
        raise UnknownSchema(
            f"the read model's tables are not those of revision {FIRST_REVISION}, and the database records no "
            f"revision: motcua will not guess which revision they are. Differences (add_…: the revision has it and "
            f"the database not; remove_…: the other way round):\n{listed}"
        )
    # The old start made the trail append-only after creating the tables; a crash in between left it undone.
    for statement in _first_revision().append_only_statements(connection.dialect.name):
        connection.execute(sa.text(statement))
    MigrationContext.configure(connection).stamp(_scripts(), FIRST_REVISION)
