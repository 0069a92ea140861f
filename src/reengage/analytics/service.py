"""Risk metrics and the prioritized list: the domain's rules applied to an org's patients.

Where every patient stands comes from the derived state in one SQL statement where that
state is valid at as_of, and from full histories for the rest; the page's patients are then
assessed in full for their details. Services never commit and never see HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from reengage import clock
from reengage.analytics import queries, risk_queries
from reengage.analytics.risk_queries import Standing
from reengage.analytics.schemas import (
    Alerts,
    HistoryItem,
    ListSummary,
    PrioritizedList,
    PrioritizedPatient,
    RiskMetrics,
    RiskSummary,
)
from reengage.domain import risk
from reengage.domain.calendar import local_date, parse_as_of
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import (
    best_contact_time,
    previous_response_rate,
    reengagement_history,
    round_one_decimal,
)
from reengage.domain.prediction import (
    HISTORY_DAYS,
    add_outcomes,
    success_rate_prediction,
    tier_outcomes,
)
from reengage.domain.settings import OrgSettings
from reengage.errors import Problem, RecordValidationError
from reengage.models import Patient
from reengage.orgs import service as orgs_service

ALERT_FOR_FLAG = {
    risk.MISSED_APPT: "missed_appointments_14d",
    risk.FAILED_CONTACT: "failed_communications",
    risk.OVERDUE_FOLLOWUP: "overdue_followups",
    risk.NO_FUTURE_APPT: "no_future_appointments",
}


@dataclass(frozen=True)
class Scope:
    """Which org, under which settings, as of when."""

    org_id: str
    settings: OrgSettings
    as_of: datetime


def scope(session: Session, org_id: str, as_of: str | None) -> Scope:
    """Resolve ``as_of`` in the org's timezone; a bad value is a 422 naming ``as_of``."""
    settings = orgs_service.get_settings(session, org_id)
    try:
        instant = parse_as_of(as_of, settings.zone(), clock.now())
    except ValueError as exc:
        raise RecordValidationError([Problem(("query", "as_of"), str(exc), "as_of")]) from None
    return Scope(org_id, settings, instant)


def standing_of(assessment: risk.Assessment) -> Standing:
    return Standing(
        patient_id=assessment.patient_id,
        tier=assessment.tier,
        flags=assessment.flags,
        action_priority=assessment.action_priority,
        recommended_action=assessment.recommended_action,
        risk_score=assessment.risk_score,
        days_since_last_contact=assessment.days_since_last_contact,
        next_action_date=assessment.next_action_date,
    )


def standings(session: Session, where: Scope) -> list[Standing]:
    """Every population patient's standing, ordered by patient id.

    From the derived state where it is valid at as_of (one SQL statement); from the full
    history for the rest (an as_of in the past, records dated after as_of).
    """
    fast = risk_queries.standings(session, where.org_id, where.as_of, where.settings)
    stale = risk_queries.stale_patient_ids(session, where.org_id, where.as_of, where.settings)
    slow = [
        standing_of(risk.assess(history, where.as_of, where.settings))
        for _, history in queries.load_histories(session, where.org_id, stale)
        if risk.in_population(history, where.as_of)
    ]
    return sorted(fast + slow, key=lambda s: s.patient_id)


def reference_standings(session: Session, where: Scope) -> list[Standing]:
    """The same straight from every patient's full history: what ``standings`` must equal."""
    return [
        standing_of(risk.assess(history, where.as_of, where.settings))
        for _, history in queries.load_histories(session, where.org_id)
        if risk.in_population(history, where.as_of)
    ]


def risk_metrics(session: Session, where: Scope) -> RiskMetrics:
    population = standings(session, where)
    tiers = Counter(s.tier for s in population)
    flags = Counter(flag for s in population for flag in s.flags)
    return RiskMetrics(
        organization_id=where.org_id,
        last_updated=_shown(where),
        risk_summary=RiskSummary(**{tier: tiers[tier] for tier in risk.TIERS}),
        alerts=Alerts(**{alert: flags[flag] for flag, alert in ALERT_FOR_FLAG.items()}),
        immediate_actions_required=sum(1 for s in population if s.action_priority == 1),
    )


