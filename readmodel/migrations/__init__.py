"""Alembic's migrations of the read model (a package, so that an installed wheel carries them)."""
