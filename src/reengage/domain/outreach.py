"""Outreach outcomes: successful contacts, conversions, rates, and what a patient's own
outreach history says (response rate, best time to call, the last ten attempts)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from reengage.domain.calendar import local_date
from reengage.domain.history import Appointment, Communication, PatientHistory

HISTORY_LENGTH = 10
PARTS_OF_DAY: tuple[str, ...] = ("morning", "afternoon", "evening")


def round_one_decimal(value: Fraction) -> float:
    """``value`` rounded to one decimal, halves away from zero (6.25 -> 6.3, as a spreadsheet
    rounds), from its exact value.

    Not ``round(float, 1)``: that rounds halves to even (6.25 -> 6.2) and rounds the float
    nearest the value, not the value, so 3 of 2000 (0.15 %) came out as 0.1.
    """
    tenths = math.floor(abs(value) * 10 + Fraction(1, 2))
    return -tenths / 10 if value < 0 and tenths else tenths / 10  # never -0.0


def rate(numerator: int, denominator: int) -> float | None:
    """A percentage rounded to one decimal; None when the denominator is 0."""
    if denominator == 0:
        return None
    return round_one_decimal(Fraction(100 * numerator, denominator))


def part_of_day(instant: datetime, zone: ZoneInfo) -> str:
    """``morning`` before 12:00, ``afternoon`` 12:00-16:59, ``evening`` from 17:00."""
    hour = instant.astimezone(zone).hour
    if hour < 12:
        return "morning"
    if hour < 17:
        return "afternoon"
    return "evening"


def success_times(history: PatientHistory, as_of: datetime) -> list[datetime]:
    return [t for c in history.attempts(as_of) if (t := c.success_at(as_of)) is not None]


def count_parts_of_day(times: Iterable[datetime], zone: ZoneInfo) -> tuple[int, ...]:
    """How many of ``times`` fall in each of ``PARTS_OF_DAY``: what ``best_part`` needs, and
    what a patient's derived state keeps of their success times."""
    counts = dict.fromkeys(PARTS_OF_DAY, 0)
    for at in times:
        counts[part_of_day(at, zone)] += 1
    return tuple(counts[part] for part in PARTS_OF_DAY)


def best_part(counts: Sequence[int]) -> str | None:
    """The part of day with the most of ``counts`` (one per ``PARTS_OF_DAY``); ties go to
    the earlier part; None when all are zero."""
    best = max(range(len(PARTS_OF_DAY)), key=lambda i: (counts[i], -i))
    return PARTS_OF_DAY[best] if counts[best] > 0 else None


@dataclass(frozen=True)
class HistoryEntry:
    date: date
    method: str
    success: bool
    reason: str


def attempt_reason(comm: Communication, as_of: datetime) -> str:
    if comm.success_at(as_of) is not None:
        return "connected" if comm.channel == "phone" else "responded"
    if comm.failed_by(as_of):
        return "delivery_failed"
    return "not_connected" if comm.channel == "phone" else "no_response"


def reengagement_history(
    history: PatientHistory, as_of: datetime, zone: ZoneInfo
) -> list[HistoryEntry]:
    """The 10 latest outreach attempts, newest first; equal send times by id."""
    attempts = sorted(history.attempts(as_of), key=lambda c: c.id)
    attempts.sort(key=lambda c: c.sent_at, reverse=True)
    return [
        HistoryEntry(
            date=local_date(c.sent_at, zone),
            method=c.channel,
            success=c.success_at(as_of) is not None,
            reason=attempt_reason(c, as_of),
        )
        for c in attempts[:HISTORY_LENGTH]
    ]


def conversion(
    contact: Communication,
    attempts: Sequence[Communication],
    appointments: Iterable[Appointment],
    as_of: datetime,
    window_days: int,
    zone: ZoneInfo,
) -> Appointment | None:
    """The booking a successful contact converted into, if any (as of as_of).

    A booking with ``booked_at`` after the contact's success time, on or before the date
    ``window_days`` later, and before the patient's next successful contact; the first such.
    ``attempts`` are the same patient's attempts.
    """
    success = contact.success_at(as_of)
    if success is None:
        return None
    last_day = local_date(success, zone) + timedelta(days=window_days)
    later = [
        t
        for c in attempts
        if (t := c.success_at(as_of)) is not None and (t, c.id) > (success, contact.id)
    ]
    next_success = min(later, default=None)
    candidates = [
        a
        for a in appointments
        if a.booked_at is not None
        and success < a.booked_at <= as_of
        and local_date(a.booked_at, zone) <= last_day
        and (next_success is None or a.booked_at < next_success)
    ]
    return min(candidates, key=lambda a: (a.booked_at, a.id), default=None)


def followed_by_contact(
    attempt: Communication, history: PatientHistory, as_of: datetime, window_days: int
) -> bool:
    """Was the attempt followed by a contact within ``window_days`` after its sent_at?

    The window includes ``sent_at`` itself: a call logged with ``connected_at`` equal to its
    ``sent_at`` (one timestamp for the whole call) is a successful contact, and was counted
    as outreach that reached nobody when the window started just after ``sent_at``.
    """
    until = min(attempt.sent_at + timedelta(days=window_days), as_of)
    return any(attempt.sent_at <= t <= until for t in history.contact_times(as_of))
