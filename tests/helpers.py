"""Assertions and database snapshots shared by the API tests."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, select

from reengage import reference
from reengage.derived.freshness import Freshness
from reengage.domain.scope import Scope
from reengage.domain.standing import Tally
from reengage.models import Appointment, AuditEntry, Communication, Followup, Patient
from reengage.risk import service

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


LIST_QUERIES = [
    ("all", None, "risk_score"),
    ("all", None, "days_since_contact"),
    ("all", None, "next_action_date"),
    ("critical", None, "risk_score"),
    ("medium", None, "next_action_date"),
    ("all", "no_future_appt", "risk_score"),
    ("all", "overdue_followup", "days_since_contact"),
    ("high", "failed_contact", "risk_score"),
    ("engaged", "missed_appt", "next_action_date"),
]


def _rows_alone(session: Any, where: Scope) -> Freshness:
    """The freshness of each patient's rows, as if the org's status vouched for none."""
    fresh = Freshness(session, where)
    fresh.complete = False
    return fresh


def _reference_metrics(session: Any, where: Scope) -> Any:
    """risk-metrics counted from the reference standings."""
    population = reference.standings(session, where)
    tally = Tally.of(population)
    return service.RiskMetrics(
        organization_id=where.org_id,
        last_updated=where.as_of.astimezone(where.settings.zone()),
        risk_summary=service.RiskSummary.of(tally.tiers),
        alerts=service.Alerts(
            **{alert: tally.flags[flag] for flag, alert in service.ALERT_FOR_FLAG.items()}
        ),
        immediate_actions_required=tally.priority_one,
    )


NAME = "Zebulon Quixotic-Harrow"


PHONE = "+61499887766"


EMAIL = "zebulon.qh@example.net"


CONDITION = "idiopathic zygomatic neuralgia"


BAD_PHONE = "+61 499 887 766 ext 9"


BAD_EMAIL = "zebulon.qh at example.net"


PHI = (NAME, PHONE, EMAIL, CONDITION, BAD_PHONE, BAD_EMAIL, "Zebulon")


def logged_text(records: list[logging.LogRecord]) -> str:
    """Everything a handler could write for these records: messages, tracebacks, stacks."""
    formatter = logging.Formatter()
    parts = []
    for record in records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        parts += [record.exc_text or "", record.stack_info or ""]
    return "\n".join(parts)


def assert_no_phi(text: str) -> None:
    for value in PHI:
        assert value not in text, f"{value!r} leaked"
