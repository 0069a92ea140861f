"""This week's target: as many patients as the team can contact in a week (the setting
``weekly_contact_target``, 25 by default, the seed's "25 patients to contact"), chosen from
the at-risk backlog in the call list's order, so that staff know where to start and how far
they got.

- The week is as_of's, from Monday 00:00 in the org's timezone.
- A patient is **contacted** this week when an outreach attempt was sent to them since the
  week's start (up to as_of) while they were at risk (their tier just before it, as the
  prediction reads it). Only the population counts: active patients.
- The target is the contacted patients, in the order of their first such attempt, then,
  while there are fewer than the target's size, the at-risk patients not contacted, in the
  call list's order (risk score highest first, ties by id). A contacted patient stays in the
  target whatever they need now, so progress only moves forward; the rest of the target is
  always the most urgent of those still waiting, so a patient who turns critical on Wednesday
  is not left for next week.
- The **backlog beyond** is the at-risk patients now who are not in the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reengage.domain.calendar import local_date, start_of_day
from reengage.domain.history import PatientHistory
from reengage.domain.prediction import attempt_outcome
from reengage.domain.risk import in_population
from reengage.domain.settings import OrgSettings


def week_first_day(as_of: datetime, settings: OrgSettings) -> date:
    """The Monday of as_of's week, in the org's timezone."""
    today = local_date(as_of, settings.zone())
    return today - timedelta(days=today.weekday())


def week_start(as_of: datetime, settings: OrgSettings) -> datetime:
    return start_of_day(week_first_day(as_of, settings), settings.zone())


def contacted_at(
    history: PatientHistory, as_of: datetime, settings: OrgSettings
) -> datetime | None:
    """When this patient was first contacted this week (see the module), or None."""
    if not in_population(history, as_of):
        return None
    since = week_start(as_of, settings)
    for attempt in sorted(history.attempts(as_of), key=lambda a: (a.sent_at, a.id)):
        if attempt.sent_at < since:
            continue
        if attempt_outcome(history, attempt, as_of, settings).tier_before is not None:
            return attempt.sent_at
    return None


def contacted_order(
    histories: Sequence[PatientHistory], as_of: datetime, settings: OrgSettings
) -> list[str]:
    """The patients contacted this week, in the order of their first contact (ties by id)."""
    found = [(at, h.id) for h in histories if (at := contacted_at(h, as_of, settings))]
    return [pid for _, pid in sorted(found)]


@dataclass(frozen=True)
class WeekTarget:
    size: int  # the setting
    first_day: date  # the week's Monday
    contacted: tuple[str, ...]  # in the target, contacted this week
    waiting: tuple[str, ...]  # in the target, not yet contacted: the call list's order
    backlog_beyond: int  # at risk now, not in the target

    @property
    def patients(self) -> tuple[str, ...]:
        return self.contacted + self.waiting


def choose(
    size: int,
    first_day: date,
    contacted: Sequence[str],
    at_risk_in_order: Sequence[str],
    at_risk_now: int,
    contacted_at_risk_now: int,
) -> WeekTarget:
    """The target from the week's contacted patients and the at-risk patients in the call
    list's order (enough of them: ``size`` more than are contacted suffice);
    ``contacted_at_risk_now``: how many of the contacted are at risk now."""
    done = set(contacted)
    room = max(size - len(contacted), 0)
    waiting = tuple([pid for pid in at_risk_in_order if pid not in done][:room])
    beyond = at_risk_now - contacted_at_risk_now - len(waiting)
    return WeekTarget(size, first_day, tuple(contacted), waiting, beyond)
