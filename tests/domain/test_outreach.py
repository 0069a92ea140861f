"""Hand-worked scenarios for "Outreach outcomes" and the prioritized list's per-patient
outreach fields: ``previous_response_rate``, ``best_contact_time``,
``reengagement_history``; and the conversion rule behind appointments_scheduled.

As in test_risk: org in UTC, as_of 2024-06-30 18:00 UTC, ``ago(n, h)`` is h:00 UTC n days
before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reengage.domain.history import Appointment, Communication, PatientHistory
from reengage.domain.outreach import (
    HistoryEntry,
    best_part,
    conversion,
    count_parts_of_day,
    followed_by_contact,
    part_of_day,
    rate,
    reengagement_history,
    round_one_decimal,
    success_times,
)
from tests.domain.builders import (
    AS_OF,
    SYDNEY,
    ago,
    appt,
    call,
    day,
    email,
    inbound,
    patient,
    seen,
    sms,
)

UTC_ZONE = ZoneInfo("UTC")


# === Rates =================================================================================


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 0, None),
        (3, 0, None),
        (0, 5, 0.0),
        (5, 5, 100.0),
        (89, 145, 61.4),  # the seed's contact_success_rate
        (67, 89, 75.3),  # the seed's conversion_rate
        (1, 3, 33.3),
        (2, 3, 66.7),
        (1, 8, 12.5),
        # Exactly half a tenth: rounded up, as a spreadsheet does.
        (1, 16, 6.3),
        (7, 80, 8.8),
        (1, 80, 1.3),
        # 0.15 % exactly; the float nearest 100 * 3 / 2000 is just below it.
        (3, 2000, 0.2),
        (9, 2000, 0.5),
    ],
)
def test_rate_is_a_percentage_rounded_to_one_decimal(
    numerator: int, denominator: int, expected: float | None
) -> None:
    assert rate(numerator, denominator) == expected


def previous_response_rate(history: PatientHistory, as_of: datetime) -> float | None:
    """The entry's field as the list computes it (``risk.service``): successful contacts
    over outreach attempts, as a percentage."""
    return rate(len(success_times(history, as_of)), len(history.attempts(as_of)))


def best_contact_time(history: PatientHistory, as_of: datetime, zone: ZoneInfo) -> str | None:
    """The entry's field as the list computes it: the part of day with most successes."""
    return best_part(count_parts_of_day(success_times(history, as_of), zone))


def test_round_one_decimal_rounds_halves_away_from_zero() -> None:
    assert round_one_decimal(Fraction(25, 4)) == 6.3
    assert round_one_decimal(Fraction(-25, 4)) == -6.3
    assert round_one_decimal(Fraction(-1, 20)) == -0.1
    assert str(round_one_decimal(Fraction(-1, 30))) == "0.0"  # not -0.0
    assert round_one_decimal(Fraction(0)) == 0.0


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_a_rate_is_within_half_a_tenth_of_the_exact_value(n: int, d: int) -> None:
    shown = rate(min(n, d), d)
    assert shown is not None
    exact = Fraction(100 * min(n, d), d)
    assert abs(Fraction(shown).limit_denominator(10) - exact) <= Fraction(1, 20)
    assert 0.0 <= shown <= 100.0
    assert round(shown, 1) == shown


# === previous_response_rate ================================================================


def test_previous_response_rate_is_successful_over_attempts() -> None:
    history = patient(
        sms(ago(30, 9), delivered_at=ago(30, 9), responded_at=ago(30, 10)),  # success
        sms(ago(25, 9), delivered_at=ago(25, 9)),  # delivered, no answer
        email(ago(20, 9), opened_at=ago(20, 10)),  # opened, no answer
        call(ago(15, 9), connected_at=ago(15, 9)),  # success
        call(ago(10, 9), failed_at=ago(10, 9)),
        email(ago(8, 9), responded_at=ago(6, 9)),  # success
        inbound(ago(5, 9)),  # not an attempt
        inbound(ago(4, 9), "phone"),
    )
    assert previous_response_rate(history, AS_OF) == 50.0  # 3 of 6


