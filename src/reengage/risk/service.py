"""Risk metrics and the prioritized list: the domain's rules applied to an org's patients.

Where every patient stands comes from the stored standings or the risk statement for the
settled patients, and from full histories for the rest (``derived.freshness`` says who is
which, once per request); the page's patients are then shown in full. Services never commit
and never see HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy.orm import Session

from reengage import clock
from reengage.derived import histories, page_facts, risk_statement, rollups, stored_standings
from reengage.derived.freshness import Freshness
from reengage.domain import risk
from reengage.domain.calendar import local_date, parse_as_of, window_start
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import (
    best_part,
    count_parts_of_day,
    rate,
    reengagement_history,
    round_one_decimal,
    success_times,
)
from reengage.domain.prediction import add_outcomes, success_rate_prediction, tier_outcomes
from reengage.domain.scope import Scope
from reengage.domain.standing import SORT_KEYS, Standing, Tally, listed
from reengage.errors import Problem, RecordValidationError
from reengage.models import Patient
from reengage.orgs import service as orgs_service
from reengage.risk.schemas import (
    Alerts,
    HistoryItem,
    ListSummary,
    PrioritizedList,
    PrioritizedPatient,
    RiskMetrics,
    RiskSummary,
)

ALERT_FOR_FLAG = {
    risk.MISSED_APPT: "missed_appointments_14d",
    risk.FAILED_CONTACT: "failed_communications",
    risk.OVERDUE_FOLLOWUP: "overdue_followups",
    risk.NO_FUTURE_APPT: "no_future_appointments",
}


def scope(session: Session, org_id: str, as_of: str | None) -> Scope:
    """Resolve ``as_of`` in the org's timezone; a bad value is a 422 naming ``as_of``."""
    settings = orgs_service.get_settings(session, org_id)
    try:
        instant = parse_as_of(as_of, settings.zone(), clock.now())
    except ValueError as exc:
        raise RecordValidationError([Problem(("query", "as_of"), str(exc), "as_of")]) from None
    return Scope(org_id, settings, instant)


def store_today(session: Session, org_id: str, now: datetime) -> bool:
    """Bring the org's stored standings up to ``now`` (the day's first request would
    otherwise pay for it); False when they cannot be (records dated after now, or derived
    rows that need a rebuild). Commits what it stores, as a read catching up does."""
    where = Scope(org_id, orgs_service.get_settings(session, org_id), now)
    return stored_standings.tally(session, where) is not None


def standings_of(histories: Iterable[PatientHistory], where: Scope) -> list[Standing]:
    """The population patients' standings from their whole histories."""
    return [
        Standing.of(risk.assess(history, where.as_of, where.settings))
        for history in histories
        if risk.in_population(history, where.as_of)
    ]


def _unsettled_standings(fresh: Freshness) -> list[Standing]:
    return standings_of(fresh.histories("instants"), fresh.scope)


def standings(session: Session, where: Scope) -> list[Standing]:
    """Every population patient's standing, ordered by patient id: the settled patients'
    from the risk statement, the others' from their histories."""
    fresh = Freshness(session, where)
    found = risk_statement.standings(fresh) + _unsettled_standings(fresh)
    return sorted(found, key=lambda s: s.patient_id)


def population_tally(session: Session, where: Scope) -> Tally:
    return tally(Freshness(session, where))


def tally(fresh: Freshness) -> Tally:
    """Counts over the population: the stored standings' when they answer (they hold
    every patient but the few late at as_of, who come from their histories); else the risk
    statement's over the settled patients, plus the others from their histories."""
    kept = stored_standings.tally(fresh.session, fresh.scope)
    if kept is not None:
        counts, late = kept
        return counts + Tally.of(_Late.read(fresh, late).standings) if late else counts
    return risk_statement.tally(fresh) + Tally.of(_unsettled_standings(fresh))


