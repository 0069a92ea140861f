"""Risk metrics and the prioritized list: the domain's rules applied to an org's patients.

Services never commit and never see HTTP; the endpoints do both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from reengage import clock
from reengage.analytics import queries
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
from reengage.domain.outreach import best_contact_time, previous_response_rate, reengagement_history
from reengage.domain.prediction import success_rate_prediction, tier_outcomes
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


@dataclass(frozen=True)
class Assessed:
    patient: Patient
    history: PatientHistory
    assessment: risk.Assessment


def scope(session: Session, org_id: str, as_of: str | None) -> Scope:
    """Resolve ``as_of`` in the org's timezone; a bad value is a 422 naming ``as_of``."""
    settings = orgs_service.get_settings(session, org_id)
    try:
        instant = parse_as_of(as_of, settings.zone(), clock.now())
    except ValueError as exc:
        raise RecordValidationError([Problem(("query", "as_of"), str(exc), "as_of")]) from None
    return Scope(org_id, settings, instant)


def assess_population(
    session: Session, where: Scope
) -> tuple[list[Assessed], list[PatientHistory]]:
    """Assessments of the population, and every patient's history (outreach counts them all)."""
    loaded = queries.load_histories(session, where.org_id)
    population = [
        Assessed(p, h, risk.assess(h, where.as_of, where.settings))
        for p, h in loaded
        if risk.in_population(h, where.as_of)
    ]
    return population, [h for _, h in loaded]


def risk_metrics(session: Session, where: Scope) -> RiskMetrics:
    population, _ = assess_population(session, where)
    tiers = Counter(a.assessment.tier for a in population)
    flags = Counter(flag for a in population for flag in a.assessment.flags)
    return RiskMetrics(
        organization_id=where.org_id,
        last_updated=_shown(where),
        risk_summary=RiskSummary(**{tier: tiers[tier] for tier in risk.TIERS}),
        alerts=Alerts(**{alert: flags[flag] for flag, alert in ALERT_FOR_FLAG.items()}),
        immediate_actions_required=sum(1 for a in population if a.assessment.action_priority == 1),
    )


SORT_KEYS = {
    "risk_score": lambda a: (-a.assessment.risk_score, a.patient.id),
    "days_since_contact": lambda a: (-a.assessment.days_since_last_contact, a.patient.id),
    "next_action_date": lambda a: (a.assessment.next_action_date, a.patient.id),
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
    population, everyone = assess_population(session, where)
    listed = [
        a
        for a in population
        if a.assessment.recommended_action != "none"
        and (risk_level == "all" or a.assessment.tier == risk_level)
        and (action_required is None or action_required in a.assessment.flags)
    ]
    listed.sort(key=SORT_KEYS[sort_by])
    at_risk = Counter(a.assessment.tier for a in listed if a.assessment.at_risk)
    days = [a.assessment.days_since_last_contact for a in listed]
    summary = ListSummary(
        total=len(listed),
        total_at_risk=sum(at_risk.values()),
        immediate_action_required=sum(1 for a in listed if a.assessment.action_priority == 1),
        avg_days_since_contact=round(sum(days) / len(days), 1) if days else None,
        success_rate_prediction=success_rate_prediction(
            tier_outcomes(everyone, where.as_of, where.settings), at_risk
        )
        if at_risk
        else None,
    )
    page = listed[offset : offset + limit]
    return PrioritizedList(
        organization_id=where.org_id,
        last_updated=_shown(where),
        patients=[_entry(a, where) for a in page],
        summary=summary,
        limit=limit,
        offset=offset,
    )


def _entry(item: Assessed, where: Scope) -> PrioritizedPatient:
    a, p, h = item.assessment, item.patient, item.history
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
        next_scheduled_appointment=a.next_appointment_at.astimezone(zone)
        if a.next_appointment_at
        else None,
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
