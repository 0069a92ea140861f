"""The migrations build exactly the tables the models describe, on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

import reengage.models  # noqa: F401  (registers every table)
from reengage.app import create_app
from reengage.cli import app as cli_app
from reengage.config import get_settings
from reengage.db import migrate
from reengage.db.base import Base
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.derived import upkeep
from reengage.models import DerivedStatus, PatientState
from reengage.orgs import service as orgs_service
from tests.conftest import empty_database
from tests.factories import appointment, make_org, outbound, patient


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the suite's, for migrating step by step."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with empty_database(kind, tmp_path) as url:
        yield url


def test_0007_sets_existing_orgs_aside_until_their_rows_are_rebuilt(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written before 0007 lack the list's all-time figures: the org answers from its
    derived rows without the stored standings until a rebuild fills them."""
    migrate.upgrade(fresh_url, "0006")
    engine = make_engine(fresh_url)
    try:
        org = make_org(engine, timezone="Australia/Sydney")
        with make_sessionmaker(engine)() as session:
            assert session.get(DerivedStatus, org.id) is not None  # a new org has one
        monkeypatch.setenv("REENGAGE_DATABASE_URL", fresh_url)
        get_settings.cache_clear()
        try:
            upgraded = CliRunner().invoke(cli_app, ["db", "upgrade"])
        finally:
            get_settings.cache_clear()
        assert upgraded.exit_code == 0, upgraded.output
        assert f"{org.id}: answers correctly but more slowly until 'reengage state rebuild" in (
            upgraded.output
        )
        indexes = {i["name"] for i in inspect(engine).get_indexes("communications")}
        assert "ix_communications_org_patient_sent_at" in indexes
        assert "ix_communications_org_patient" not in indexes
        with make_sessionmaker(engine)() as session:
            assert session.get(DerivedStatus, org.id) is None

        with TestClient(create_app(engine=engine)) as client:
            clinic = {
                "patients": [patient("p1")],
                "appointments": [
                    appointment("a1", starts_at="2026-10-01T09:00:00+10:00", status="completed"),
                    appointment("a2", starts_at="2026-10-08T18:00:00+10:00", status="completed"),
                ],
                "communications": [
                    outbound(
                        "c1",
                        "p1",
                        "sms",
                        "2026-10-20T09:00:00+10:00",
                        responded_at="2026-10-20T19:30:00+11:00",
                    ),
                    outbound("c2", "p1", "phone", "2026-10-21T09:00:00+11:00"),
                ],
            }
            r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
            assert r.status_code == 200, r.text
            with make_sessionmaker(engine)() as session:
                assert session.get(DerivedStatus, org.id) is None  # a write does not make one
                upkeep.rebuild(session, org.id, orgs_service.get_settings(session, org.id))
                session.commit()
                row = session.get(PatientState, (org.id, "p1"))
                assert row is not None
                assert (row.completed, row.attempts) == (2, 2)
                assert (row.successes_morning, row.successes_evening) == (0, 1)
            r = client.get(
                f"/api/v1/reengagement/{org.id}/patients/prioritized",
                params={"as_of": "2026-11-24T06:00:00Z"},
                headers=org.headers(),
            )
            assert r.status_code == 200, r.text
            (entry,) = r.json()["patients"]
            assert entry["total_lifetime_appointments"] == 2
            assert entry["previous_response_rate"] == 50.0
            assert entry["best_contact_time"] == "evening"
            assert entry["last_appointment_date"] == "2026-10-08"
            with make_sessionmaker(engine)() as session:
                status = session.get(DerivedStatus, org.id)
                assert status is not None and status.standings_at is not None  # kept path
    finally:
        engine.dispose()


def _audit_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT org_id, id, route, record_count FROM audit_log"))
        return sorted(tuple(row) for row in rows)


def _without_ids(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((org_id, route, count) for org_id, _, route, count in rows)


def test_0008_keys_the_audit_log_by_org_and_keeps_every_entry(fresh_url: str) -> None:
    """Entries written before 0008 stay as they were; after it, each org's new entries
    take ids after its own largest (SQLite) or from the sequence (PostgreSQL), and the
    step goes back down and up again without losing one."""
    migrate.upgrade(fresh_url, "0007")
    engine = make_engine(fresh_url)
    try:
        first, second = make_org(engine), make_org(engine)
        with engine.begin() as conn:  # as the code before 0008 wrote them: the id left out
            for n, org in enumerate((first, second, first)):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (org_id, key_id, role, method, route, action,"
                        " patient_ids, record_count, client_ip, at) VALUES (:org, 'k', 'staff',"
                        " 'GET', '/old', 'read', '[]', :n, NULL, '2026-12-01 00:00:00')"
                    ),
                    {"org": org.id, "n": n},
                )
        before = _audit_rows(engine)
        assert [row[0] for row in before].count(first.id) == 2
        migrate.upgrade(fresh_url, "head")
        assert _audit_rows(engine) == before
        key = inspect(engine).get_pk_constraint("audit_log")["constrained_columns"]
        assert key == ["org_id", "id"]
        with TestClient(create_app(engine=engine)) as client:
            for org in (first, second):
                r = client.get(org.url("/patients"), headers=org.headers())
                assert r.status_code == 200, r.text
        after = _audit_rows(engine)
        assert set(before) < set(after) and len(after) == len(before) + 2
        for org in (first, second):
            ids = [row[1] for row in after if row[0] == org.id]
            assert len(ids) == len(set(ids))
            newest = [row[1] for row in after if row[0] == org.id and row not in before]
            assert newest[0] > max(row[1] for row in before if row[0] == org.id)
        command.downgrade(migrate.alembic_config(fresh_url), "0007")
        assert inspect(engine).get_pk_constraint("audit_log")["constrained_columns"] == ["id"]
        down = _audit_rows(engine)
        assert _without_ids(down) == _without_ids(after)  # SQLite numbers them anew
        assert len({row[1] for row in down}) == len(down)
        migrate.upgrade(fresh_url, "head")
        assert _audit_rows(engine) == down
    finally:
        engine.dispose()
