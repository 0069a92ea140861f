"""``/overview``: the dashboard's four cards, from the same tallies as ``/risk-metrics`` and
the same derived rows as ``/trends``.

``overview`` reads the settled patients' derived rows and the others' histories
(``derived.freshness``); ``reengage.reference`` reads every history, and the tests hold the
two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from sqlalchemy.orm import Session

from reengage.analytics import service
from reengage.analytics.schemas import Overview, SuccessRate
from reengage.derived import row_counts
from reengage.derived.freshness import Freshness
from reengage.domain import overview as domain
from reengage.domain.calendar import end_of_day, window_first_day
from reengage.domain.history import PatientHistory
from reengage.domain.scope import Scope
from reengage.domain.standing import Tally

CountAt = Callable[[Scope], domain.Reengagement]  # the success-rate counts as of a scope


def overview(session: Session, where: Scope) -> Overview:
    current = Freshness(session, where)

    def count(at: Scope) -> domain.Reengagement:
        fresh = current if at == where else Freshness(session, at)
        first, last = _window(at)
        fast = domain.Reengagement(*row_counts.reengagement(fresh, first, last))
        return fast + from_histories(fresh.histories("days"), at)

    return shape(where, service.tally(current), count)


def from_histories(histories: Sequence[PatientHistory], at: Scope) -> domain.Reengagement:
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


def shape(where: Scope, tally: Tally, count: CountAt) -> Overview:
    current = _success(where, count(where))
    previous_scope = _previous(where)
    previous = _success(previous_scope, count(previous_scope))
    change = domain.rate_change(current.rate, previous.rate)
    return Overview(
        organization_id=where.org_id,
        last_updated=where.shown(),
        immediate_action_required=tally.priority_one,
        this_weeks_target=tally.weekly_target,
        reengagement_success_rate=current,
        previous_success_rate=previous,
        success_rate_change=change,
        success_rate_trend=domain.rate_direction(change),
    )
