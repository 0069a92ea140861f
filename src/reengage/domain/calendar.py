"""Calendar days in an org's timezone: what "the last N days" and "the end of day D" mean."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

ONE_MICROSECOND = timedelta(microseconds=1)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


@lru_cache(maxsize=65536)  # a day's end is asked for per patient per day: years of days
def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last instant of ``day`` in ``zone`` (the instant before the next day starts),
    labelled with the UTC offset the clinic's clocks show then.

    The microsecond is taken off in UTC: arithmetic on a datetime in ``zone`` is wall-clock
    arithmetic, which on a day whose clocks go back at midnight (America/Santiago) lands on
    the first of the two 23:59s and loses the day's last hour. The result carries a fixed
    offset rather than ``zone``: a ZoneInfo datetime in a repeated hour (``fold=1``) never
    compares equal to any datetime of another timezone (PEP 495), the same instant included.
    """
    next_start = start_of_day(day + timedelta(days=1), zone)
    last = (next_start.astimezone(UTC) - ONE_MICROSECOND).astimezone(zone)
    return last.astimezone(timezone(last.utcoffset() or timedelta(0)))


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``.

    Normalised through UTC so that where midnight does not exist (clocks jump forward at
    00:00) the result reads as the wall time the day really starts at, e.g. 01:00.
    """
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).astimezone(zone)


def next_day_start(instant: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the day after ``instant``'s day in ``zone``, in UTC."""
    return start_of_day(local_date(instant, zone) + timedelta(days=1), zone).astimezone(UTC)


@lru_cache(maxsize=65536)
def _end_of_day_utc(day: date, zone: ZoneInfo) -> datetime:
    return end_of_day(day, zone).astimezone(UTC)


def state_instant(day: date, as_of: datetime, zone: ZoneInfo) -> datetime:
    """A patient's state at the end of ``day``: as of the earlier of its last instant and as_of.

    The day's end is labelled UTC, like the records it is compared with: datetimes of one
    tzinfo compare without working out offsets, and a day walk compares each end with
    dozens of them.
    """
    end = _end_of_day_utc(day, zone)
    return end if end <= as_of else as_of


# No zone's offset has ever moved by more than a day at once (Apia skipped 30 December 2011).
OFFSET_MARGIN_DAYS = 3


@lru_cache(maxsize=256)  # asked once per record tested against a window, for the same as_of
def window_first_day(as_of: datetime, zone: ZoneInfo, days: int) -> date:
    """First calendar day of "the last ``days`` days", which end on as_of's date."""
    return local_date(as_of, zone) - timedelta(days=days - 1)


def window_start(as_of: datetime, zone: ZoneInfo, days: int) -> datetime:
    """The first instant of "the last ``days`` days": where a query's range begins."""
    return start_of_day(window_first_day(as_of, zone, days), zone)


def in_last_days(instant: datetime, as_of: datetime, zone: ZoneInfo, days: int) -> bool:
    """True when ``instant`` falls in the last ``days`` calendar days, up to as_of itself.

    Instants more than ``days`` + 3 days before as_of are outside whatever the offsets (no
    zone's offset has ever moved by more than a day at once), and skip the conversion: most
    records of a long history are such.
    """
    if instant > as_of or as_of - instant > timedelta(days=days + OFFSET_MARGIN_DAYS):
        return False
    return local_date(instant, zone) >= window_first_day(as_of, zone, days)


def days_between(earlier: datetime, later: datetime, zone: ZoneInfo) -> int:
    """Whole calendar days from ``earlier``'s date to ``later``'s date."""
    return (local_date(later, zone) - local_date(earlier, zone)).days


AS_OF_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
AS_OF_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
# The years reengage takes an instant in, in a record or as as_of: as the instant is
# written (a rule a client, and the OpenAPI document's pattern, can check without
# converting) and in UTC (as it is stored and answered). Windows and spells reach a year or
# more either side of an instant, which near years 1 or 9999 would leave the calendar a
# datetime can represent: an OverflowError deep in the derived state, long after validation.
EARLIEST_YEAR = 1900
LATEST_YEAR = 8999
INSTANT_YEARS = f"{EARLIEST_YEAR} to {LATEST_YEAR}"
OUT_OF_RANGE = f"is out of range: must fall in the years {INSTANT_YEARS}, in UTC too"


def instant_in_range(instant: datetime) -> bool:
    """True when an instant falls in a year reengage computes with, as written and in UTC.

    The UTC year is found without converting (which overflows next to years 1 and 9999)."""
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        return False
    offset = instant.utcoffset() or timedelta(0)
    if (
        instant.year == EARLIEST_YEAR
        and instant.replace(tzinfo=UTC) - datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC) < offset
    ):
        return False
    return not (
        instant.year == LATEST_YEAR
        and datetime(LATEST_YEAR + 1, 1, 1, tzinfo=UTC) - instant.replace(tzinfo=UTC) <= -offset
    )


AS_OF_FORMS = "a date (YYYY-MM-DD) or an ISO 8601 datetime with offset (2026-11-24T09:00:00+11:00)"


def parse_as_of(value: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """``as_of`` as the contract reads it: a datetime with offset, or a date meaning the end of
    that day in the org's timezone; absent (or empty) means now.

    Only those two forms: ISO 8601's week dates and basic format are refused rather than
    guessed at. Raises ValueError with a message fit for the client.
    """
    if value is None or value == "":
        return now
    text = value.strip()
    is_date = AS_OF_DATE.fullmatch(text) is not None
    if not is_date and not AS_OF_DATETIME.fullmatch(text):
        raise ValueError(f"must be {AS_OF_FORMS}")
    # Before any arithmetic: the end of a day in year 1 or 9999 may have no UTC form.
    if not EARLIEST_YEAR <= int(text[:4]) <= LATEST_YEAR:
        raise ValueError(OUT_OF_RANGE)
    try:
        if is_date:
            return end_of_day(date.fromisoformat(text), zone)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be {AS_OF_FORMS}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("a datetime needs a UTC offset (e.g. +10:00 or Z)")
    if not instant_in_range(parsed):
        raise ValueError(OUT_OF_RANGE)
    return parsed
