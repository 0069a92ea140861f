"""Calendar days in the org's timezone: "the last N days", "the end of day D", and ``as_of``.

Contract, "Time and contact": days are calendar days in the org's timezone; the last N days
are the N calendar days ending on as_of's date, up to as_of itself; ``as_of`` is an ISO
datetime with offset, or a date meaning the end of that day in the org's timezone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.domain.calendar import (
    days_between,
    end_of_day,
    in_last_days,
    instant_in_range,
    local_date,
    parse_as_of,
    start_of_day,
    state_instant,
    window_first_day,
)
from tests.domain.builders import SYDNEY

SANTIAGO = ZoneInfo("America/Santiago")
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2024, 6, 30, 4, 0, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- local dates and day counts ----------------------------------------------------------


def test_local_date_is_the_date_on_the_clinic_wall() -> None:
    # 14:30 UTC on the 23rd is 00:30 on the 24th in Sydney (AEST, +10:00).
    assert local_date(utc(2024, 6, 23, 14, 30), SYDNEY) == date(2024, 6, 24)
    assert local_date(utc(2024, 6, 23, 13, 30), SYDNEY) == date(2024, 6, 23)
    assert local_date(utc(2024, 6, 23, 14, 30), ZoneInfo("UTC")) == date(2024, 6, 23)


def test_days_between_counts_calendar_days_not_24_hour_spans() -> None:
    # One minute apart across midnight is one day; 23 hours inside a day is none.
    assert days_between(utc(2024, 6, 29, 23, 59), utc(2024, 6, 30, 0, 0), ZoneInfo("UTC")) == 1
    assert days_between(utc(2024, 6, 30, 0, 0), utc(2024, 6, 30, 23, 0), ZoneInfo("UTC")) == 0
    # The same two instants are 0 days apart in Sydney (both on 30 June there).
    assert days_between(utc(2024, 6, 29, 23, 59), utc(2024, 6, 30, 0, 0), SYDNEY) == 0


# --- the end of a day ----------------------------------------------------------------------


def test_end_of_day_is_the_last_microsecond_of_the_local_day() -> None:
    assert end_of_day(date(2024, 6, 30), ZoneInfo("UTC")) == utc(2024, 6, 30, 23, 59, 59, 999999)
    assert end_of_day(date(2024, 6, 30), SYDNEY) == utc(2024, 6, 30, 13, 59, 59, 999999)
    assert start_of_day(date(2024, 6, 30), SYDNEY) == utc(2024, 6, 29, 14, 0)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (SYDNEY, date(2024, 4, 7), 25),  # AEDT -> AEST at 03:00
        (SYDNEY, date(2024, 10, 6), 23),  # AEST -> AEDT at 02:00
        (SANTIAGO, date(2024, 4, 6), 25),  # clocks go back at midnight: 23:00-24:00 twice
        (SANTIAGO, date(2024, 9, 8), 23),  # clocks jump from 24:00 to 01:00: no midnight
        (ZoneInfo("UTC"), date(2024, 6, 30), 24),
    ],
)
def test_a_dst_day_is_as_long_as_the_clocks_say(zone: ZoneInfo, day: date, hours: int) -> None:
    first = start_of_day(day, zone)
    last = end_of_day(day, zone)
    assert last.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=hours) - MICRO
    # The next day starts one microsecond after this one ends.
    assert start_of_day(day + timedelta(days=1), zone).astimezone(UTC) - last.astimezone(UTC) == (
        MICRO
    )
    assert local_date(first, zone) == day == local_date(last, zone)


def test_end_of_day_keeps_the_repeated_last_hour_when_clocks_go_back_at_midnight() -> None:
    """Fixed bug: the microsecond used to be taken off in wall-clock time, which in Santiago
    on 6 April 2024 gave the first of the two 23:59s (02:59Z), dropping the day's last hour."""
    last = end_of_day(date(2024, 4, 6), SANTIAGO)
    assert last == utc(2024, 4, 7, 3, 59, 59, 999999)
    # An event at 23:30 local in the repeated hour (-04:00) is on the 6th, and before its end.
    late = datetime(2024, 4, 7, 3, 30, tzinfo=UTC)
    assert local_date(late, SANTIAGO) == date(2024, 4, 6)
    assert late <= last


