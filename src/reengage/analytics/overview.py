"""``/overview``: the dashboard's four cards, from the same tallies as ``/risk-metrics`` and
the same derived rows as ``/trends``.

``overview`` reads the derived rows for the patients they answer for and the histories of
the others; ``reference_overview`` reads every history, and the tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from sqlalchemy.orm import Session

from reengage.analytics import queries, service, trend_queries
from reengage.analytics.risk_queries import Tally
from reengage.analytics.schemas import Overview, SuccessRate
from reengage.analytics.service import Scope, shown
from reengage.domain import overview as domain
from reengage.domain.calendar import end_of_day, window_first_day
from reengage.domain.history import PatientHistory

CountAt = Callable[[Scope], domain.Reengagement]  # the success-rate counts as of a scope


def overview(session: Session, where: Scope) -> Overview:
    def count(at: Scope) -> domain.Reengagement:
        frame = trend_queries.frame_for(session, at.org_id, at.settings, at.as_of)
        first, last = _window(at)
        fast = domain.Reengagement(*trend_queries.reengagement(session, frame, first, last))
        rest = trend_queries.unsettled_patient_ids(session, frame)
        histories = [h for _, h in queries.load_histories(session, at.org_id, rest)]
        return fast + _from_histories(histories, at)

    return _shape(where, service.population_tally(session, where), count)


def reference_overview(session: Session, where: Scope) -> Overview:
    histories = [h for _, h in queries.load_histories(session, where.org_id)]
    tally = Tally.of(service.reference_standings(session, where))
    return _shape(where, tally, lambda at: _from_histories(histories, at))


def _from_histories(histories: Sequence[PatientHistory], at: Scope) -> domain.Reengagement:
    total = domain.Reengagement()
    for history in histories:
        total += domain.reengagement(history, at.as_of, at.settings)
    return total


def _window(at: Scope) -> tuple[date, date]:
    zone = at.settings.zone()
    first = window_first_day(at.as_of, zone, domain.SUCCESS_WINDOW_DAYS)
    return first, first + timedelta(days=domain.SUCCESS_WINDOW_DAYS - 1)


def _previous(where: Scope) -> Scope:
    """The end of the day before the current window: the previous 30 days end there."""
    first, _ = _window(where)
    before = end_of_day(first - timedelta(days=1), where.settings.zone())
    return Scope(where.org_id, where.settings, before)


def _success(at: Scope, counts: domain.Reengagement) -> SuccessRate:
    first, last = _window(at)
    return SuccessRate(
        rate=counts.rate,
        patients_reached=counts.reached,
        patients_reengaged=counts.reengaged,
        period_start=first,
        period_end=last,
    )


def _shape(where: Scope, tally: Tally, count: CountAt) -> Overview:
    current = _success(where, count(where))
    previous_scope = _previous(where)
    previous = _success(previous_scope, count(previous_scope))
    change = domain.rate_change(current.rate, previous.rate)
    return Overview(
        organization_id=where.org_id,
        last_updated=shown(where),
        immediate_action_required=tally.priority_one,
        this_weeks_target=tally.weekly_target,
        reengagement_success_rate=current,
        previous_success_rate=previous,
        success_rate_change=change,
        success_rate_trend=domain.rate_direction(change),
    )