@dataclass(frozen=True)
class _Late:
    """The patients the stored standings leave out (late at as_of), from their histories."""

    loaded: dict[str, tuple[Patient, PatientHistory]]
    standings: list[Standing]

    @classmethod
    def read(cls, fresh: Freshness, ids: tuple[str, ...]) -> _Late:
        pairs = fresh.loaded(ids)
        loaded = {p.id: (p, h) for p, h in pairs}
        return cls(loaded, standings_of((h for _, h in pairs), fresh.scope))


def risk_metrics(session: Session, where: Scope) -> RiskMetrics:
    counts = population_tally(session, where)
    return RiskMetrics(
        organization_id=where.org_id,
        last_updated=where.shown(),
        risk_summary=RiskSummary.of(counts.tiers),
        alerts=Alerts(**{alert: counts.flags[flag] for flag, alert in ALERT_FOR_FLAG.items()}),
        immediate_actions_required=counts.priority_one,
    )


@dataclass(frozen=True)
class ListedPage:
    """The list's counts and one page's standings, and where each came from: what
    ``prioritized`` shows, and what a caller that needs only the order reads."""

    fresh: Freshness
    counts: Tally
    page: list[Standing]
    late: _Late | None  # the stored standings' path: the late patients, from histories


def listed_page(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    action_priority: int | None = None,
) -> ListedPage:
    """The stored standings' page when they answer (the usual case: as_of now), with the
    few patients late at as_of merged in from their histories; else the risk statement's
    over the settled patients, with the unsettled ones merged in."""
    fresh = Freshness(session, where)
    level = None if risk_level == "all" else risk_level
    filters = (level, action_required, sort_by)
    wanted = (risk_level, action_required, sort_by, limit, offset, action_priority)
    kept = stored_standings.listed_page(session, where, *filters, limit, offset, action_priority)
    if kept is None:
        return _from_statement(fresh, *wanted)
    (counts, page), late_ids = kept
    late = _Late.read(fresh, late_ids)
    extra = listed(late.standings, risk_level, action_required, sort_by, action_priority)
    if extra and offset:
        # Merged, the page draws on the stored rows' first offset + limit.
        again = stored_standings.listed_page(
            session, where, *filters, offset + limit, 0, action_priority
        )
        if again is None or again[1] != late_ids:  # written in between: not worth a third
            return _from_statement(fresh, *wanted)
        (counts, page), _ = again
    counts, page = _merged(counts, page, extra, sort_by, limit, offset)
    return ListedPage(fresh, counts, page, late)


def prioritized(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    action_priority: int | None = None,
) -> PrioritizedList:
    """The list (``listed_page``), the page's entries from the derived rows where they
    answer for the patient, else from the patient's history."""
    found = listed_page(
        session, where, risk_level, action_required, sort_by, limit, offset, action_priority
    )
    entries = page_entries(found)
    return shape_list(
        where, found.counts, entries, limit, offset, lambda n: _prediction(found.fresh, n)
    )


def page_entries(found: ListedPage) -> list[PrioritizedPatient]:
    """The page's patients in full, in its order: from the derived rows where they answer
    for the patient, else from the patient's history."""
    fresh, page, late = found.fresh, found.page, found.late
    session, where = fresh.session, fresh.scope
    if late is not None:
        from_rows = [s for s in page if s.patient_id not in late.loaded]
        shown = {e.id: e for e in _kept_entries(session, where, from_rows)}
        for s in page:
            if s.patient_id in late.loaded:
                shown[s.patient_id] = entry(*late.loaded[s.patient_id], where)
        return [shown[s.patient_id] for s in page]
    if fresh.complete:
        return _kept_entries(session, where, page)
    return entries_of(session, where, [s.patient_id for s in page])


def _from_statement(
    fresh: Freshness,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    action_priority: int | None,
) -> ListedPage:
    """The list from the risk statement over the settled patients, the unsettled ones
    from their histories: where the stored standings do not answer."""
    level = None if risk_level == "all" else risk_level
    extra = listed(
        _unsettled_standings(fresh), risk_level, action_required, sort_by, action_priority
    )
    # Merged, the page draws on the statement's first offset + limit.
    first, size = (0, offset + limit) if extra else (offset, limit)
    counts, page = risk_statement.listed_page(
        fresh, level, action_required, sort_by, size, first, action_priority
    )
    counts, page = _merged(counts, page, extra, sort_by, limit, offset)
    return ListedPage(fresh, counts, page, None)