def test_previous_response_rate_counts_only_what_happened_by_as_of() -> None:
    history = patient(
        sms(ago(3, 9), responded_at=ago(-1, 9)),  # answered only after as_of
        call(ago(2, 9), connected_at=ago(2, 9)),
        sms(ago(-2, 9), responded_at=ago(-2, 10)),  # sent after as_of
    )
    assert previous_response_rate(history, AS_OF) == 50.0
    assert previous_response_rate(history, ago(-3, 9)) == 100.0


def test_previous_response_rate_without_attempts_is_none() -> None:
    assert previous_response_rate(patient(seen(3), inbound(ago(2, 9))), AS_OF) is None


# === best_contact_time =====================================================================


@pytest.mark.parametrize(
    ("hour", "minute", "part"),
    [
        (0, 0, "morning"),
        (11, 59, "morning"),
        (12, 0, "afternoon"),
        (16, 59, "afternoon"),
        (17, 0, "evening"),
        (23, 59, "evening"),
    ],
)
def test_parts_of_the_day(hour: int, minute: int, part: str) -> None:
    assert part_of_day(datetime(2024, 6, 30, hour, minute, tzinfo=UTC), UTC_ZONE) == part
    assert part_of_day(datetime(2024, 6, 30, hour, minute, tzinfo=SYDNEY), SYDNEY) == part


def test_parts_of_the_day_are_the_clinics_hours() -> None:
    # 01:00 UTC is 11:00 in Sydney in June; 02:00 UTC is 12:00.
    assert part_of_day(datetime(2024, 6, 30, 1, 0, tzinfo=UTC), SYDNEY) == "morning"
    assert part_of_day(datetime(2024, 6, 30, 2, 0, tzinfo=UTC), SYDNEY) == "afternoon"


def test_best_contact_time_is_the_part_of_day_of_most_responses() -> None:
    history = patient(
        sms(ago(9, 8), responded_at=ago(9, 13)),  # sent in the morning, answered afternoon
        email(ago(8, 8), responded_at=ago(8, 14)),
        call(ago(7, 18), connected_at=ago(7, 18)),
        call(ago(6, 9), connected_at=ago(6, 9)),
        sms(ago(5, 9), delivered_at=ago(5, 9)),  # no answer: no weight
        call(ago(4, 9)),
        call(ago(3, 10)),
    )
    assert best_contact_time(history, AS_OF, UTC_ZONE) == "afternoon"


@pytest.mark.parametrize(
    ("hours", "best"),
    [
        ((9, 13), "morning"),  # one each: the earlier part
        ((18, 13), "afternoon"),
        ((18, 9, 13, 19), "evening"),
        ((18, 9, 13), "morning"),
    ],
)
def test_ties_in_best_contact_time_go_to_the_earlier_part(
    hours: tuple[int, ...], best: str
) -> None:
    comms = [call(ago(i + 1, h), connected_at=ago(i + 1, h)) for i, h in enumerate(hours)]
    assert best_contact_time(patient(*comms), AS_OF, UTC_ZONE) == best


def test_best_contact_time_is_read_in_the_orgs_timezone() -> None:
    # 21:00 UTC is 07:00 the next day in Sydney.
    history = patient(sms(ago(3, 20), responded_at=ago(3, 21)))
    assert best_contact_time(history, AS_OF, UTC_ZONE) == "evening"
    assert best_contact_time(history, AS_OF, SYDNEY) == "morning"


def test_best_contact_time_without_responses_is_none() -> None:
    assert best_contact_time(patient(), AS_OF, UTC_ZONE) is None
    unanswered = patient(sms(ago(3, 9), delivered_at=ago(3, 9)), call(ago(2, 9)))
    assert best_contact_time(unanswered, AS_OF, UTC_ZONE) is None
    # An answer after as_of is not history yet.
    late = patient(sms(ago(3, 9), responded_at=ago(-1, 19)))
    assert best_contact_time(late, AS_OF, UTC_ZONE) is None


