"""Whether outreach works: attempts, contacts and conversions over a window, per channel,
the days it takes to bring an at-risk patient back, and the benchmark comparison."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from reengage.domain.calendar import end_of_day, in_last_days, local_date, window_first_day
from reengage.domain.history import Communication, PatientHistory
from reengage.domain.outreach import rate, round_one_decimal
from reengage.domain.prediction import converted_at
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import at_risk_spells

TIMEFRAMES: dict[str, int] = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}
# An attempt's funnel: each step is reached once one of these of its instants has come (by
# as_of); "sent" needs none. ``converted_at`` is when a contact it made turned into a booking
# (``prediction.converted_at``). The SQL and the roll-ups' measures build from it.
FUNNEL_STEPS: dict[str, tuple[str, ...]] = {
    "sent": (),
    "delivered": ("delivered_at", "responded_at"),
    "opened": ("opened_at", "responded_at"),
    "responded": ("responded_at",),
    "connected": ("connected_at",),
    "converted": ("converted_at",),
}


def funnel_of(instants: Mapping[str, datetime | None], as_of: datetime) -> Funnel:
    """One attempt's funnel from its instants (``FUNNEL_STEPS``' names), as of as_of."""

    def reached(names: tuple[str, ...]) -> bool:
        return not names or any((at := instants[n]) is not None and at <= as_of for n in names)

    return Funnel(**{step: int(reached(names)) for step, names in FUNNEL_STEPS.items()})


@dataclass
class Funnel:
    """Counts for one channel: sent, reached (sms delivered, email opened, phone connected:
    what its rate divides by or counts), responded (sms, email), converted."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    responded: int = 0
    connected: int = 0
    converted: int = 0

    def __iadd__(self, other: Funnel) -> Funnel:
        for name in FUNNEL_STEPS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class OutreachCounts:
    channels: dict[str, Funnel] = field(
        default_factory=lambda: {"sms": Funnel(), "email": Funnel(), "phone": Funnel()}
    )

    @property
    def attempts(self) -> int:
        return sum(f.sent for f in self.channels.values())

    @property
    def successes(self) -> int:
        c = self.channels
        return c["sms"].responded + c["email"].responded + c["phone"].connected

    @property
    def conversions(self) -> int:
        return sum(f.converted for f in self.channels.values())

    def add(self, other: OutreachCounts) -> None:
        for channel, funnel in other.channels.items():
            self.channels[channel] += funnel


def attempt_funnel(
    attempt: Communication, history: PatientHistory, as_of: datetime, settings: OrgSettings
) -> Funnel:
    """One attempt's contribution to its channel's funnel, as of as_of."""

    success = attempt.success_at(as_of) is not None
    converted = converted_at(history, attempt, as_of, settings) if success else None
    instants = {
        "delivered_at": attempt.delivered_at,
        "opened_at": attempt.opened_at,
        "responded_at": attempt.responded_at,
        "connected_at": attempt.connected_at,
        "converted_at": converted,
    }
    return funnel_of(instants, as_of)


def outreach_counts(
    histories: Iterable[PatientHistory], as_of: datetime, settings: OrgSettings, days: int
) -> OutreachCounts:
    """Attempts sent in the last ``days`` days, of every patient, by channel."""
    return window_counts(histories, as_of, settings, days)


def window_counts(
    histories: Iterable[PatientHistory],
    as_of: datetime,
    settings: OrgSettings,
    days: int,
    ends_days_before: int = 0,
) -> OutreachCounts:
    """Funnels, as of as_of, of the attempts of every patient sent in ``days`` days ending
    ``ends_days_before`` days before as_of's date (0: the last ``days`` days; ``days``: the
    period before them)."""
    zone = settings.zone()
    last_day = local_date(as_of, zone) - timedelta(days=ends_days_before)
    window_end = min(end_of_day(last_day, zone), as_of)
    counts = OutreachCounts()
    for history in histories:
        for attempt in history.attempts(as_of):
            if in_last_days(attempt.sent_at, window_end, zone, days):
                counts.channels[attempt.channel] += attempt_funnel(
                    attempt, history, as_of, settings
                )
    return counts


def reengagement_days(
    history: PatientHistory, as_of: datetime, settings: OrgSettings, days: int
) -> list[int]:
    """For each at-risk spell that ended in reengagement in the last ``days`` days and had an
    outreach attempt, the calendar days from its first attempt to the day it ended."""
    zone = settings.zone()
    first_day = window_first_day(as_of, zone, days)
    sent_days = sorted(local_date(a.sent_at, zone) for a in history.attempts(as_of))
    out: list[int] = []
    for spell in at_risk_spells(history, as_of, settings):
        if spell.end_day is None or not spell.reengaged or spell.end_day < first_day:
            continue
        during = [d for d in sent_days if spell.first_day <= d <= spell.end_day]
        if during:
            out.append((spell.end_day - during[0]).days)
    return out


def average_days(total: int, count: int) -> float | None:
    """The mean of ``count`` day counts adding up to ``total``, one decimal."""
    return round_one_decimal(Fraction(total, count)) if count else None


def our_performance(
    contact_rate: float | None, conversion_rate: float | None, settings: OrgSettings
) -> str:
    if contact_rate is None or conversion_rate is None:
        return "insufficient_data"
    b = settings.benchmarks
    above = (
        contact_rate >= b.industry_avg_contact_rate,
        conversion_rate >= b.industry_avg_conversion,
    )
    if all(above):
        return "above_average"
    if not any(above):
        return "below_average"
    return "average"


@dataclass(frozen=True)
class Rates:
    contact_success_rate: float | None
    conversion_rate: float | None
    sms_response_rate: float | None
    email_response_rate: float | None
    phone_conversion_rate: float | None


def rates(counts: OutreachCounts) -> Rates:
    c = counts.channels
    return Rates(
        contact_success_rate=rate(counts.successes, counts.attempts),
        conversion_rate=rate(counts.conversions, counts.successes),
        sms_response_rate=rate(c["sms"].responded, c["sms"].delivered),
        email_response_rate=rate(c["email"].responded, c["email"].opened),
        phone_conversion_rate=rate(c["phone"].converted, c["phone"].connected),
    )


def window_dates(as_of: datetime, settings: OrgSettings, days: int) -> tuple[date, date]:
    zone = settings.zone()
    return window_first_day(as_of, zone, days), local_date(as_of, zone)
