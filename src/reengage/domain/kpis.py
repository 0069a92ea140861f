"""The seed's four success metrics, measured over the current period against a baseline
period (settings ``kpis``), each with its target and whether it is met.

- The **current period** is the last ``period_days`` days (90 by default). The **baseline**
  is ``baseline_start`` to ``baseline_end`` when set, else the ``period_days`` days before
  the current period; a baseline that has not ended by as_of's date is not yet measured.
- **Staff efficiency**: over the at-risk spells whose first outreach attempt was sent in a
  period, the median of the calendar days from the spell's first day (the first day at whose
  end the patient was at risk) to that attempt's date. The change is relative to the
  baseline's median, in percent; met when it is at most minus the target (50% shorter).
- **Reengagement rate**: contact -> appointment conversion, as ``/performance`` counts it, of
  the outreach attempts sent in the current period: converting successful contacts over
  successful contacts. Met when above the target (70%).
- **Patient retention**: critical-risk patients as a share of the population (active
  patients) at as_of. Met when below the target (5%).
- **Revenue impact**: bookings that came from outreach (the bookings successful contacts
  converted into, counted on the booking's date) per day of the current period, against the
  same per day of the baseline; the change in percent. Met when at least the target (+25%).

Every rate, median and change is exact until rounded once to one decimal, halves away from
zero; a target is judged on the figures as shown. ``met`` is None when a figure it needs is
missing (no spell measured, no contact, an
empty population, a baseline with none).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import round_one_decimal
from reengage.domain.prediction import converted_at
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import at_risk_spells


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def holds(self, day: date | None) -> bool:
        return day is not None and self.first_day <= day <= self.last_day


def current_period(as_of: datetime, settings: OrgSettings) -> Period:
    today = local_date(as_of, settings.zone())
    return Period(today - timedelta(days=settings.kpis.period_days - 1), today)


def baseline_period(as_of: datetime, settings: OrgSettings) -> Period | None:
    """The baseline, or None while it has not ended (as of as_of's date)."""
    k = settings.kpis
    if k.baseline_start is not None and k.baseline_end is not None:
        found = Period(k.baseline_start, k.baseline_end)
    else:
        current = current_period(as_of, settings)
        last = current.first_day - timedelta(days=1)
        found = Period(last - timedelta(days=k.period_days - 1), last)
    return found if found.last_day <= local_date(as_of, settings.zone()) else None


def first_outreach_waits(
    history: PatientHistory, as_of: datetime, settings: OrgSettings
) -> list[tuple[date, int]]:
    """For each of the patient's at-risk spells with an outreach attempt: the date of its
    first, and the days from the spell's first day to it (``in_period`` picks a period's)."""
    zone = settings.zone()
    today = local_date(as_of, zone)
    sent_days = sorted(local_date(a.sent_at, zone) for a in history.attempts(as_of))
    out: list[tuple[date, int]] = []
    for spell in at_risk_spells(history, as_of, settings):
        last = spell.end_day or today
        first_sent = next((d for d in sent_days if spell.first_day <= d <= last), None)
        if first_sent is not None:
            out.append((first_sent, (first_sent - spell.first_day).days))
    return out


def in_period(waits: Iterable[tuple[date, int]], period: Period) -> list[int]:
    """The waits of the spells whose first attempt was sent in ``period``."""
    return [days for sent, days in waits if period.holds(sent)]


def outreach_bookings(
    histories: Iterable[PatientHistory], as_of: datetime, settings: OrgSettings, period: Period
) -> int:
    """Bookings successful contacts converted into, on a date of ``period``."""
    zone = settings.zone()
    count = 0
    for history in histories:
        for attempt in history.attempts(as_of):
            booked_at = converted_at(history, attempt, as_of, settings)
            if booked_at is not None and period.holds(local_date(booked_at, zone)):
                count += 1
    return count


def median(values: Sequence[int]) -> Fraction | None:
    if not values:
        return None
    return Fraction(statistics.median_low(values) + statistics.median_high(values), 2)


def relative_change(current: Fraction | None, baseline: Fraction | None) -> float | None:
    """(current - baseline) / baseline in percent, one decimal; None without both, or from 0."""
    if current is None or baseline is None or baseline == 0:
        return None
    return round_one_decimal((current - baseline) / baseline * 100)


def share(part: int, whole: int) -> Fraction | None:
    return Fraction(part * 100, whole) if whole else None


def per_day(count: int, period: Period) -> Fraction:
    return Fraction(count, period.days)


def shown(value: Fraction | None) -> float | None:
    return None if value is None else round_one_decimal(value)


@dataclass(frozen=True)
class Measures:
    """What the four metrics are made of, however it was counted."""

    waits: list[int]  # staff efficiency, current period
    baseline_waits: list[int] | None  # None: no baseline yet
    contacts: int  # successful contacts of the current period's attempts
    conversions: int  # of them, converted
    baseline_contacts: int | None
    baseline_conversions: int | None
    population: int
    critical: int
    bookings: int  # from outreach, current period
    baseline_bookings: int | None


@dataclass(frozen=True)
class Kpi:
    value: float | None
    baseline: float | None
    change_pct: float | None
    target: float
    met: bool | None
    sample: int  # how many things ``value`` is over (spells, contacts, patients, bookings)
    baseline_sample: int | None


def evaluate(
    m: Measures, current: Period, baseline: Period | None, settings: OrgSettings
) -> dict[str, Kpi]:
    """The four metrics, keyed by the seed's names."""
    t = settings.kpis.targets
    wait, wait_before = median(m.waits), _maybe(median, m.baseline_waits)
    wait_change = relative_change(wait, wait_before)
    conversion = share(m.conversions, m.contacts)
    conversion_before = (
        share(m.baseline_conversions, m.baseline_contacts)
        if m.baseline_conversions is not None and m.baseline_contacts is not None
        else None
    )
    critical = share(m.critical, m.population)
    bookings_change = (
        relative_change(per_day(m.bookings, current), per_day(m.baseline_bookings, baseline))
        if baseline is not None and m.baseline_bookings is not None
        else None
    )
    return {
        "staff_efficiency": Kpi(
            shown(wait),
            shown(wait_before),
            wait_change,
            t.time_to_first_outreach_reduction_pct,
            None if wait_change is None else wait_change <= -t.time_to_first_outreach_reduction_pct,
            len(m.waits),
            None if m.baseline_waits is None else len(m.baseline_waits),
        ),
        "reengagement_rate": Kpi(
            shown(conversion),
            shown(conversion_before),
            None,
            t.contact_conversion_rate,
            _judged(conversion, lambda shown_: shown_ > t.contact_conversion_rate),
            m.contacts,
            m.baseline_contacts,
        ),
        "patient_retention": Kpi(
            shown(critical),
            None,
            None,
            t.critical_share,
            _judged(critical, lambda shown_: shown_ < t.critical_share),
            m.population,
            None,
        ),
        "revenue_impact": Kpi(
            float(m.bookings),
            None if m.baseline_bookings is None else float(m.baseline_bookings),
            bookings_change,
            t.outreach_bookings_increase_pct,
            None
            if bookings_change is None
            else bookings_change >= t.outreach_bookings_increase_pct,
            m.bookings,
            m.baseline_bookings,
        ),
    }


def _judged(value: Fraction | None, test: Callable[[float], bool]) -> bool | None:
    """A target judged on the figure as shown (one decimal), so the page never says "70.0%:
    above 70%"."""
    return None if value is None else test(round_one_decimal(value))


def _maybe(
    f: Callable[[Sequence[int]], Fraction | None], v: Sequence[int] | None
) -> Fraction | None:
    return None if v is None else f(v)