def test_best_contact_time_counts_answers_to_outreach_not_inbound_messages() -> None:
    """Reading kept: "the part of day in which the patient most often responded or
    connected" counts ``responded_at``/``connected_at`` of outreach; a message the patient
    sent unprompted (inbound) is not a response."""
    history = patient(
        inbound(ago(3, 19)), inbound(ago(2, 20)), call(ago(1, 9), connected_at=ago(1, 9))
    )
    assert best_contact_time(history, AS_OF, UTC_ZONE) == "morning"


# === reengagement_history ==================================================================


def test_reengagement_history_reasons() -> None:
    history = patient(
        sms(ago(9, 9), delivered_at=ago(9, 9), responded_at=ago(9, 11), id="c1"),
        email(ago(8, 9), responded_at=ago(7, 9), id="c2"),
        call(ago(7, 9), connected_at=ago(7, 9), id="c3"),
        sms(ago(6, 9), failed_at=ago(6, 9), id="c4"),
        email(ago(5, 9), failed_at=ago(5, 10), id="c5"),
        call(ago(4, 9), failed_at=ago(4, 9), id="c6"),
        call(ago(3, 9), id="c7"),
        sms(ago(2, 9), delivered_at=ago(2, 9), id="c8"),
        email(ago(1, 9), opened_at=ago(1, 10), id="c9"),
        inbound(ago(1, 12), id="c10"),  # not an attempt
    )
    assert reengagement_history(history, AS_OF, UTC_ZONE) == [
        HistoryEntry(day(1), "email", False, "no_response"),
        HistoryEntry(day(2), "sms", False, "no_response"),
        HistoryEntry(day(3), "phone", False, "not_connected"),
        HistoryEntry(day(4), "phone", False, "delivery_failed"),
        HistoryEntry(day(5), "email", False, "delivery_failed"),
        HistoryEntry(day(6), "sms", False, "delivery_failed"),
        HistoryEntry(day(7), "phone", True, "connected"),
        HistoryEntry(day(8), "email", True, "responded"),
        HistoryEntry(day(9), "sms", True, "responded"),
    ]


def test_reengagement_history_is_the_ten_latest_newest_first() -> None:
    comms = [sms(ago(n, 9), id=f"m{n:02d}") for n in range(12)]
    entries = reengagement_history(patient(*reversed(comms)), AS_OF, UTC_ZONE)
    assert [e.date for e in entries] == [day(n) for n in range(10)]


def test_reengagement_history_breaks_ties_by_id() -> None:
    same = ago(2, 9)
    history = patient(
        call(same, id="b"),
        sms(same, id="c", responded_at=ago(2, 10)),
        email(same, id="a"),
        sms(ago(1, 9), id="z"),
    )
    entries = reengagement_history(history, AS_OF, UTC_ZONE)
    assert [e.method for e in entries] == ["sms", "email", "phone", "sms"]
    assert [e.success for e in entries] == [False, False, False, True]
    # Ties that cut the list at ten keep the lowest ids: t00-t09 (sms), not t10, t11 (calls).
    many = patient(
        *(call(same, id=f"t{i:02d}") for i in (11, 10)),
        *(sms(same, id=f"t{i:02d}") for i in (3, 7, 0, 9, 1, 5, 2, 8, 4, 6)),
    )
    kept = reengagement_history(many, AS_OF, UTC_ZONE)
    assert [e.method for e in kept] == ["sms"] * 10


def test_reengagement_history_dates_are_the_clinics_dates() -> None:
    history = patient(sms(datetime(2024, 6, 29, 20, 0, tzinfo=UTC)))
    assert reengagement_history(history, AS_OF, SYDNEY)[0].date == datetime(2024, 6, 30).date()
    assert reengagement_history(history, AS_OF, UTC_ZONE)[0].date == day(1)