def test_a_day_without_midnight_starts_when_its_clock_does() -> None:
    first = start_of_day(date(2024, 9, 8), SANTIAGO)
    assert first == utc(2024, 9, 8, 4, 0)
    assert (first.hour, first.minute) == (1, 0)  # reads as 01:00 -03:00, not a missing 00:00


def test_state_instant_is_the_earlier_of_the_days_end_and_as_of() -> None:
    as_of = utc(2024, 6, 30, 18, 0)
    zone = ZoneInfo("UTC")
    assert state_instant(date(2024, 6, 29), as_of, zone) == utc(2024, 6, 29, 23, 59, 59, 999999)
    assert state_instant(date(2024, 6, 30), as_of, zone) == as_of


# --- the last N days -----------------------------------------------------------------------


def test_the_last_n_days_end_on_as_ofs_date_and_include_it() -> None:
    as_of = utc(2024, 6, 30, 18, 0)
    zone = ZoneInfo("UTC")
    assert window_first_day(as_of, zone, 1) == date(2024, 6, 30)
    assert window_first_day(as_of, zone, 14) == date(2024, 6, 17)
    # The first day of the window counts from its first instant; the day before does not.
    assert in_last_days(utc(2024, 6, 17, 0, 0), as_of, zone, 14)
    assert not in_last_days(utc(2024, 6, 16, 23, 59, 59, 999999), as_of, zone, 14)
    # Up to as_of itself: later on as_of's own date is outside.
    assert in_last_days(as_of, as_of, zone, 14)
    assert not in_last_days(as_of + MICRO, as_of, zone, 14)


def test_the_last_n_days_are_local_days() -> None:
    as_of = datetime(2024, 6, 30, 18, 0, tzinfo=SYDNEY)
    # 17 June 00:30 in Sydney is 16 June 14:30 UTC: inside in Sydney, outside in UTC terms.
    instant = utc(2024, 6, 16, 14, 30)
    assert in_last_days(instant, as_of, SYDNEY, 14)
    assert not in_last_days(instant, as_of, ZoneInfo("UTC"), 14)


# Zones whose offsets jumped furthest: Apia skipped 30 December 2011 (-10 to +14), Kiritimati
# 31 December 1994; Santiago and Lord Howe move by an hour and by half an hour.
JUMPY_ZONES = ("Pacific/Apia", "Pacific/Kiritimati", "America/Santiago", "Australia/Lord_Howe")


@settings(max_examples=500, deadline=None)
@given(
    zone=st.sampled_from([*JUMPY_ZONES, "Australia/Sydney", "UTC"]).map(ZoneInfo),
    as_of=st.datetimes(
        min_value=datetime(1993, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    back=st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=120)),
    days=st.sampled_from([1, 7, 14, 30, 90]),
)
def test_the_window_shortcut_agrees_with_the_plain_definition(
    zone: ZoneInfo, as_of: datetime, back: timedelta, days: int
) -> None:
    """``in_last_days`` skips converting instants far before the window; the answer is the
    definition's: up to as_of, on or after the window's first local date."""
    instant = as_of - back
    assert in_last_days(instant, as_of, zone, days) == _plainly_in(instant, as_of, zone, days)


@pytest.mark.parametrize("zone", [ZoneInfo(z) for z in JUMPY_ZONES[:2]])
def test_the_window_shortcut_holds_across_a_skipped_day(zone: ZoneInfo) -> None:
    """Around the day Apia and Kiritimati skipped, every hour for a week either side."""
    jump = datetime(2011, 12, 30, tzinfo=UTC) if zone.key == "Pacific/Apia" else None
    jump = jump or datetime(1995, 1, 1, tzinfo=UTC)
    for as_of_hours in range(-24 * 7, 24 * 7, 5):
        as_of = jump + timedelta(hours=as_of_hours)
        for back_hours in range(-30, 24 * 20):
            instant = as_of - timedelta(hours=back_hours)
            assert in_last_days(instant, as_of, zone, 14) == _plainly_in(instant, as_of, zone, 14)


def _plainly_in(instant: datetime, as_of: datetime, zone: ZoneInfo, days: int) -> bool:
    """The definition: up to as_of, on or after the window's first local date."""
    return instant <= as_of and local_date(instant, zone) >= window_first_day(as_of, zone, days)