def _merged(
    counts: Tally,
    page: list[Standing],
    extra: list[Standing],
    sort_by: str,
    limit: int,
    offset: int,
) -> tuple[Tally, list[Standing]]:
    """The counts and page with ``extra`` (listed standings from histories) merged in;
    ``page``, when there are any, is the first offset + limit of the others."""
    if not extra:
        return counts, page
    merged = sorted(page + extra, key=SORT_KEYS[sort_by])
    return counts + Tally.of(extra), merged[offset : offset + limit]


def shape_list(
    where: Scope,
    counts: Tally,
    entries: list[PrioritizedPatient],
    limit: int,
    offset: int,
    predict: Callable[[Counter[str]], float | None],
) -> PrioritizedList:
    """The list's answer; ``predict`` gives the success-rate prediction for the at-risk
    patients per tier."""
    at_risk = Counter({tier: counts.tiers[tier] for tier in risk.AT_RISK_TIERS})
    total_at_risk = sum(at_risk.values())
    summary = ListSummary(
        total=counts.total,
        total_at_risk=total_at_risk,
        immediate_action_required=counts.priority_one,
        avg_days_since_contact=(
            round_one_decimal(Fraction(counts.days_sum, counts.total)) if counts.total else None
        ),
        success_rate_prediction=predict(at_risk) if total_at_risk else None,
    )
    return PrioritizedList(
        organization_id=where.org_id,
        last_updated=where.shown(),
        patients=entries,
        summary=summary,
        limit=limit,
        offset=offset,
    )


def entries_of(session: Session, where: Scope, page_ids: list[str]) -> list[PrioritizedPatient]:
    """The page's patients, each assessed from their whole history."""
    loaded = {p.id: (p, h) for p, h in histories.load_histories(session, where.org_id, page_ids)}
    return [entry(*loaded[pid], where) for pid in page_ids]


def _kept_entries(session: Session, where: Scope, page: list[Standing]) -> list[PrioritizedPatient]:
    """The page's patients from their stored standings and, of their records, what the
    database counts and the attempts the page looks at (``page_facts``): the same
    entries as ``entries_of``, at a cost that does not grow with the length of a history."""
    ids = [s.patient_id for s in page]
    zone = where.settings.zone()
    facts = page_facts.page_facts(
        session,
        where.org_id,
        ids,
        where.as_of,
        window_start(where.as_of, zone, risk.ALERT_WINDOW_DAYS),
        window_start(where.as_of, zone, risk.MISSED_SCORE_WINDOW_DAYS),
    )
    patients = {p.id: p for p in histories.load_patients(session, where.org_id, ids)}
    out = []
    for standing in page:
        p, f = patients[standing.patient_id], facts[standing.patient_id]
        values = [getattr(p, name) for name in histories.PATIENT_COLUMNS]
        recent = histories.unpack(histories.pack(values, (), f.recent_attempts, ()))
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


def prediction(session: Session, where: Scope, at_risk: Counter[str]) -> float | None:
    return _prediction(Freshness(session, where), at_risk)


def _prediction(fresh: Freshness, at_risk: Counter[str]) -> float | None:
    """The settled patients' outcomes from the roll-ups or the rows, the others' from
    their histories."""
    where = fresh.scope
    counted, others = rollups.prediction_counts(fresh)
    outcomes = add_outcomes(counted, tier_outcomes(others, where.as_of, where.settings))
    return success_rate_prediction(outcomes, at_risk)


def patient_entry(session: Session, where: Scope, patient_id: str) -> PrioritizedPatient | None:
    """One patient as the prioritized list shows them (whatever their status or tier): the
    dashboard's patient page."""
    loaded = histories.load_histories(session, where.org_id, [patient_id])
    return entry(*loaded[0], where) if loaded else None


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


def entry(p: Patient, h: PatientHistory, where: Scope) -> PrioritizedPatient:
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
        Standing.of(a),
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
