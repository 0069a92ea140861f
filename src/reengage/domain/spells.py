"""At-risk spells: runs of calendar days at whose end a patient is at risk, and how they end.

"At the end of day D" means as of the earlier of D's last instant and as_of. A spell ends
on the first day at whose end the patient is no longer at risk; it ended in reengagement
when the patient had a contact that day (what ``reengaged_successfully`` counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reengage.domain.calendar import local_date, state_instant
from reengage.domain.history import PatientHistory
from reengage.domain.risk import in_population, is_at_risk, tier_at
from reengage.domain.settings import OrgSettings


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
    """Days on which being at risk at the day's end can differ from the day before: between
    two of them, nothing the rules look at changes but the count of days since contact,
    which crosses the ``medium`` threshold only on a day listed here too."""
    zone = settings.zone()
    medium = timedelta(days=settings.tier_thresholds.medium)
    yield local_date(history.start(), zone)
    for t in history.contact_times(as_of):
        yield local_date(t, zone)
        yield local_date(t, zone) + medium
    yield local_date(history.start(), zone) + medium
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
