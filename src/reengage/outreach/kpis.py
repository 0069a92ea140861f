"""``/kpis``: the seed's four success metrics (``domain.kpis``), counted where performance
and trends count theirs: the settled patients' share from the roll-ups or the derived rows,
the others' from their histories (``derived.freshness`` decides, once per request).
Services never commit and never see HTTP."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from reengage.checkins import service as checkins
from reengage.derived import rollups, row_counts
from reengage.derived.freshness import Freshness
from reengage.domain import kpis as rules
from reengage.domain.history import PatientHistory
from reengage.domain.performance import OutreachCounts, window_counts
from reengage.domain.scope import Scope
from reengage.domain.standing import Tally
from reengage.outreach.schemas import CheckinUplift, Kpi, KpiPeriod, Kpis, KpiSet
from reengage.risk import service as risk_service


def kpis(session: Session, where: Scope) -> Kpis:
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    unsettled = [
        wait
        for history in fresh.histories("days")
        for wait in rules.first_outreach_waits(history, where.as_of, where.settings)
    ]

    def waits(period: rules.Period) -> list[int]:
        found = row_counts.first_outreach_waits(fresh, period.first_day, period.last_day)
        return sorted(found + rules.in_period(unsettled, period))

    def funnels(period: rules.Period) -> OutreachCounts:
        counts = derived.funnels(period.first_day, period.last_day)
        counts.add(_window_counts(rest, where, period))
        return counts

    def bookings(period: rules.Period) -> int:
        days = derived.daily(period.first_day, period.last_day).values()
        found = sum(day.get("appointments_scheduled", 0) for day in days)
        return found + rules.outreach_bookings(rest, where.as_of, where.settings, period)

    tally = risk_service.tally(fresh)
    return with_uplift(session, where, measured(where, tally, waits, funnels, bookings))


def with_uplift(session: Session, where: Scope, found: Kpis) -> Kpis:
    """Once a check-in campaign has measured its uplift against its holdout, the revenue
    goal reads it: "+25% bookings from outreach" is then what the check-ins added, not a
    before-and-after comparison that a season or a new clinician could explain as well."""
    measured_ = checkins.measured_uplift(session, where.org_id, where.as_of)
    if measured_ is None:
        return found
    campaign_id, u = measured_
    assert u.difference is not None and u.low is not None and u.high is not None
    target = where.settings.kpis.targets.outreach_bookings_increase_pct
    revenue = found.kpis.revenue_impact.model_copy(
        update={
            "change_pct": u.relative_pct,
            "met": None if u.relative_pct is None else u.relative_pct >= target,
        }
    )
    return found.model_copy(
        update={
            "kpis": found.kpis.model_copy(update={"revenue_impact": revenue}),
            "revenue_impact_source": "holdout",
            "checkin_uplift": CheckinUplift(
                campaign_id=campaign_id,
                messaged_patients=u.messaged.patients,
                holdout_patients=u.holdout.patients,
                difference_points=u.difference,
                ci95_low=u.low,
                ci95_high=u.high,
                relative_pct=u.relative_pct,
            ),
        }
    )


def _window_counts(
    histories: Sequence[PatientHistory], where: Scope, period: rules.Period
) -> OutreachCounts:
    ends_before = (where.today - period.last_day).days
    return window_counts(histories, where.as_of, where.settings, period.days, ends_before)


Waits = Callable[[rules.Period], list[int]]
Funnels = Callable[[rules.Period], OutreachCounts]
Bookings = Callable[[rules.Period], int]


def measured(
    where: Scope, tally: Tally, waits: Waits, funnels: Funnels, bookings: Bookings
) -> Kpis:
    """The answer from the counting functions of a read path (the service's, or the
    reference's from every history): shared, so the two differ only in where counts come
    from."""
    current = rules.current_period(where.as_of, where.settings)
    baseline = rules.baseline_period(where.as_of, where.settings)
    now = funnels(current)
    before = funnels(baseline) if baseline is not None else None
    found = rules.Measures(
        waits=waits(current),
        baseline_waits=waits(baseline) if baseline is not None else None,
        contacts=now.successes,
        conversions=now.conversions,
        baseline_contacts=before.successes if before is not None else None,
        baseline_conversions=before.conversions if before is not None else None,
        population=sum(tally.tiers.values()),
        critical=tally.tiers["critical"],
        bookings=bookings(current),
        baseline_bookings=bookings(baseline) if baseline is not None else None,
    )
    k = where.settings.kpis
    return Kpis(
        organization_id=where.org_id,
        last_updated=where.shown(),
        period=_period(current, "last_days"),
        baseline=(
            _period(baseline, "setting" if k.baseline_start is not None else "previous_period")
            if baseline is not None
            else None
        ),
        kpis=KpiSet(
            **{
                name: Kpi(**vars(kpi))
                for name, kpi in rules.evaluate(found, current, baseline, where.settings).items()
            }
        ),
    )


def _period(period: rules.Period, source: str) -> KpiPeriod:
    return KpiPeriod(start=period.first_day, end=period.last_day, days=period.days, source=source)
