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
from reengage.analytics import entry_queries, queries, risk_queries, rollups, standing_cache
from reengage.analytics.risk_queries import Standing, Tally
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
from reengage.domain.calendar import (
    local_date,
    parse_as_of,
    window_start,
)
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import (
    best_part,
    count_parts_of_day,
    rate,
    reengagement_history,
    round_one_decimal,
    success_times,
)
from reengage.domain.prediction import (
    HISTORY_DAYS,
    add_outcomes,
    qualifying_days,
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
        attempted_last_7_days=assessment.attempted_last_7_days,
    )


def _slow_standings(session: Session, where: Scope, ids: list[str]) -> list[Standing]:
    return [
        standing_of(risk.assess(history, where.as_of, where.settings))
        for _, history in queries.load_histories(session, where.org_id, ids)
        if risk.in_population(history, where.as_of)
    ]


def standings(session: Session, where: Scope) -> list[Standing]:
    """Every population patient's standing, ordered by patient id.

    From the derived state where it is valid at as_of (one SQL statement); from the full
    history for the rest (an as_of in the past, records dated after as_of).
    """
    answers = _every_row_answers(session, where)
    fast = risk_queries.standings(session, where.org_id, where.as_of, where.settings, answers)
    stale = _stale_patient_ids(session, where, answers)
    return sorted(fast + _slow_standings(session, where, stale), key=lambda s: s.patient_id)


def _every_row_answers(session: Session, where: Scope) -> bool:
    """The org's derived status vouches for every patient's row at as_of (a primary-key
    read): then no patient needs their history, and nobody needs looking for."""
    return rollups.usable(session, where.org_id, where.settings, where.as_of)


def _stale_patient_ids(session: Session, where: Scope, every_row_answers: bool) -> list[str]:
    """Active patients whose derived state cannot answer at as_of: none when the org's
    derived status says so (``_every_row_answers``, read once by the caller), else a scan
    of patients and their state."""
    if every_row_answers:
        return []
    return risk_queries.stale_patient_ids(session, where.org_id, where.as_of, where.settings)


def reference_standings(session: Session, where: Scope) -> list[Standing]:
    """The same straight from every patient's full history: what ``standings`` must equal."""
    ids = queries.patient_ids(session, where.org_id)
    return _slow_standings(session, where, ids)


def population_tally(session: Session, where: Scope) -> Tally:
    """Counts over the population: from the stored standings when they answer; else in SQL
    over the derived state, plus the patients it cannot answer for, from their histories."""
    kept = standing_cache.tally(session, where)
    if kept is not None:
        return kept
    answers = _every_row_answers(session, where)
    counts = risk_queries.tally(session, where.org_id, where.as_of, where.settings, answers)
    stale = _stale_patient_ids(session, where, answers)
    return counts + Tally.of(_slow_standings(session, where, stale))


def risk_metrics(session: Session, where: Scope) -> RiskMetrics:
    counts = population_tally(session, where)
    return RiskMetrics(
        organization_id=where.org_id,
        last_updated=shown(where),
        risk_summary=RiskSummary.of(counts.tiers),
        alerts=Alerts(**{alert: counts.flags[flag] for flag, alert in ALERT_FOR_FLAG.items()}),
        immediate_actions_required=counts.priority_one,
    )


SORT_KEYS: dict[str, Callable[[Standing], Any]] = {
    "risk_score": lambda s: (-s.risk_score, s.patient_id),
    "days_since_contact": lambda s: (-s.days_since_last_contact, s.patient_id),
    "next_action_date": lambda s: (s.next_action_date, s.patient_id),
}


def listed_standings(
    population: list[Standing], risk_level: str, action_required: str | None, sort_by: str
) -> list[Standing]:
    """The prioritized list from standings: an action to take, the filters, the order."""
    listed = [
        s
        for s in population
        if s.recommended_action != "none"
        and (risk_level == "all" or s.tier == risk_level)
        and (action_required is None or action_required in s.flags)
    ]
    return sorted(listed, key=SORT_KEYS[sort_by])


