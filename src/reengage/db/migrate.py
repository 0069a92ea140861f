"""Run Alembic programmatically, so ``reengage db upgrade`` works from any installed copy."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def head_revisions() -> set[str]:
    """The newest schema this code knows, from the migration scripts (no database)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def database_revisions(connection: Connection) -> set[str]:
    """The schema the database is at (empty: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def current_revision_is_head(database_url: str) -> bool:
    """True when the database is at the newest schema (used to refuse serving a stale one)."""
    from reengage.db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            current = database_revisions(connection)
    finally:
        engine.dispose()
    return current == head_revisions()
