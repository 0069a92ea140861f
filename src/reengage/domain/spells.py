"""At-risk spells: runs of calendar days at whose end a patient is at risk, and how they end.

"At the end of day D" means as of the earlier of D's last instant and as_of. A spell ends
on the first day at whose end the patient is no longer at risk; it ended in reengagement
when the patient had a contact that day (what ``reengaged_successfully`` counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from reengage.domain.calendar import local_date, state_instant
from reengage.domain.history import PatientHistory
from reengage.domain.risk import in_population, is_at_risk, tier_at
from reengage.domain.settings import OrgSettings
from reengage.domain.tier_timeline import TierTimeline


@dataclass(frozen=True)
class Spell:
    first_day: date  # the first day at whose end the patient was at risk
    end_day: date | None  # the first day at whose end they were not; None if still at risk
    reengaged: bool  # ended with a contact on end_day


def at_risk_at_end_of(
    history: PatientHistory, day: date, as_of: datetime, settings: OrgSettings
) -> bool:
    instant = state_instant(day, as_of, settings.zone())
    return in_population(history, instant) and is_at_risk(tier_at(history, instant, settings))


def contact_days(history: PatientHistory, as_of: datetime, settings: OrgSettings) -> set[date]:
    zone = settings.zone()
    return {local_date(t, zone) for t in history.contact_times(as_of)}


def _change_days(history: PatientHistory, as_of: datetime, settings: OrgSettings) -> Iterator[date]:
    """Days on which the tier at the day's end can differ from the day before: between two
    of them, nothing the rules look at changes but the count of days since contact, which
    crosses a threshold only on a day listed here too."""
    zone = settings.zone()
    t = settings.tier_thresholds
    crossings = [timedelta(days=n) for n in (t.low, t.medium, t.high, t.critical)]
    for moment in (history.start(), *history.contact_times(as_of)):
        day = local_date(moment, zone)
        yield day
        for crossing in crossings:
            yield day + crossing
    for appt in history.appointments:
        if appt.booked_at is not None and appt.booked_at <= as_of:
            yield local_date(appt.booked_at, zone)
        if appt.starts_at <= as_of:
            yield local_date(appt.starts_at, zone)
    for comm in history.communications:  # a success time is a contact; kept for clarity
        if comm.sent_at <= as_of:
            yield local_date(comm.sent_at, zone)


def at_risk_spells(history: PatientHistory, as_of: datetime, settings: OrgSettings) -> list[Spell]:
    """Every spell that began on or before as_of's date, oldest first."""
    zone = settings.zone()
    today = local_date(as_of, zone)
    days = sorted({d for d in _change_days(history, as_of, settings) if d <= today})
    contacts = contact_days(history, as_of, settings)
    spells: list[Spell] = []
    open_since: date | None = None
    for day in days:
        risky = at_risk_at_end_of(history, day, as_of, settings)
        if risky and open_since is None:
            open_since = day
        elif not risky and open_since is not None:
            spells.append(Spell(open_since, day, day in contacts))
            open_since = None
    if open_since is not None:
        spells.append(Spell(open_since, None, False))
    return spells


@dataclass(frozen=True)
class Span:
    """A run of days at whose end the patient was in one at-risk tier, within its spell."""

    tier: str
    first_day: date
    end_day: date | None  # the first day at whose end they were not in the tier
    spell: Spell
    first_attempt_day: date | None  # the spell's first outreach attempt (first day to end)


# Settling is capped where as_of is: past it, day arithmetic would leave the calendar.
SETTLE_LIMIT = datetime(9000, 1, 1, tzinfo=UTC)


def settled(history: PatientHistory, settings: OrgSettings) -> datetime:
    """An instant after which the patient's tier can no longer change: their last record's
    latest timestamp (a scheduled visit's start included), plus the critical threshold."""
    latest = max([history.start(), *history.timestamps()])
    days = settings.tier_thresholds.critical + 2
    return min(latest + timedelta(days=days), SETTLE_LIMIT)


def risk_spans(
    history: PatientHistory,
    as_of: datetime,
    settings: OrgSettings,
    timeline: TierTimeline | None = None,
) -> list[Span]:
    """The at-risk tiers a patient went through, day by day, grouped in spells; for the
    derived ``risk_spans`` table, which answers trends without reading histories. Tiers
    come from a ``TierTimeline`` (asking ``risk.tier_at`` day by day would read the history
    once per day):
    ``timeline``, the history's, when the caller has one."""
    zone = settings.zone()
    today = local_date(as_of, zone)
    days = sorted({d for d in _change_days(history, as_of, settings) if d <= today})
    contacts = contact_days(history, as_of, settings)
    sent_days = sorted(local_date(a.sent_at, zone) for a in history.attempts(as_of))
    timeline = timeline or TierTimeline(history, settings)
    runs: list[tuple[str, date, date | None]] = []
    for day in days:
        instant = state_instant(day, as_of, zone)
        # The instant falls on ``day``: its end, or as_of on as_of's own date.
        tier = timeline.tier_at(instant, day) if timeline.in_population(instant) else None
        tier = tier if tier is not None and is_at_risk(tier) else None
        current = runs[-1] if runs and runs[-1][2] is None else None
        if current is not None and current[0] != tier:
            runs[-1] = (current[0], current[1], day)
            current = None
        if tier is not None and current is None:
            runs.append((tier, day, None))
    spans: list[Span] = []
    group: list[tuple[str, date, date | None]] = []
    for run in [*runs, ("", date.max, None)]:  # the sentinel closes the last group
        if group and run[1] != group[-1][2]:
            first, end = group[0][1], group[-1][2]
            spell = Spell(first, end, end is not None and end in contacts)
            attempts = [d for d in sent_days if first <= d and (end is None or d <= end)]
            first_attempt = attempts[0] if attempts else None
            spans += [Span(t, a, b, spell, first_attempt) for t, a, b in group]
            group = []
        group.append(run)
    return spans