# --- as_of --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_no_as_of_means_now(value: str | None) -> None:
    assert parse_as_of(value, SYDNEY, NOW) is NOW


def test_a_date_means_the_end_of_that_day_in_the_orgs_timezone() -> None:
    parsed = parse_as_of("2024-06-30", SYDNEY, NOW)
    assert parsed == utc(2024, 6, 30, 13, 59, 59, 999999)
    assert parsed.utcoffset() == timedelta(hours=10)
    assert parse_as_of("2024-06-30", ZoneInfo("UTC"), NOW) == utc(2024, 6, 30, 23, 59, 59, 999999)
    assert parse_as_of("  2024-06-30 ", ZoneInfo("UTC"), NOW) == utc(
        2024, 6, 30, 23, 59, 59, 999999
    )


@pytest.mark.parametrize(
    ("value", "offset_hours"),
    [("2024-04-07", 10), ("2024-10-06", 11)],  # Sydney's DST days end in the new offset
)
def test_a_date_on_a_dst_day_ends_at_that_days_last_local_instant(
    value: str, offset_hours: int
) -> None:
    parsed = parse_as_of(value, SYDNEY, NOW)
    assert (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) == (23, 59, 59, 999999)
    assert parsed.utcoffset() == timedelta(hours=offset_hours)
    assert local_date(parsed, SYDNEY) == date.fromisoformat(value)


def test_a_datetime_with_offset_is_taken_as_it_is() -> None:
    parsed = parse_as_of("2024-06-30T09:15:00+10:00", ZoneInfo("UTC"), NOW)
    assert parsed == utc(2024, 6, 29, 23, 15)
    assert parsed.utcoffset() == timedelta(hours=10)
    assert parse_as_of("2024-06-30T09:15:00Z", SYDNEY, NOW) == utc(2024, 6, 30, 9, 15)
    assert parse_as_of("2024-06-30T09:15:00-05:00", SYDNEY, NOW).tzinfo == timezone(
        timedelta(hours=-5)
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-06-30T09:15:00", "needs a UTC offset"),
        ("2024-06-30 09:15", "needs a UTC offset"),
        ("2024-02-30", "must be a date"),
        ("yesterday", "must be a date"),
        ("2024-06-30T25:00:00Z", "must be a date"),
    ],
)
def test_a_datetime_without_offset_or_a_malformed_value_is_refused(
    value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_as_of(value, SYDNEY, NOW)


# --- the years an instant may fall in ----------------------------------------------------
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(
    written=st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    zone=offsets,
)
def test_an_instant_is_in_range_when_its_year_is_as_written_and_in_utc(
    written: datetime, zone: timezone
) -> None:
    """The rule that keeps 9999-12-31 and 0001-01-01 out of the derived state's arithmetic:
    the year as written and the UTC year both in 1900-8999 (8999-12-31T23:00-12:00 is 9000
    in UTC, and would be answered as 9000)."""
    instant = written.replace(tzinfo=zone)
    in_utc = instant.astimezone(UTC)  # safe a day inside the calendar's ends
    expected = 1900 <= written.year <= 8999 and 1900 <= in_utc.year <= 8999
    assert instant_in_range(instant) is expected


def test_the_range_edges() -> None:
    plus_ten, minus_twelve = timezone(timedelta(hours=10)), timezone(timedelta(hours=-12))
    assert instant_in_range(datetime(1900, 1, 1, tzinfo=UTC))
    assert not instant_in_range(datetime(1900, 1, 1, 9, 59, tzinfo=plus_ten))
    assert instant_in_range(datetime(1900, 1, 1, 10, 0, tzinfo=plus_ten))
    assert instant_in_range(datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert instant_in_range(datetime(8999, 12, 31, 11, 59, 59, tzinfo=minus_twelve))
    assert not instant_in_range(datetime(8999, 12, 31, 12, 0, tzinfo=minus_twelve))
    assert not instant_in_range(datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    assert not instant_in_range(datetime(1, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="out of range"):
        parse_as_of("8999-12-31T20:00:00-05:00", UTC_ZONE, NOW)
    with pytest.raises(ValueError, match="out of range"):
        parse_as_of("9999-12-31", UTC_ZONE, NOW)
