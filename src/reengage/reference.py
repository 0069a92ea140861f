"""The references: every figure computed straight from every patient's whole history, with
no cache. What each read path must equal; used by the tests and the bench, never by a
request (``lint-imports`` keeps it so).

Each shares its shaping with the read path it checks (``shape``, ``shape_list``,
``entries_of``), so that the two can differ only in where the figures came from.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from reengage.derived import histories
from reengage.domain import kpis as kpi_rules
from reengage.domain import performance as performance_rules
from reengage.domain import week_target as target_rules
from reengage.domain.calendar import start_of_day
from reengage.domain.history import PatientHistory
from reengage.domain.performance import OutreachCounts, window_counts
from reengage.domain.prediction import success_rate_prediction, tier_outcomes
from reengage.domain.risk import is_at_risk
from reengage.domain.scope import Scope
from reengage.domain.standing import AT_RISK_LEVEL, Standing, Tally, listed
from reengage.outreach import kpis as outreach_kpis
from reengage.outreach import service as outreach
from reengage.outreach.schemas import Kpis, Overview, Performance, Trends
from reengage.risk import service, week_target
from reengage.risk.schemas import PrioritizedList


def _histories(session: Session, where: Scope) -> list[PatientHistory]:
    return [h for _, h in histories.load_histories(session, where.org_id)]


def standings(session: Session, where: Scope) -> list[Standing]:
    """What ``service.standings`` must equal."""
    return service.standings_of(_histories(session, where), where)


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
    """What ``service.prioritized`` must equal."""
    found = listed(standings(session, where), risk_level, action_required, sort_by, action_priority)
    page_ids = [s.patient_id for s in found[offset : offset + limit]]
    entries = service.entries_of(session, where, page_ids)
    return service.shape_list(
        where, Tally.of(found), entries, limit, offset, lambda n: prediction(session, where, n)
    )


def prediction(session: Session, where: Scope, at_risk: Counter[str]) -> float | None:
    """What ``service.prediction`` must equal."""
    outcomes = tier_outcomes(_histories(session, where), where.as_of, where.settings)
    return success_rate_prediction(outcomes, at_risk)


def performance_of(session: Session, where: Scope, timeframe: str) -> Performance:
    """What ``outreach.performance`` must equal: from the histories of the patients
    with an attempt in the window, and of the active patients (for the days to reengage)."""
    days = performance_rules.TIMEFRAMES[timeframe]
    first_day, last_day = performance_rules.window_dates(where.as_of, where.settings, days)
    since = start_of_day(first_day, where.settings.zone())
    ids = histories.patients_with_attempts_between(session, where.org_id, since, where.as_of)
    tried = [h for _, h in histories.load_histories(session, where.org_id, ids)]
    counts = performance_rules.outreach_counts(tried, where.as_of, where.settings, days)
    active_ids = histories.active_patient_ids(session, where.org_id)
    active = [h for _, h in histories.load_histories(session, where.org_id, active_ids)]
    reengaged = [
        n
        for h in active
        for n in performance_rules.reengagement_days(h, where.as_of, where.settings, days)
    ]
    return outreach.shape_performance(
        where, timeframe, first_day, last_day, counts, sum(reengaged), len(reengaged)
    )


def trends_of(session: Session, where: Scope, period: str, metrics: list[str]) -> Trends:
    """What ``outreach.trends`` must equal."""
    sources = outreach.TrendSources(histories=_histories(session, where))
    return outreach.shape_trends(where, period, metrics, sources)


def overview_of(session: Session, where: Scope) -> Overview:
    """What ``outreach.overview`` must equal."""
    every = _histories(session, where)
    found = service.standings_of(every, where)
    target = week_target.shown(week_target_of(every, found, where))
    return outreach.shape_overview(
        where, Tally.of(found), lambda at: outreach.reengagement_of(every, at), target
    )


def week_target_of(
    every: list[PatientHistory], found: list[Standing], where: Scope
) -> target_rules.WeekTarget:
    """What ``week_target.find`` must find, from every history and standing."""
    contacted = target_rules.contacted_order(every, where.as_of, where.settings)
    at_risk = listed(found, AT_RISK_LEVEL, None, "risk_score")
    tiers = {s.patient_id: s.tier for s in found}
    return target_rules.choose(
        where.settings.weekly_contact_target,
        target_rules.week_first_day(where.as_of, where.settings),
        contacted,
        [s.patient_id for s in at_risk],
        len(at_risk),
        sum(1 for pid in contacted if is_at_risk(tiers[pid])),
    )


def kpis_of(session: Session, where: Scope) -> Kpis:
    """What ``outreach.kpis.kpis`` must equal: from every history."""
    every = _histories(session, where)
    settings = where.settings

    every_wait = [
        w for h in every for w in kpi_rules.first_outreach_waits(h, where.as_of, settings)
    ]

    def waits(period: kpi_rules.Period) -> list[int]:
        return sorted(kpi_rules.in_period(every_wait, period))

    def funnels(period: kpi_rules.Period) -> OutreachCounts:
        ends_before = (where.today - period.last_day).days
        return window_counts(every, where.as_of, settings, period.days, ends_before)

    def bookings(period: kpi_rules.Period) -> int:
        return kpi_rules.outreach_bookings(every, where.as_of, settings, period)

    tally = Tally.of(service.standings_of(every, where))
    return outreach_kpis.measured(where, tally, waits, funnels, bookings)