def prioritized(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
) -> PrioritizedList:
    """From the stored standings when they answer (the usual case: as_of now); else
    filtered, sorted, paged and counted in SQL when the derived state answers for every
    patient; merged in Python with the straight path otherwise."""
    level = None if risk_level == "all" else risk_level
    kept = standing_cache.listed_page(
        session, where, level, action_required, sort_by, limit, offset
    )
    if kept is not None:
        counts, page = kept
        entries = _kept_entries(session, where, page)
        return _shape_list(session, where, counts, entries, limit, offset)
    answers = _every_row_answers(session, where)
    if not _stale_patient_ids(session, where, answers):
        counts, page_ids = risk_queries.listed_page(
            session,
            where.org_id,
            where.as_of,
            where.settings,
            level,
            action_required,
            sort_by,
            limit,
            offset,
            answers,
        )
    else:
        listed = listed_standings(standings(session, where), risk_level, action_required, sort_by)
        counts = Tally.of(listed)
        page_ids = [s.patient_id for s in listed[offset : offset + limit]]
    return _shape_list(session, where, counts, _entries(session, where, page_ids), limit, offset)


def _shape_list(
    session: Session,
    where: Scope,
    counts: Tally,
    entries: list[PrioritizedPatient],
    limit: int,
    offset: int,
) -> PrioritizedList:
    at_risk = Counter({tier: counts.tiers[tier] for tier in risk.AT_RISK_TIERS})
    total_at_risk = sum(at_risk.values())
    summary = ListSummary(
        total=counts.total,
        total_at_risk=total_at_risk,
        immediate_action_required=counts.priority_one,
        avg_days_since_contact=(
            round_one_decimal(Fraction(counts.days_sum, counts.total)) if counts.total else None
        ),
        success_rate_prediction=prediction(session, where, at_risk) if total_at_risk else None,
    )
    return PrioritizedList(
        organization_id=where.org_id,
        last_updated=shown(where),
        patients=entries,
        summary=summary,
        limit=limit,
        offset=offset,
    )


def _entries(session: Session, where: Scope, page_ids: list[str]) -> list[PrioritizedPatient]:
    """The page's patients, each assessed from their whole history."""
    loaded = {p.id: (p, h) for p, h in queries.load_histories(session, where.org_id, page_ids)}
    return [_entry(*loaded[pid], where) for pid in page_ids]


def _kept_entries(session: Session, where: Scope, page: list[Standing]) -> list[PrioritizedPatient]:
    """The page's patients from their stored standings and, of their records, what the
    database counts and the attempts the page looks at (``entry_queries``): the same
    entries as ``_entries``, at a cost that does not grow with the length of a history."""
    ids = [s.patient_id for s in page]
    zone = where.settings.zone()
    facts = entry_queries.page_facts(
        session,
        where.org_id,
        ids,
        where.as_of,
        window_start(where.as_of, zone, risk.ALERT_WINDOW_DAYS),
        window_start(where.as_of, zone, risk.MISSED_SCORE_WINDOW_DAYS),
    )
    patients = {p.id: p for p in queries.load_patients(session, where.org_id, ids)}
    out = []
    for standing in page:
        p, f = patients[standing.patient_id], facts[standing.patient_id]
        values = [getattr(p, name) for name in queries.PATIENT_COLUMNS]
        recent = queries.unpack(queries.pack(values, (), f.recent_attempts, ()))
        channel = risk.channel_for(
            standing.recommended_action,
            recent,
            risk.recent_failed_attempts(recent, where.as_of, zone),
        )
        out.append(
            _shape_entry(
                p,
                where,
                standing,
                Shown(
                    last_completed_at=f.last_completed_at,
                    next_appointment_at=f.next_appointment_at,
                    completed=f.completed,
                    missed_last_90_days=f.missed_last_90_days,
                    channel=channel,
                    attempts=f.attempts,
                    successes=f.successes,
                    latest_attempts=recent,
                ),
            )
        )
    return out


