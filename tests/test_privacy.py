"""Patient data stays out of logs, error bodies and reprs; the audit log records ids only.

Logs are captured at DEBUG from the root logger, so any library logging below the app's own
level (SQL statements, result rows, server tracebacks) counts too.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reengage.app import create_app
from reengage.db.engine import make_sessionmaker
from reengage.models import AuditEntry, Patient
from tests.factories import OrgFixture, appointment, communication, followup, patient
from tests.helpers import (
    BAD_EMAIL,
    BAD_PHONE,
    CONDITION,
    EMAIL,
    NAME,
    PHONE,
    assert_no_phi,
    logged_text,
    problems,
)
from tests.live_server import live_server


def phi_patient(pid: str = "p1", **overrides: Any) -> dict[str, Any]:
    fields = {"name": NAME, "phone": PHONE, "email": EMAIL, "health_conditions": [CONDITION]}
    return patient(pid, **(fields | overrides))


def test_logs_hold_no_patient_data(
    client: TestClient,
    org: OrgFixture,
    other_org: OrgFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    staff = org.headers("staff")
    r = client.put(org.url("/patients/p1"), json=phi_patient(), headers=staff)
    assert r.status_code == 201
    batch = {
        "patients": [phi_patient("p2")],
        "appointments": [appointment("a1", "p1")],
        "communications": [communication("c1", "p2")],
        "followups": [followup("f1", "p1")],
    }
    assert client.post(org.url("/batch"), json=batch, headers=staff).status_code == 200
    assert client.put(org.url("/patients/p1"), json=phi_patient(), headers=staff).status_code == 200
    got = client.get(org.url("/patients/p1"), headers=staff)
    assert got.json()["name"] == NAME  # the data is really there to be leaked
    assert client.get(org.url("/patients"), headers=staff).json()["total"] == 2
    assert client.get(org.url("/patients/p1"), headers=org.headers("viewer")).status_code == 403
    assert client.get(other_org.url("/patients/p1"), headers=staff).status_code == 404

    refusals = [
        client.put(org.url("/patients/p3"), json=phi_patient("p3", phone=BAD_PHONE), headers=staff),
        client.put(org.url("/patients/p3"), json=phi_patient("p3", email=BAD_EMAIL), headers=staff),
        client.post(
            org.url("/batch"),
            json={"patients": [phi_patient("p4", phone=BAD_PHONE, email=BAD_EMAIL)]},
            headers=staff,
        ),
        client.put(org.url("/patients/p5"), json=phi_patient("p5", status=NAME), headers=staff),
        client.put(org.url("/patients/p6"), json=phi_patient("p6", nickname=NAME), headers=staff),
    ]
    assert set(problems(refusals[0])) == {"phone"}
    assert set(problems(refusals[1])) == {"email"}
    assert set(problems(refusals[2])) == {"patients[0].phone", "patients[0].email"}
    for refusal in refusals:
        assert refusal.status_code == 422
        assert_no_phi(refusal.text)  # a refused value is never echoed back

    assert caplog.records, "nothing was captured: the check would prove nothing"
    assert any(r.name == "reengage.access" for r in caplog.records)
    assert_no_phi(logged_text(caplog.records))


def _failing_app(engine: Engine) -> FastAPI:
    app = create_app(engine=engine)

    @app.get("/api/v1/orgs/{org_id}/explode")
    def explode(org_id: str) -> None:
        raise ValueError(f"could not process patient {NAME} ({PHONE})")

    return app


def test_unexpected_error_answers_500_with_an_id_and_logs_no_message(
    engine: Engine, org: OrgFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # raise_server_exceptions=True: an exception escaping the app would fail this test.
    with TestClient(_failing_app(engine)) as client:
        r = client.get(org.url("/explode"), headers=org.headers())
    assert r.status_code == 500
    detail = r.json()["detail"]
    assert "error id" in detail
    assert_no_phi(r.text)
    error_id = detail.split("error id ")[1].split()[0]
    errors = [rec for rec in caplog.records if rec.name == "reengage.errors"]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert f"id={error_id}" in message and "type=ValueError" in message
    assert "route=/api/v1/orgs/{org_id}/explode" in message
    access = [rec.getMessage() for rec in caplog.records if rec.name == "reengage.access"]
    assert any("status=500" in line for line in access)
    assert_no_phi(logged_text(caplog.records))


def test_unexpected_error_reaches_no_server_log(
    engine: Engine, org: OrgFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """Under uvicorn, as ``reengage serve`` runs it: the server logs nothing of the error."""
    caplog.set_level(logging.DEBUG)
    with live_server(_failing_app(engine)) as base:
        r = httpx.get(f"{base}{org.url('/explode')}", headers=org.headers(), timeout=10)
    assert r.status_code == 500
    assert "error id" in r.json()["detail"]
    assert [rec for rec in caplog.records if rec.name == "reengage.errors"]
    assert not [
        rec for rec in caplog.records if rec.levelno >= logging.ERROR and "uvicorn" in rec.name
    ]
    assert_no_phi(logged_text(caplog.records))


def audit_rows(engine: Engine, org_id: str) -> list[dict[str, Any]]:
    table: Any = AuditEntry.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.org_id == org_id).order_by(table.c.id))
        return [dict(row) for row in rows.mappings()]


def test_reads_and_writes_are_audited_by_id(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    admin = org.headers()
    body = {
        "patients": [phi_patient("p1"), phi_patient("p2"), phi_patient("p3")],
        "appointments": [appointment("a1", "p3"), appointment("a2", "p1")],
    }
    assert client.post(org.url("/batch"), json=body, headers=admin).status_code == 200
    written = audit_rows(engine, org.id)
    assert len(written) == 1
    assert written[0]["action"] == "write"
    assert written[0]["route"] == "/api/v1/orgs/{org_id}/batch"
    assert written[0]["patient_ids"] == ["p1", "p2", "p3"]
    assert written[0]["record_count"] == 5

    staff_key = org.key_ids["staff"]
    r = client.get(org.url("/patients/p2"), headers=org.headers("staff"))
    assert r.status_code == 200
    entry = audit_rows(engine, org.id)[-1]
    assert {k: entry[k] for k in ("org_id", "key_id", "role", "method", "route", "action")} == {
        "org_id": org.id,
        "key_id": staff_key,
        "role": "staff",
        "method": "GET",
        "route": "/api/v1/orgs/{org_id}/patients/{record_id}",
        "action": "read",
    }
    assert entry["patient_ids"] == ["p2"]
    assert entry["record_count"] == 1
    assert entry["client_ip"] is None  # the test client's "testclient" is no address
    assert entry["at"] is not None

    page = client.get(org.url("/patients"), params={"limit": 2, "offset": 1}, headers=admin)
    assert [item["id"] for item in page.json()["items"]] == ["p2", "p3"]
    entry = audit_rows(engine, org.id)[-1]
    assert entry["route"] == "/api/v1/orgs/{org_id}/patients"
    assert entry["patient_ids"] == ["p2", "p3"]
    assert entry["key_id"] == org.key_ids["admin"]

    # A list of appointments names the patients whose appointments were read.
    client.get(org.url("/appointments"), headers=admin)
    assert audit_rows(engine, org.id)[-1]["patient_ids"] == ["p1", "p3"]

    rows = audit_rows(engine, org.id)
    assert_no_phi(repr(rows))


def test_refused_requests_read_nothing_and_audit_nothing(
    client: TestClient, engine: Engine, org: OrgFixture, other_org: OrgFixture
) -> None:
    assert (
        client.put(org.url("/patients/p1"), json=phi_patient(), headers=org.headers()).status_code
        == 201
    )
    before = audit_rows(engine, org.id)
    attempts = [
        client.get(org.url("/patients/p1"), headers=org.headers("viewer")),
        client.get(org.url("/patients"), headers=org.headers("ingest")),
        client.get(org.url("/patients/p1"), headers=other_org.headers("admin")),
        client.get(org.url("/patients"), headers=other_org.headers("staff")),
        client.get(org.url("/patients/p1")),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 404, 404, 401]
    for r in attempts:
        assert_no_phi(r.text)
        assert "p1" not in r.text
    assert audit_rows(engine, org.id) == before
    assert audit_rows(engine, other_org.id) == []


def test_model_repr_shows_ids_only(client: TestClient, engine: Engine, org: OrgFixture) -> None:
    assert (
        client.put(org.url("/patients/p1"), json=phi_patient(), headers=org.headers()).status_code
        == 201
    )
    with make_sessionmaker(engine)() as session:
        row = session.get(Patient, (org.id, "p1"))
        assert row is not None and row.name == NAME
        assert repr(row) == f"<Patient org_id={org.id!r}, id='p1'>"
        assert_no_phi(repr(row) + str(row))
