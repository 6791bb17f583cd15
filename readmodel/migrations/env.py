"""Alembic's environment for the read model.

motcua hands it a connection (readmodel/migrations_runner.py, under the migration lock); the `alembic` command
line of developers (alembic.ini) connects to the settings' database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from infrastructure.settings import get_settings
from readmodel import tables  # noqa: F401  (autogenerate compares the models with the database)


def render_plain_types(type_: str, item: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes plain SQLAlchemy types, so that a revision never needs sqlmodel's to run."""
    if type_ != "type":
        return False
    if isinstance(item, AutoString):
        return f"sa.String({item.impl.length})" if item.impl.length else "sa.String()"
    if isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=SQLModel.metadata,
        # SQLite alters a table by copying it: autogenerate writes batch operations, which work on both databases.
        render_as_batch=True,
        render_item=render_plain_types,
        **options,
    )


def run_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


given: Connection | None = context.config.attributes.get("connection")
if context.is_offline_mode():
    configure(url=get_settings().sqlalchemy_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif given is not None:
    run_on(given)
else:
    engine = sa.create_engine(get_settings().sqlalchemy_url)
    with engine.begin() as connection:
        run_on(connection)
    engine.dispose()
