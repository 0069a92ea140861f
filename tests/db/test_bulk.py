"""The bulk writer stores exactly what SQLAlchemy's own INSERT stores, on every test
database: the same raw values (SQLite's instants as text, JSON as text), read back alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, insert, select, text

from reengage.db import bulk
from reengage.demo.generator import rows
from reengage.models import Appointment, Communication, Followup, Patient
from tests.factories import make_org

AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
MODELS = (Patient, Appointment, Communication, Followup)


def _raw(engine: Engine, table: Any, org_id: str) -> list[tuple[Any, ...]]:
    """The stored values as the driver returns them, without the column types' processing."""
    columns = ", ".join(c.name for c in table.columns if c.name != "org_id")
    with engine.connect() as conn:
        query = text(f"SELECT {columns} FROM {table.name} WHERE org_id = :o ORDER BY id")
        return [tuple(row) for row in conn.execute(query, {"o": org_id})]


def test_the_bulk_writer_stores_what_core_inserts_store(engine: Engine) -> None:
    fast, core = make_org(engine), make_org(engine)
    clinic = {org.id: rows(org.id, 40, 3, AS_OF, "Australia/Sydney") for org in (fast, core)}
    # An instant in another offset, and one with no microseconds: converted alike.
    east = timezone(timedelta(hours=10))
    for org in (fast, core):
        first = clinic[org.id]["patients"][0]
        first["registered_at"] = datetime(2025, 1, 2, 9, 30, tzinfo=east)
    with engine.begin() as conn:
        write = bulk.writer(conn)
        for model in MODELS:
            table: Any = model.__table__
            write(table, clinic[fast.id][table.name])
            conn.execute(insert(table), clinic[core.id][table.name])
    for model in MODELS:
        table = model.__table__
        stored = _raw(engine, table, fast.id)
        assert stored == _raw(engine, table, core.id)
        assert len(stored) == len(clinic[fast.id][table.name]) > 0
    with engine.connect() as conn:
        registered = conn.scalar(
            select(Patient.registered_at).where(
                Patient.org_id == fast.id, Patient.id == clinic[fast.id]["patients"][0]["id"]
            )
        )
    assert registered == datetime(2025, 1, 1, 23, 30, tzinfo=UTC)
