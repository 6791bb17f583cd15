"""Bringing a database to the read model: migrated to the schema this version expects (or found there), and a fresh
installation given the shipped registry of units."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from readmodel.migrations_runner import migrate, require_head
from readmodel.organisation import seed_units


def init_db(engine: Engine, *, migrate_schema: bool = True) -> None:
    """Without `migrate_schema` the operator migrates explicitly (`motcua-admin migrate`): a database not at head
    is refused (SchemaNotAtHead) rather than used."""
    if migrate_schema:
        migrate(engine)
    else:
        require_head(engine)
    seed_units(engine)
