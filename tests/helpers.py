"""Assertions and database snapshots shared by the API tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, select

from reengage.models import Appointment, AuditEntry, Communication, Followup, Patient

RECORD_MODELS = {
    "patients": Patient,
    "appointments": Appointment,
    "communications": Communication,
    "followups": Followup,
}
# What a refused request must leave untouched: every record table, and the audit log.
SNAPSHOT_MODELS = {**RECORD_MODELS, "audit_log": AuditEntry}


def problems(response: httpx.Response) -> dict[str, str]:
    """``{field: reason}`` of a 422, after checking the error shape every refusal shares."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    found: dict[str, str] = {}
    for problem in detail:
        assert set(problem) == {"field", "reason", "loc", "type"}, problem
        assert isinstance(problem["reason"], str) and problem["reason"].strip(), problem
        # A reason is words: never the regular expression a value failed to match.
        assert "^" not in problem["reason"] and "]{" not in problem["reason"], problem
        found.setdefault(problem["field"], problem["reason"])
    return found


def snapshot(engine: Engine, org_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row the org has in the record tables and the audit log, in a stable order."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, model in SNAPSHOT_MODELS.items():
            table: Any = model.__table__
            rows = conn.execute(
                select(table).where(table.c.org_id == org_id).order_by(table.c.id)
            ).mappings()
            out[name] = [dict(row) for row in rows]
    return out


def row_counts(engine: Engine, org_id: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot(engine, org_id).items()}


def utc(timestamp: str | None) -> str | None:
    """The form the API answers a timestamp in: the same instant, in UTC, with a ``Z``."""
    if timestamp is None:
        return None
    return datetime.fromisoformat(timestamp).astimezone(UTC).isoformat().replace("+00:00", "Z")


# The contract's (and the seed's) key in ``risk_summary`` for each tier, written here rather
# than read from the code under test.
SUMMARY_KEYS = {
    "critical": "critical_risk",
    "high": "high_risk",
    "medium": "medium_risk",
    "low": "low_risk",
    "engaged": "engaged",
}