def reference_prioritized(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
) -> PrioritizedList:
    """The list straight from full histories: what ``prioritized`` must equal."""
    population = reference_standings(session, where)
    listed = listed_standings(population, risk_level, action_required, sort_by)
    page_ids = [s.patient_id for s in listed[offset : offset + limit]]
    entries = _entries(session, where, page_ids)
    return _shape_list(session, where, Tally.of(listed), entries, limit, offset)


def prediction(session: Session, where: Scope, at_risk: Counter[str]) -> float | None:
    """From the roll-ups when they answer; else from the derived attempt outcomes where
    valid and from histories for the rest."""
    if _every_row_answers(session, where):
        days = qualifying_days(where.as_of, where.settings)
        return success_rate_prediction(
            rollups.prediction_counts(session, where.org_id, *days), at_risk
        )
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


def patient_entry(session: Session, where: Scope, patient_id: str) -> PrioritizedPatient | None:
    """One patient as the prioritized list shows them (whatever their status or tier): the
    dashboard's patient page."""
    loaded = queries.load_histories(session, where.org_id, [patient_id])
    return _entry(*loaded[0], where) if loaded else None


@dataclass(frozen=True)
class Shown:
    """What an entry shows beyond the patient's standing, however it was found."""

    last_completed_at: datetime | None
    next_appointment_at: datetime | None
    completed: int
    missed_last_90_days: int  # no_show and late_cancelled visits, uncapped
    channel: str | None
    attempts: int
    successes: tuple[int, ...]  # attempts that succeeded, by part of day
    latest_attempts: PatientHistory  # holding at least the 10 latest attempts


def _entry(p: Patient, h: PatientHistory, where: Scope) -> PrioritizedPatient:
    """The entry from the whole history."""
    a = risk.assess(h, where.as_of, where.settings)
    completed = [
        x.starts_at
        for x in h.appointments
        if x.status == "completed" and x.exists_at(where.as_of) and x.starts_at <= where.as_of
    ]
    return _shape_entry(
        p,
        where,
        standing_of(a),
        Shown(
            last_completed_at=max(completed, default=None),
            next_appointment_at=a.next_appointment_at,
            completed=a.total_lifetime_appointments,
            missed_last_90_days=a.missed_last_90_days,
            channel=a.recommended_channel,
            attempts=len(h.attempts(where.as_of)),
            successes=count_parts_of_day(success_times(h, where.as_of), where.settings.zone()),
            latest_attempts=h,
        ),
    )


def _shape_entry(p: Patient, where: Scope, s: Standing, shown_: Shown) -> PrioritizedPatient:
    zone = where.settings.zone()
    today = local_date(where.as_of, zone)
    last = shown_.last_completed_at
    upcoming = shown_.next_appointment_at
    return PrioritizedPatient(
        id=p.id,
        name=p.name,
        phone=p.phone,
        email=p.email,
        risk_level=s.tier,
        risk_score=s.risk_score,
        days_since_last_contact=s.days_since_last_contact,
        last_appointment_date=local_date(last, zone) if last is not None else None,
        next_scheduled_appointment=upcoming.astimezone(zone) if upcoming is not None else None,
        recommended_action=s.recommended_action,
        action_priority=s.action_priority,
        communication_preferences=list(p.communication_preferences or []),
        best_contact_time=best_part(shown_.successes),
        previous_response_rate=rate(sum(shown_.successes), shown_.attempts),
        total_lifetime_appointments=shown_.completed,
        missed_appointments_last_90d=shown_.missed_last_90_days,
        reengagement_history=[
            HistoryItem(date=e.date, method=e.method, success=e.success, reason=e.reason)
            for e in reengagement_history(shown_.latest_attempts, where.as_of, zone)
        ],
        health_conditions=list(p.health_conditions or []),
        referral_source=p.referral_source,
        last_treatment_outcome=p.last_treatment_outcome,
        last_contact_date=today - timedelta(days=s.days_since_last_contact),
        recommended_channel=shown_.channel,
        next_action_date=s.next_action_date,
        action_required=list(s.flags),
    )


def shown(where: Scope) -> datetime:
    """as_of as the clinic reads it: in the org's timezone."""
    return where.as_of.astimezone(where.settings.zone())
