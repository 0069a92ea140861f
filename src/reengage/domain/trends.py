"""Daily trends, channel trends against the previous period, and risk distribution changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from reengage.domain.calendar import local_date, window_first_day
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import rate, round_one_decimal
from reengage.domain.performance import OutreachCounts
from reengage.domain.prediction import converted_at
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import at_risk_spells

PERIODS: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90, "6m": 182, "1y": 365}
METRICS: tuple[str, ...] = ("risk_levels", "success_rates", "channel_performance")
TREND_THRESHOLD = 5  # percent of relative change that makes a trend


@dataclass
class Day:
    date: date
    new_at_risk: int = 0
    reengaged_successfully: int = 0
    outreach_attempts: int = 0
    appointments_scheduled: int = 0


def period_days(as_of: datetime, settings: OrgSettings, days: int) -> list[date]:
    first = window_first_day(as_of, settings.zone(), days)
    return [first + timedelta(days=i) for i in range(days)]


def daily(
    histories: Iterable[PatientHistory], as_of: datetime, settings: OrgSettings, days: int
) -> list[Day]:
    """One row per day of the period, oldest first, days with nothing included.

    ``new_at_risk``: spells that began that day; ``reengaged_successfully``: spells that
    ended that day with a contact (population patients only, through the spells);
    ``outreach_attempts`` by send date; ``appointments_scheduled``: converting contacts,
    on the day of the booking they converted into (every patient counts for outreach).
    """
    zone = settings.zone()
    rows = {d: Day(d) for d in period_days(as_of, settings, days)}
    for history in histories:
        for spell in at_risk_spells(history, as_of, settings):
            if spell.first_day in rows:
                rows[spell.first_day].new_at_risk += 1
            if spell.end_day in rows and spell.reengaged:
                rows[spell.end_day].reengaged_successfully += 1
        for attempt in history.attempts(as_of):
            sent = local_date(attempt.sent_at, zone)
            if sent in rows:
                rows[sent].outreach_attempts += 1
            booked_at = converted_at(history, attempt, as_of, settings)
            booked = local_date(booked_at, zone) if booked_at is not None else None
            if booked in rows:
                rows[booked].appointments_scheduled += 1
    return list(rows.values())


def _channel_pairs(counts: OutreachCounts) -> dict[str, tuple[int, int]]:
    """Per channel (successes, base) of its success rate: sms responded/delivered, email
    responded/opened, phone connected/attempted."""
    c = counts.channels
    return {
        "sms": (c["sms"].responded, c["sms"].delivered),
        "email": (c["email"].responded, c["email"].opened),
        "phone": (c["phone"].connected, c["phone"].sent),
    }


def channel_rates(counts: OutreachCounts) -> dict[str, float | None]:
    """Per channel success rate, as shown (one decimal)."""
    return {ch: rate(n, d) for ch, (n, d) in _channel_pairs(counts).items()}


def exact_channel_rates(counts: OutreachCounts) -> dict[str, Fraction | None]:
    """Per channel success rate, exact (what ``change_pct`` compares)."""
    return {
        ch: Fraction(100 * n, d) if d else None for ch, (n, d) in _channel_pairs(counts).items()
    }


def change_pct(current: Fraction | None, previous: Fraction | None) -> float | None:
    """Relative change in percent, one decimal; None when a rate is missing or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return round_one_decimal((current - previous) / previous * 100)


def success_rate_trend(change: float | None) -> str | None:
    if change is None:
        return None
    if change >= TREND_THRESHOLD:
        return "improving"
    if change <= -TREND_THRESHOLD:
        return "declining"
    return "stable"


def count_trend(start: int, end: int) -> str:
    """``stable`` within max(1, 5% of the start), else the direction."""
    if abs(end - start) <= max(Fraction(1), Fraction(start * 5, 100)):
        return "stable"
    return "increasing" if end > start else "decreasing"
