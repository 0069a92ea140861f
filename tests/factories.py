"""Small factories for orgs, keys and records. Every person here is generated and fake."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.auth import service as auth_service
from reengage.db.engine import make_sessionmaker
from reengage.domain.vocabulary import ROLES
from reengage.orgs import service as orgs_service


@dataclass
class OrgFixture:
    id: str
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def url(self, path: str) -> str:
        return f"/api/v1/orgs/{self.id}{path}"

    def analytics(self, path: str) -> str:
        return f"/api/v1/reengagement/{self.id}{path}"


def make_org(engine: Engine, timezone: str = "UTC") -> OrgFixture:
    org_id = f"org_{uuid.uuid4().hex[:12]}"
    fixture = OrgFixture(id=org_id)
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, org_id, f"Test clinic {org_id}", timezone)
        for role in ROLES:
            row, key = auth_service.create_key(session, org_id, role)
            fixture.keys[role] = key
            fixture.key_ids[role] = row.id
        session.commit()
    return fixture


def patient(pid: str = "p1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": pid,
        "name": "Avery Testpatient",
        "phone": "+61400000001",
        "email": "avery.testpatient@example.org",
        "status": "active",
        "registered_at": "2026-01-05T09:00:00+10:00",
        "communication_preferences": ["sms", "email"],
        "opt_outs": [],
        "health_conditions": ["lower back pain"],
        "referral_source": "GP referral",
        "last_treatment_outcome": "improving",
    }
    record.update(overrides)
    return record


def appointment(aid: str = "a1", patient_id: str = "p1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": aid,
        "patient_id": patient_id,
        "starts_at": "2026-02-01T10:00:00+10:00",
        "status": "completed",
        "booked_at": "2026-01-20T15:30:00+10:00",
        "type": "follow-up",
        "practitioner": "prac-1",
    }
    record.update(overrides)
    return record


def communication(cid: str = "c1", patient_id: str = "p1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": cid,
        "patient_id": patient_id,
        "channel": "sms",
        "direction": "outbound",
        "sent_at": "2026-03-01T09:00:00+10:00",
        "delivered_at": "2026-03-01T09:00:05+10:00",
        "responded_at": "2026-03-01T10:12:00+10:00",
    }
    record.update(overrides)
    return record


def followup(fid: str = "f1", patient_id: str = "p1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": fid,
        "patient_id": patient_id,
        "due_at": "2026-03-10T09:00:00+10:00",
        "reason": "check home exercise program",
    }
    record.update(overrides)
    return record


def outbound(cid: str, pid: str, channel: str, sent_at: str, **timestamps: Any) -> dict[str, Any]:
    """An outreach attempt carrying only the timestamps given."""
    return (
        communication(
            cid, pid, channel=channel, sent_at=sent_at, delivered_at=None, responded_at=None
        )
        | timestamps
    )


def inbound(cid: str, pid: str, sent_at: str) -> dict[str, Any]:
    return communication(
        cid, pid, direction="inbound", sent_at=sent_at, delivered_at=None, responded_at=None
    )


def load_clinic(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
) -> OrgFixture:
    """A new org in ``zone`` holding the clinic, with booked patients engaged or not."""
    org = make_org(engine, timezone=zone)
    if not booked_engaged:
        r = client.patch(
            org.url("/settings"),
            json={"booked_patients_are_engaged": False},
            headers=org.headers(),
        )
        assert r.status_code == 200
    r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
    assert r.status_code == 200, r.text
    return org


OVERVIEW_AS_OF = "2026-06-30T12:00:00+00:00"
OVERVIEW_NOW = datetime.fromisoformat(OVERVIEW_AS_OF)


def _visit(aid: str, pid: str, day: str, status: str = "completed") -> dict[str, Any]:
    return appointment(aid, pid, starts_at=f"{day}T10:00:00+00:00", booked_at=None, status=status)


def _clinic() -> dict[str, list[dict[str, Any]]]:
    """An org in UTC, seen at 2026-06-30 12:00 (the last 7 days: 06-24..06-30; the last 30:
    06-01..06-30; the 30 before: 05-02..05-31).

    - A: last visit 05-01 (60 days: critical, at risk since 05-15); SMS on 06-25.
    - B: last visit 05-20 (41 days: high); never contacted.
    - C: last visit 05-01 (at risk since 05-15); a call on 06-10 connects and books a visit
      for 07-05: reached while at risk, reengaged that day, engaged now.
    - D: last visit 05-25 (36 days: high, at risk since 06-08); an SMS on 06-20, unanswered.
    - E: a visit on 06-28 (engaged).
    - F: discharged; would be critical, but is not in the population.
    - G: last visit 04-01 (at risk since 04-15); an SMS on 05-20, answered on 05-21 with a
      booking for 07-10: the previous window's one reached and reengaged patient.
    """
    patients = [patient(pid, registered_at="2026-01-05T09:00:00+00:00") for pid in "ABCDEG"] + [
        patient("F", status="discharged", registered_at="2026-01-05T09:00:00+00:00")
    ]
    appointments = [
        _visit("a-A", "A", "2026-05-01"),
        _visit("a-B", "B", "2026-05-20"),
        _visit("a-C", "C", "2026-05-01"),
        appointment(
            "a-C2",
            "C",
            starts_at="2026-07-05T10:00:00+00:00",
            booked_at="2026-06-10T10:30:00+00:00",
            status="scheduled",
        ),
        _visit("a-D", "D", "2026-05-25"),
        _visit("a-E", "E", "2026-06-28"),
        _visit("a-F", "F", "2026-04-01"),
        _visit("a-G", "G", "2026-04-01"),
        appointment(
            "a-G2",
            "G",
            starts_at="2026-07-10T10:00:00+00:00",
            booked_at="2026-05-21T11:00:00+00:00",
            status="scheduled",
        ),
    ]
    communications = [
        outbound("c-A", "A", "sms", "2026-06-25T09:00:00+00:00"),
        outbound(
            "c-C",
            "C",
            "phone",
            "2026-06-10T10:00:00+00:00",
            connected_at="2026-06-10T10:00:30+00:00",
        ),
        outbound("c-D", "D", "sms", "2026-06-20T09:00:00+00:00"),
        outbound(
            "c-G",
            "G",
            "sms",
            "2026-05-20T09:00:00+00:00",
            delivered_at="2026-05-20T09:00:05+00:00",
            responded_at="2026-05-21T08:00:00+00:00",
        ),
    ]
    return {"patients": patients, "appointments": appointments, "communications": communications}


def kpi_clinic() -> dict[str, list[dict[str, Any]]]:
    """The clinic of ``tests/outreach/test_kpis_api.py`` (worked out in its docstring)."""
    registered = {"registered_at": "2026-01-05T09:00:00+00:00"}
    return {
        "patients": [patient(f"P{i}", **registered) for i in range(1, 7)],
        "appointments": [
            _visit("v1", "P1", "2026-05-01"),
            _visit("v2", "P2", "2026-05-10"),
            appointment(
                "b2",
                "P2",
                starts_at="2026-07-10T10:00:00+00:00",
                booked_at="2026-06-03T10:05:00+00:00",
                status="scheduled",
            ),
            _visit("v3", "P3", "2026-06-01"),
            _visit("v4", "P4", "2026-04-01"),
            appointment(
                "b4",
                "P4",
                starts_at="2026-05-12T10:00:00+00:00",
                booked_at="2026-05-05T11:00:00+00:00",
                status="completed",
            ),
            _visit("v5", "P5", "2026-06-28"),
            _visit("v6", "P6", "2026-06-25"),
        ],
        "communications": [
            outbound("c1", "P1", "sms", "2026-05-25T09:00:00+00:00"),
            outbound(
                "c2",
                "P2",
                "phone",
                "2026-06-03T10:00:00+00:00",
                connected_at="2026-06-03T10:00:20+00:00",
            ),
            outbound(
                "c3",
                "P3",
                "sms",
                "2026-06-17T09:00:00+00:00",
                delivered_at="2026-06-17T09:00:05+00:00",
                responded_at="2026-06-17T15:00:00+00:00",
            ),
            outbound(
                "c4",
                "P4",
                "sms",
                "2026-05-05T09:00:00+00:00",
                delivered_at="2026-05-05T09:00:05+00:00",
                responded_at="2026-05-05T10:30:00+00:00",
            ),
        ],
    }


def load_kpi_clinic(client: TestClient, org: OrgFixture, **kpis: Any) -> None:
    """``kpi_clinic`` in ``org``, its success metrics over 30 days (``kpis``: more settings)."""
    r = client.patch(
        org.url("/settings"), json={"kpis": {"period_days": 30} | kpis}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    r = client.post(org.url("/batch"), json=kpi_clinic(), headers=org.headers())
    assert r.status_code == 200, r.text
