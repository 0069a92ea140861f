"""Small factories for orgs, keys and records. Every person here is generated and fake."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

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
