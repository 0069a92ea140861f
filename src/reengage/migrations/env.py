"""Alembic environment: the URL comes from the caller's config (``reengage db upgrade``) or the
environment, and SQLite runs in batch mode so ALTERs work there too."""

from __future__ import annotations

from alembic import context

from reengage import models  # noqa: F401  (registers every table)
from reengage.config import get_settings
from reengage.db.base import Base
from reengage.db.engine import make_engine

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