SORT_KEYS: dict[str, Callable[[Standing], Any]] = {
    "risk_score": lambda s: (-s.risk_score, s.patient_id),
    "days_since_contact": lambda s: (-s.days_since_last_contact, s.patient_id),
    "next_action_date": lambda s: (s.next_action_date, s.patient_id),
}


def prioritized(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
) -> PrioritizedList:
    listed = [
        s
        for s in standings(session, where)
        if s.recommended_action != "none"
        and (risk_level == "all" or s.tier == risk_level)
        and (action_required is None or action_required in s.flags)
    ]
    listed.sort(key=SORT_KEYS[sort_by])
    at_risk = Counter(s.tier for s in listed if s.at_risk)
    days = [s.days_since_last_contact for s in listed]
    summary = ListSummary(
        total=len(listed),
        total_at_risk=sum(at_risk.values()),
        immediate_action_required=sum(1 for s in listed if s.action_priority == 1),
        avg_days_since_contact=(
            round_one_decimal(Fraction(sum(days), len(days))) if days else None
        ),
        success_rate_prediction=prediction(session, where, at_risk) if at_risk else None,
    )
    page_ids = [s.patient_id for s in listed[offset : offset + limit]]
    loaded = {p.id: (p, h) for p, h in queries.load_histories(session, where.org_id, page_ids)}
    return PrioritizedList(
        organization_id=where.org_id,
        last_updated=_shown(where),
        patients=[_entry(*loaded[pid], where) for pid in page_ids],
        summary=summary,
        limit=limit,
        offset=offset,
    )


def prediction(session: Session, where: Scope, at_risk: Counter[str]) -> float | None:
    """From the derived attempt outcomes where valid; from histories for the rest."""
    since = where.as_of - timedelta(days=HISTORY_DAYS + 1)
    fast = risk_queries.attempt_outcome_counts(session, where.org_id, where.as_of, where.settings)
    stale = risk_queries.stale_attempt_patient_ids(
        session, where.org_id, where.as_of, where.settings, since
    )
    histories = [h for _, h in queries.load_histories(session, where.org_id, stale)]
    slow = tier_outcomes(histories, where.as_of, where.settings)
    return success_rate_prediction(add_outcomes(fast, slow), at_risk)


def reference_prediction(session: Session, where: Scope, at_risk: Counter[str]) -> float | None:
    """The prediction straight from every patient's history: what ``prediction`` must equal."""
    histories = [h for _, h in queries.load_histories(session, where.org_id)]
    return success_rate_prediction(tier_outcomes(histories, where.as_of, where.settings), at_risk)


def _entry(p: Patient, h: PatientHistory, where: Scope) -> PrioritizedPatient:
    a = risk.assess(h, where.as_of, where.settings)
    zone = where.settings.zone()
    return PrioritizedPatient(
        patient_id=p.id,
        name=p.name,
        phone=p.phone,
        email=p.email,
        risk_level=a.tier,
        risk_score=a.risk_score,
        days_since_last_contact=a.days_since_last_contact,
        last_contact_date=local_date(a.last_contact_at, zone),
        last_appointment_date=a.last_appointment_date,
        next_scheduled_appointment=(
            a.next_appointment_at.astimezone(zone) if a.next_appointment_at else None
        ),
        total_lifetime_appointments=a.total_lifetime_appointments,
        health_conditions=list(p.health_conditions or []),
        communication_preferences=list(p.communication_preferences or []),
        action_priority=a.action_priority,
        recommended_action=a.recommended_action,
        recommended_channel=a.recommended_channel,
        next_action_date=a.next_action_date,
        action_required=list(a.flags),
        previous_response_rate=previous_response_rate(h, where.as_of),
        best_contact_time=best_contact_time(h, where.as_of, zone),
        reengagement_history=[
            HistoryItem(date=e.date, method=e.method, success=e.success, reason=e.reason)
            for e in reengagement_history(h, where.as_of, zone)
        ],
    )


def _shown(where: Scope) -> datetime:
    """as_of as the clinic reads it: in the org's timezone."""
    return where.as_of.astimezone(where.settings.zone())