def test_reengagement_history_ignores_what_happened_after_as_of() -> None:
    history = patient(
        sms(ago(3, 9), responded_at=ago(-1, 9)),  # answered after as_of
        email(ago(2, 9), failed_at=ago(-1, 9)),  # failed after as_of
        call(ago(1, 9), connected_at=ago(-1, 9)),  # connected after as_of (a callback)
        sms(ago(-1, 9)),  # sent after as_of
    )
    assert reengagement_history(history, AS_OF, UTC_ZONE) == [
        HistoryEntry(day(1), "phone", False, "not_connected"),
        HistoryEntry(day(2), "email", False, "no_response"),
        HistoryEntry(day(3), "sms", False, "no_response"),
    ]


def test_reengagement_history_of_a_patient_never_contacted_is_empty() -> None:
    assert reengagement_history(patient(seen(3), inbound(ago(2, 9))), AS_OF, UTC_ZONE) == []


# === Conversions ===========================================================================

WINDOW = 14
ANSWERED = sms(ago(20, 9), responded_at=ago(20, 10), id="answered")


def converted(
    contact: Communication,
    *appointments: Appointment,
    others: tuple[Communication, ...] = (),
    as_of: datetime = AS_OF,
) -> Appointment | None:
    return conversion(contact, (contact, *others), appointments, as_of, WINDOW, UTC_ZONE)


def test_a_booking_after_the_contact_inside_the_window_converts() -> None:
    booking = appt(ago(-5, 9), "scheduled", booked_at=ago(18, 9), id="b1")
    assert converted(ANSWERED, booking) == booking


def test_a_booking_of_any_status_converts() -> None:
    """The rule looks at ``booked_at`` only: a visit booked after the call and since
    cancelled or missed still counts as the booking the call converted into."""
    booking = appt(ago(10, 9), "cancelled", booked_at=ago(18, 9))
    assert converted(ANSWERED, booking) == booking


@pytest.mark.parametrize(
    ("booked_at", "converts"),
    [
        (ago(20, 10), False),  # at the success time: not after it
        (ago(20, 10) + timedelta(microseconds=1), True),
        (ago(20, 9, 30), False),  # after sending, before the answer
        (ago(6, 23, 59), True),  # the last day of the window (20 June + 14 days)
        (ago(6, 0, 0), True),
        (ago(5, 0, 0), False),  # one day after it
        (ago(21, 9), False),  # before the contact
    ],
)
def test_the_attribution_window(booked_at: datetime, converts: bool) -> None:
    booking = appt(ago(-30, 9), "scheduled", booked_at=booked_at)
    assert (converted(ANSWERED, booking) is not None) is converts


def test_the_window_ends_on_the_clinics_date() -> None:
    """Answered 20 June 10:00 UTC (20:00 in Sydney). The window's last day is 4 July; a
    booking at 4 July 20:00 UTC is already 5 July in Sydney."""
    contact = sms(
        datetime(2024, 6, 20, 9, tzinfo=UTC), responded_at=datetime(2024, 6, 20, 10, tzinfo=UTC)
    )
    late = appt(
        datetime(2024, 7, 20, 9, tzinfo=UTC),
        "scheduled",
        booked_at=datetime(2024, 7, 4, 20, tzinfo=UTC),
    )
    as_of = datetime(2024, 7, 10, tzinfo=UTC)
    assert conversion(contact, [contact], [late], as_of, WINDOW, UTC_ZONE) == late
    assert conversion(contact, [contact], [late], as_of, WINDOW, SYDNEY) is None


def test_the_window_is_a_setting() -> None:
    booking = appt(ago(-5, 9), "scheduled", booked_at=ago(15, 9))
    assert conversion(ANSWERED, [ANSWERED], [booking], AS_OF, 5, UTC_ZONE) == booking
    assert conversion(ANSWERED, [ANSWERED], [booking], AS_OF, 4, UTC_ZONE) is None


def test_the_next_successful_contact_cuts_attribution() -> None:
    second = call(ago(17, 9), connected_at=ago(17, 9), id="second")
    before = appt(ago(-5, 9), "scheduled", booked_at=ago(18, 9))
    after = appt(ago(-6, 9), "scheduled", booked_at=ago(16, 9))
    assert converted(ANSWERED, after, others=(second,)) is None
    assert converted(ANSWERED, before, after, others=(second,)) == before
    assert converted(second, before, after, others=(ANSWERED,)) == after


