"""Hand-worked scenarios for ``/performance``'s figures ("Outreach outcomes", "GET
/performance"): the funnels per channel, the window, rates, conversions, the benchmark
comparison and the days to reengage.

Unless a test says otherwise: the org is in UTC with default settings, as_of is Sunday
2024-06-30 18:00 UTC (``AS_OF``), ``ago(n, h)`` is h:00 UTC n days before it and ``day(n)``
that date; the last 30 days are day(29) .. day(0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from reengage.domain.history import PatientHistory
from reengage.domain.performance import (
    TIMEFRAMES,
    OutreachCounts,
    Rates,
    average_days,
    our_performance,
    outreach_counts,
    rates,
    reengagement_days,
    window_dates,
)
from reengage.domain.settings import OrgSettings
from tests.domain.builders import (
    AS_OF,
    DEFAULT,
    TODAY,
    ago,
    appt,
    call,
    email,
    inbound,
    patient,
    sms,
)
from tests.domain.builders import settings as org_settings

IN_SYDNEY = org_settings(timezone="Australia/Sydney")


def counted(
    *histories: PatientHistory,
    days: int = 30,
    as_of: datetime = AS_OF,
    s: OrgSettings = DEFAULT,
) -> OutreachCounts:
    return outreach_counts(histories, as_of, s, days)


def shown(counts: OutreachCounts) -> dict[str, Any]:
    """The counts as the endpoint shows them, field for field."""
    c = counts.channels
    r = rates(counts)
    return {
        "outreach_attempts": counts.attempts,
        "successful_contacts": counts.successes,
        "contact_success_rate": r.contact_success_rate,
        "appointments_scheduled": counts.conversions,
        "conversion_rate": r.conversion_rate,
        "sms": (c["sms"].sent, c["sms"].delivered, c["sms"].responded, r.sms_response_rate),
        "email": (
            c["email"].sent,
            c["email"].opened,
            c["email"].responded,
            r.email_response_rate,
        ),
        "phone": (
            c["phone"].sent,
            c["phone"].connected,
            c["phone"].converted,
            r.phone_conversion_rate,
        ),
    }


# === Funnels =================================================================================


def test_funnels_per_channel() -> None:
    texts = patient(
        sms(ago(20, 9), delivered_at=ago(20, 9)),  # delivered
        sms(ago(19, 9), responded_at=ago(19, 10)),  # answered, no delivery receipt: delivered
        sms(ago(18, 9), delivered_at=ago(18, 9), responded_at=ago(18, 11)),
        sms(ago(17, 9), failed_at=ago(17, 9)),  # sent only
        sms(ago(1, 9), delivered_at=ago(-1, 9)),  # delivered after as_of: sent only
        sms(ago(1, 10), delivered_at=ago(1, 10), responded_at=ago(-1, 9)),  # delivered
        sms(ago(29, 0)),  # the window's first day
        sms(ago(30, 23, 59)),  # the day before it: not counted
        sms(ago(-1, 9), delivered_at=ago(-1, 9)),  # sent after as_of: not counted
        inbound(ago(5, 9)),  # not an attempt
        id="texts",
    )
    emails = patient(
        email(ago(15, 9), delivered_at=ago(15, 9), opened_at=ago(15, 10)),  # opened
        email(ago(14, 9), delivered_at=ago(14, 9), responded_at=ago(13, 9)),  # opened, answered
        email(ago(13, 9), delivered_at=ago(13, 9)),  # not opened
        email(ago(2, 9), opened_at=ago(-1, 9)),  # opened after as_of: not opened
        inbound(ago(5, 9), "email"),
        id="emails",
    )
    calls = patient(
        call(ago(12, 9), connected_at=ago(12, 9)),
        call(ago(11, 9)),  # never connected
        call(ago(10, 9), failed_at=ago(10, 9)),
        call(ago(0, 17), connected_at=ago(-1, 9)),  # connected after as_of: not connected
        inbound(ago(5, 9), "phone"),
        id="calls",
        status="discharged",  # outreach figures count every patient of the org
    )
    assert shown(counted(texts, emails, calls)) == {
        "outreach_attempts": 15,  # 7 + 4 + 4
        "successful_contacts": 4,  # 2 + 1 + 1
        "contact_success_rate": 26.7,
        "appointments_scheduled": 0,
        "conversion_rate": 0.0,
        "sms": (7, 4, 2, 50.0),
        "email": (4, 2, 1, 50.0),
        "phone": (4, 1, 0, 0.0),
    }


def test_the_same_records_looked_at_later() -> None:
    texts = patient(
        sms(ago(1, 9), delivered_at=ago(-1, 9)),
        sms(ago(1, 10), delivered_at=ago(1, 10), responded_at=ago(-1, 9)),
        sms(ago(-1, 9), delivered_at=ago(-1, 9)),
    )
    # As of two days later all three are sent, delivered, and one answered.
    assert shown(counted(texts, as_of=ago(-2, 9)))["sms"] == (3, 3, 1, 33.3)
    # One second before the first was sent, nothing.
    assert shown(counted(texts, as_of=ago(1, 9) - timedelta(seconds=1)))["sms"] == (
        0,
        0,
        0,
        None,
    )


@pytest.mark.parametrize(
    ("days", "first_day"),
    [(1, TODAY), (7, date(2024, 6, 24)), (30, date(2024, 6, 1)), (90, date(2024, 4, 2))],
)
def test_the_window_is_the_last_n_calendar_days(days: int, first_day: date) -> None:
    assert window_dates(AS_OF, DEFAULT, days) == (first_day, TODAY)
    on_first = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    history = patient(sms(on_first), sms(on_first - timedelta(microseconds=1)), sms(AS_OF))
    # The first day's first instant is in, the instant before it out; as_of itself is in.
    assert counted(history, days=days).attempts == 2


def test_timeframes() -> None:
    assert TIMEFRAMES == {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}


def test_the_window_is_the_clinics_calendar_days() -> None:
    """as_of (30 June 18:00 UTC) is 1 July 04:00 in Sydney: the last 7 days there are
    25 June .. 1 July, in UTC 24 .. 30 June."""
    history = patient(
        sms(datetime(2024, 6, 24, 13, tzinfo=UTC)),  # 24 June 23:00 in Sydney
        sms(datetime(2024, 6, 24, 15, tzinfo=UTC)),  # 25 June 01:00 in Sydney
        sms(datetime(2024, 6, 23, 15, tzinfo=UTC)),  # 24 June 01:00 in Sydney
        sms(datetime(2024, 6, 30, 17, tzinfo=UTC)),  # 1 July 03:00 in Sydney
    )
    assert window_dates(AS_OF, IN_SYDNEY, 7) == (date(2024, 6, 25), date(2024, 7, 1))
    assert window_dates(AS_OF, DEFAULT, 7) == (date(2024, 6, 24), date(2024, 6, 30))
    assert counted(history, days=7, s=DEFAULT).attempts == 3
    assert counted(history, days=7, s=IN_SYDNEY).attempts == 2


# === Rates ===================================================================================


def test_rates_are_null_on_zero_denominators() -> None:
    assert rates(OutreachCounts()) == Rates(None, None, None, None, None)
    unanswered = patient(sms(ago(3, 9)), email(ago(3, 9)), call(ago(3, 9)))
    assert shown(counted(unanswered)) == {
        "outreach_attempts": 3,
        "successful_contacts": 0,
        "contact_success_rate": 0.0,
        "appointments_scheduled": 0,
        "conversion_rate": None,
        "sms": (1, 0, 0, None),
        "email": (1, 0, 0, None),
        "phone": (1, 0, 0, None),
    }


# === Conversions =============================================================================


def test_conversions_inside_the_attribution_window() -> None:
    inside = patient(
        sms(ago(20, 9), responded_at=ago(20, 10)),
        appt(ago(-5, 9), "scheduled", booked_at=ago(18, 9)),
        id="inside",
    )
    last_day = patient(  # day(20) + 14 = day(6): its last minute is still inside
        sms(ago(20, 9), responded_at=ago(20, 10)),
        appt(ago(-5, 9), "scheduled", booked_at=ago(6, 23, 59)),
        id="last_day",
    )
    outside = patient(  # day(5): one day too late
        sms(ago(20, 9), responded_at=ago(20, 10)),
        appt(ago(-5, 9), "scheduled", booked_at=ago(5, 0, 0)),
        id="outside",
    )
    cut = patient(  # the call 3 days later converts, not the text
        sms(ago(20, 9), responded_at=ago(20, 10)),
        call(ago(17, 9), connected_at=ago(17, 9)),
        appt(ago(-5, 9), "scheduled", booked_at=ago(16, 9)),
        id="cut",
    )
    not_yet = patient(  # booked after as_of: not counted yet
        sms(ago(3, 9), responded_at=ago(3, 10)),
        appt(ago(-9, 9), "scheduled", booked_at=ago(-1, 9)),
        id="not_yet",
    )
    before = patient(  # booked before the answer
        sms(ago(20, 9), responded_at=ago(20, 10)),
        appt(ago(-9, 9), "scheduled", booked_at=ago(20, 9, 30)),
        id="before",
    )
    figures = shown(counted(inside, last_day, outside, cut, not_yet, before))
    assert figures["successful_contacts"] == 7
    assert figures["appointments_scheduled"] == 3  # inside, last_day, cut's call
    assert figures["conversion_rate"] == 42.9
    assert figures["phone"] == (1, 1, 1, 100.0)
    assert figures["sms"] == (6, 6, 6, 100.0)
    # Two days on, not_yet's booking has happened.
    assert counted(not_yet, as_of=ago(-2, 9)).conversions == 1
    # A longer attribution window takes in outside's booking.
    assert counted(outside, s=org_settings(attribution_window_days=15)).conversions == 1


def test_a_contact_in_the_window_converts_into_any_booking_up_to_as_of() -> None:
    """The window picks attempts by sent_at; a contact sent in it converts into a booking
    made up to as_of; one sent before it is not counted, whenever its booking fell."""
    history = patient(
        sms(ago(8, 9), responded_at=ago(8, 10)),
        appt(ago(-9, 9), "scheduled", booked_at=ago(1, 9)),
    )
    assert counted(history, days=30).conversions == 1
    assert counted(history, days=7).attempts == 0  # sent before the last 7 days


def test_an_unsuccessful_attempt_does_not_cut_attribution() -> None:
    history = patient(
        sms(ago(20, 9), responded_at=ago(20, 10)),
        call(ago(17, 9)),  # not connected
        inbound(ago(17, 11)),  # a contact, but not a successful contact
        appt(ago(-5, 9), "scheduled", booked_at=ago(16, 9)),
    )
    figures = shown(counted(history))
    assert figures["appointments_scheduled"] == 1
    assert figures["sms"] == (1, 1, 1, 100.0)
    assert figures["phone"] == (1, 0, 0, None)


# === Benchmark comparison ====================================================================


@pytest.mark.parametrize(
    ("contact", "conversion", "expected"),
    [
        (61.4, 75.3, "above_average"),
        (55.0, 68.0, "above_average"),  # "at or above" at exact equality
        (100.0, 68.0, "above_average"),
        (54.9, 68.0, "average"),
        (55.0, 67.9, "average"),
        (80.0, 10.0, "average"),
        (54.9, 67.9, "below_average"),
        (0.0, 0.0, "below_average"),
        (None, 75.0, "insufficient_data"),
        (61.4, None, "insufficient_data"),
        (None, None, "insufficient_data"),
        (0.0, None, "insufficient_data"),
    ],
)
def test_our_performance(contact: float | None, conversion: float | None, expected: str) -> None:
    assert our_performance(contact, conversion, DEFAULT) == expected


def test_our_performance_against_the_orgs_benchmarks() -> None:
    custom = org_settings(
        benchmarks={"industry_avg_contact_rate": 40.0, "industry_avg_conversion": 80.5}
    )
    assert our_performance(40.0, 80.5, custom) == "above_average"
    assert our_performance(61.4, 75.3, custom) == "average"
    assert our_performance(39.9, 80.4, custom) == "below_average"
    assert our_performance(61.4, 75.3, DEFAULT) == "above_average"


# === Days to reengage ========================================================================

# Registered 35 days ago, last heard from 30 days ago: at risk from day(16).
REGISTERED = ago(35, 9)
LAST_HEARD = inbound(ago(30, 9))


def days_to_reengage(history: PatientHistory, days: int = 30, as_of: datetime = AS_OF) -> list[int]:
    return reengagement_days(history, as_of, DEFAULT, days)


def test_days_from_the_spells_first_attempt_to_the_day_it_ended() -> None:
    history = patient(
        LAST_HEARD,
        sms(ago(20, 9), delivered_at=ago(20, 9)),  # before the spell (day(20) was low)
        sms(ago(13, 9), delivered_at=ago(13, 9)),  # the spell's first attempt
        email(ago(12, 9)),
        call(ago(10, 11), connected_at=ago(10, 11)),  # ends it on day(10)
        registered_at=REGISTERED,
    )
    assert days_to_reengage(history) == [3]


def test_an_attempt_on_the_day_the_spell_ends_is_the_spells() -> None:
    """The call that brought the patient back, the same day: 0 days."""
    history = patient(
        LAST_HEARD, call(ago(10, 11), connected_at=ago(10, 11)), registered_at=REGISTERED
    )
    assert days_to_reengage(history) == [0]


def test_an_attempt_on_the_spells_first_day_counts() -> None:
    history = patient(
        LAST_HEARD,
        sms(ago(16, 8)),  # the morning of the day the patient turned medium
        sms(ago(10, 9), responded_at=ago(10, 15)),
        registered_at=REGISTERED,
    )
    assert days_to_reengage(history) == [6]


def test_a_spell_with_no_attempt_is_left_out() -> None:
    # The patient wrote in on their own on day(10).
    history = patient(LAST_HEARD, inbound(ago(10, 9)), registered_at=REGISTERED)
    assert days_to_reengage(history) == []
    # A booking made without outreach ends it too; still no attempt.
    booked = patient(
        LAST_HEARD, appt(ago(-5, 9), "scheduled", booked_at=ago(8, 9)), registered_at=REGISTERED
    )
    assert days_to_reengage(booked) == []


def test_an_ongoing_spell_is_left_out() -> None:
    history = patient(LAST_HEARD, sms(ago(5, 9)), call(ago(2, 9)), registered_at=REGISTERED)
    assert days_to_reengage(history) == []


def test_only_spells_that_ended_in_the_window_count() -> None:
    history = patient(
        LAST_HEARD,
        sms(ago(13, 9)),
        call(ago(10, 11), connected_at=ago(10, 11)),  # ends day(10)
        registered_at=REGISTERED,
    )
    assert days_to_reengage(history, days=11) == [3]  # day(10) .. day(0)
    assert days_to_reengage(history, days=10) == []  # day(9) .. day(0)
    # Looked at on day(11), the spell has not ended yet.
    assert days_to_reengage(history, as_of=ago(11, 18)) == []


def test_every_spell_that_ended_in_the_window() -> None:
    history = patient(
        inbound(ago(80, 9)),
        sms(ago(70, 9)),  # before the spell from day(66): not its attempt
        sms(ago(65, 9)),  # the spell's first attempt
        call(ago(60, 9), connected_at=ago(60, 9)),  # ends it on day(60): 5 days
        email(ago(45, 9), responded_at=ago(41, 9)),  # spell from day(46), ends day(41): 4
        inbound(ago(20, 9)),  # spell from day(27), ended without an attempt
        registered_at=ago(90, 9),
    )
    assert days_to_reengage(history, days=90) == [5, 4]
    assert days_to_reengage(history, days=30) == []


def test_only_the_population_reengages() -> None:
    history = patient(
        LAST_HEARD,
        call(ago(10, 11), connected_at=ago(10, 11)),
        registered_at=REGISTERED,
        status="inactive",
    )
    assert days_to_reengage(history) == []


def test_days_to_reengage_use_the_clinics_calendar() -> None:
    """The text sent 19 June 13:00 UTC is 19 June 23:00 in Sydney, its answer 20 June
    15:00 UTC is 21 June 01:00 there: 1 day in UTC, 2 in Sydney."""
    contact = inbound(datetime(2024, 6, 1, 20, tzinfo=UTC))
    history = patient(
        contact,
        sms(
            datetime(2024, 6, 19, 13, tzinfo=UTC),
            responded_at=datetime(2024, 6, 20, 15, tzinfo=UTC),
        ),
        registered_at=datetime(2024, 5, 25, 9, tzinfo=UTC),
    )
    assert reengagement_days(history, AS_OF, DEFAULT, 30) == [1]
    assert reengagement_days(history, AS_OF, IN_SYDNEY, 30) == [2]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([3], 3.0),
        ([2, 0, 3], 1.7),
        ([1, 2], 1.5),
        ([0, 0, 0, 1], 0.3),  # 0.25: halves away from zero
        ([0, 0], 0.0),
    ],
)
def test_average_days(values: list[int], expected: float | None) -> None:
    assert average_days(sum(values), len(values)) == expected
    if values:
        assert abs(Fraction(str(expected)) - Fraction(sum(values), len(values))) <= Fraction(1, 20)