def test_only_a_successful_contact_cuts_attribution() -> None:
    unanswered = call(ago(17, 9), id="unanswered")
    inbound_message = inbound(ago(17, 10))
    answered_late = sms(ago(17, 9), responded_at=ago(-1, 9))  # after as_of
    after = appt(ago(-6, 9), "scheduled", booked_at=ago(16, 9))
    others = (unanswered, inbound_message, answered_late)
    assert converted(ANSWERED, after, others=others) == after


def test_the_first_booking_is_the_one_converted_into() -> None:
    first = appt(ago(-9, 9), "scheduled", booked_at=ago(19, 9), id="z")
    second = appt(ago(-5, 9), "scheduled", booked_at=ago(18, 9), id="a")
    assert converted(ANSWERED, second, first) == first


def test_nothing_converts_without_success_or_before_as_of() -> None:
    booking = appt(ago(-5, 9), "scheduled", booked_at=ago(18, 9))
    unanswered = sms(ago(20, 9), delivered_at=ago(20, 9))
    assert converted(unanswered, booking) is None
    # The booking had not happened yet as of 19 June, nor the answer as of 20 June 09:30.
    assert converted(ANSWERED, booking, as_of=ago(19, 12)) is None
    assert converted(ANSWERED, booking, as_of=ago(20, 9, 30)) is None
    # A booking with no known time cannot be placed after the contact.
    assert converted(ANSWERED, appt(ago(-5, 9), "scheduled")) is None


# === followed_by_contact ===================================================================


@pytest.mark.parametrize(
    ("contact", "followed"),
    [
        (inbound(ago(20, 9) + timedelta(days=14)), True),  # exactly 14 days after sent_at
        (inbound(ago(20, 9) + timedelta(days=14, microseconds=1)), False),
        (inbound(ago(6, 8)), True),
        (inbound(ago(20, 9)), True),  # at sent_at: the window includes it
        (inbound(ago(20, 9) - timedelta(microseconds=1)), False),  # before the attempt
        (appt(ago(-3, 9), "cancelled", booked_at=ago(15, 9)), True),  # a booking
        (seen(10), True),  # a visit
        (appt(ago(10, 9), "no_show"), False),  # not a contact
    ],
)
def test_followed_by_contact_within_the_window_after_sent_at(
    contact: Communication | Appointment, followed: bool
) -> None:
    """Reading kept: "within attribution_window_days after sent_at" is measured from the
    instant (14 x 24 hours), unlike a conversion's "on or before the date N days later"."""
    attempt = sms(ago(20, 9), delivered_at=ago(20, 9))
    history = patient(attempt, contact)
    assert followed_by_contact(attempt, history, AS_OF, WINDOW) is followed


def test_an_attempts_own_answer_is_the_contact_that_follows_it() -> None:
    attempt = call(ago(20, 9), connected_at=ago(20, 9, 5))
    assert followed_by_contact(attempt, patient(attempt), AS_OF, WINDOW)
    # Fixed bug: a call logged with one timestamp (connected_at == sent_at) is a successful
    # contact, and used to count as outreach that reached nobody.
    one_timestamp = call(ago(20, 9), connected_at=ago(20, 9))
    assert followed_by_contact(one_timestamp, patient(one_timestamp), AS_OF, WINDOW)
    unanswered = call(ago(20, 9))
    assert not followed_by_contact(unanswered, patient(unanswered), AS_OF, WINDOW)


def test_a_contact_after_as_of_does_not_follow_yet() -> None:
    attempt = sms(ago(3, 9))
    history = patient(attempt, inbound(ago(-1, 9)))
    assert not followed_by_contact(attempt, history, AS_OF, WINDOW)
    assert followed_by_contact(attempt, history, ago(-1, 9), WINDOW)
