"""Hand-worked scenarios for the contract's "Time and contact", "Risk tiers" and "Alerts and
actions": one patient's tier, flags, action, channel, next action date and risk score.

Unless a test says otherwise: the org is in UTC with default settings, as_of is Sunday
2024-06-30 18:00 UTC (``AS_OF``), ``ago(n, h)`` is h:00 UTC n days before it, and the patient
registered long ago and has a phone and an email.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reengage.domain.calendar import parse_as_of
from reengage.domain.history import Appointment, Communication, Followup, PatientHistory
from reengage.domain.risk import (
    FAILED_CONTACT,
    FLAGS,
    MISSED_APPT,
    NO_FUTURE_APPT,
    OVERDUE_FOLLOWUP,
    TIERS,
    Assessment,
    assess,
    choose_action,
    choose_channel,
    in_population,
    last_contact,
    next_appointment,
    risk_score,
    tier_at,
    tier_for_days,
)
from reengage.domain.settings import OrgSettings, TierThresholds
from tests.domain.builders import (
    AS_OF,
    DEFAULT,
    SYDNEY,
    TODAY,
    ago,
    appt,
    booked_ahead,
    call,
    day,
    email,
    followup,
    inbound,
    patient,
    seen,
    sms,
    thresholds,
)
from tests.domain.builders import settings as org_settings

NOT_BOOKED_ENGAGED = org_settings(booked_patients_are_engaged=False)


def run(history: PatientHistory, as_of: datetime = AS_OF, s: OrgSettings = DEFAULT) -> Assessment:
    return assess(history, as_of, s)


# === Risk tiers ============================================================================


@pytest.mark.parametrize(
    ("days", "tier"),
    [
        (0, "engaged"),
        (6, "engaged"),
        (7, "low"),
        (13, "low"),
        (14, "medium"),
        (29, "medium"),
        (30, "high"),
        (44, "high"),
        (45, "critical"),
        (400, "critical"),
    ],
)
def test_tier_boundaries_at_default_thresholds(days: int, tier: str) -> None:
    result = run(patient(seen(days)))
    assert result.days_since_last_contact == days
    assert result.tier == tier
    assert tier_for_days(days, TierThresholds()) == tier


@pytest.mark.parametrize(
    ("days", "tier"),
    [
        (2, "engaged"),
        (3, "low"),
        (9, "low"),
        (10, "medium"),
        (19, "medium"),
        (20, "high"),
        (59, "high"),
        (60, "critical"),
    ],
)
def test_tier_boundaries_at_custom_thresholds(days: int, tier: str) -> None:
    custom = org_settings(tier_thresholds={"low": 3, "medium": 10, "high": 20, "critical": 60})
    assert run(patient(seen(days)), s=custom).tier == tier
    assert tier_for_days(days, thresholds(3, 10, 20, 60)) == tier


# === Last contact ==========================================================================


def test_last_contact_is_a_completed_visits_start() -> None:
    result = run(patient(seen(40), seen(20)))
    assert result.last_contact_at == ago(20, 9)
    assert result.days_since_last_contact == 20
    assert result.last_appointment_date == day(20)
    assert result.total_lifetime_appointments == 2


def test_a_booking_is_contact_even_when_the_appointment_was_cancelled() -> None:
    # Booked 5 days ago for next week, then cancelled: the booking still was contact.
    cancelled = appt(ago(-7, 9), "cancelled", booked_at=ago(5, 11))
    result = run(patient(seen(40), cancelled))
    assert result.last_contact_at == ago(5, 11)
    assert result.days_since_last_contact == 5
    assert result.tier == "engaged"
    assert result.next_appointment_at is None  # a cancelled appointment is not a future one
    assert result.flags == (NO_FUTURE_APPT,)


@pytest.mark.parametrize("status", ["no_show", "late_cancelled", "cancelled", "scheduled"])
def test_a_past_visit_that_did_not_happen_is_no_contact_without_a_known_booking(
    status: str,
) -> None:
    result = run(patient(seen(40), appt(ago(20, 9), status)))
    assert result.last_contact_at == ago(40, 9)
    assert result.last_appointment_date == day(40)
    assert result.total_lifetime_appointments == 1


@pytest.mark.parametrize(
    ("comm", "contact_at"),
    [
        (sms(ago(10, 9), delivered_at=ago(10, 9), responded_at=ago(9, 15)), ago(9, 15)),
        (email(ago(10, 9), opened_at=ago(10, 12), responded_at=ago(8, 7)), ago(8, 7)),
        (call(ago(10, 9), connected_at=ago(10, 9)), ago(10, 9)),
        (inbound(ago(11, 16)), ago(11, 16)),
        (inbound(ago(11, 16), "phone"), ago(11, 16)),
    ],
    ids=["sms-responded", "email-responded", "call-connected", "inbound-sms", "inbound-call"],
)
def test_responses_connections_and_inbound_messages_are_contact(
    comm: Communication, contact_at: datetime
) -> None:
    result = run(patient(seen(40), comm))
    assert result.last_contact_at == contact_at
    assert result.days_since_last_contact == (TODAY - contact_at.date()).days


@pytest.mark.parametrize(
    "comm",
    [
        sms(ago(3, 9), delivered_at=ago(3, 9)),
        email(ago(3, 9), delivered_at=ago(3, 9), opened_at=ago(3, 10)),
        call(ago(3, 9)),
        call(ago(3, 9), failed_at=ago(3, 9)),
        sms(ago(3, 9), failed_at=ago(3, 9)),
    ],
    ids=["sms-delivered", "email-opened", "call-unanswered", "call-failed", "sms-failed"],
)
def test_outreach_that_got_no_answer_is_not_contact(comm: Communication) -> None:
    result = run(patient(seen(40), comm))
    assert result.last_contact_at == ago(40, 9)
    assert result.tier == "high"


def test_an_answer_after_as_of_is_not_contact_yet() -> None:
    history = patient(seen(40), sms(ago(3, 9), responded_at=ago(-1, 9)))
    assert run(history).last_contact_at == ago(40, 9)
    assert run(history, ago(-1, 9)).last_contact_at == ago(-1, 9)


def test_without_contact_the_last_contact_is_the_registration() -> None:
    history = patient(sms(ago(3, 9), delivered_at=ago(3, 9)), registered_at=ago(33, 8))
    result = run(history)
    assert result.last_contact_at == ago(33, 8)
    assert result.days_since_last_contact == 33
    assert result.tier == "high"


def test_a_contact_before_registration_still_counts_as_the_last_contact() -> None:
    """Reading kept: the start stands in only "with none of these", even when a contact came
    before registration (e.g. records imported from an older system)."""
    history = patient(seen(50), registered_at=ago(20, 8))
    assert run(history).last_contact_at == ago(50, 9)


def test_without_registration_the_start_is_the_earliest_timestamp_of_any_record() -> None:
    # The earliest of all record timestamps, whatever kind: here a follow-up's due date.
    history = patient(
        sms(ago(20, 9), delivered_at=ago(20, 9)),
        followup(ago(25, 8), completed_at=ago(19, 8)),
        appt(ago(-3, 9), "cancelled"),
        registered_at=None,
        received_at=ago(2, 8),
    )
    result = run(history)
    assert history.start() == ago(25, 8)
    assert result.last_contact_at == ago(25, 8)
    assert result.days_since_last_contact == 25
    assert result.tier == "medium"


def test_without_any_record_the_start_is_when_the_patient_was_received() -> None:
    history = patient(registered_at=None, received_at=ago(8, 7))
    result = run(history)
    assert result.last_contact_at == ago(8, 7)
    assert result.tier == "low"
    assert result.recommended_action == "routine_monitoring"


# === Population ============================================================================


@pytest.mark.parametrize(
    ("status", "included"),
    [("active", True), ("discharged", False), ("inactive", False), ("deceased", False)],
)
def test_only_active_patients_are_in_the_population(status: str, included: bool) -> None:
    assert in_population(patient(seen(50), status=status), AS_OF) is included


def test_a_patient_is_in_the_population_only_from_their_start() -> None:
    assert in_population(patient(registered_at=AS_OF), AS_OF)
    assert not in_population(patient(registered_at=AS_OF + timedelta(microseconds=1)), AS_OF)
    # Without registration the start is the earliest record: a visit tomorrow, booking
    # unknown, means the patient is not data yet (even though that appointment "exists").
    future_only = patient(appt(ago(-1, 9), "scheduled"), registered_at=None, received_at=ago(5))
    assert not in_population(future_only, AS_OF)
    assert in_population(future_only, ago(-1, 9))


# === Future appointments ===================================================================


def test_a_booked_patient_is_engaged_whatever_the_days() -> None:
    history = patient(seen(50), booked_ahead(10, booked_days_ago=50))
    result = run(history)
    assert result.days_since_last_contact == 50
    assert result.tier == "engaged"
    assert result.next_appointment_at == ago(-10, 9)
    assert result.flags == ()
    assert (result.action_priority, result.recommended_action) == (5, "none")
    assert result.recommended_channel is None
    assert result.next_action_date is None
    assert result.risk_score == 50  # days only: there is a future appointment


def test_a_booked_patient_keeps_their_tier_when_booking_does_not_mean_engaged() -> None:
    history = patient(seen(50), booked_ahead(10, booked_days_ago=50))
    result = run(history, s=NOT_BOOKED_ENGAGED)
    assert result.tier == "critical"
    assert result.flags == ()  # still has a future appointment: no no_future_appt flag
    assert (result.action_priority, result.recommended_action) == (1, "immediate_phone_call")
    assert result.risk_score == 50


def test_a_low_patient_with_a_booking_gets_routine_monitoring_when_not_counted_engaged() -> None:
    history = patient(seen(10), booked_ahead(10, booked_days_ago=30))
    assert run(history).recommended_action == "none"
    result = run(history, s=NOT_BOOKED_ENGAGED)
    assert (result.tier, result.action_priority) == ("low", 4)
    assert result.recommended_action == "routine_monitoring"


def test_a_cancelled_future_appointment_is_not_a_future_appointment() -> None:
    history = patient(seen(50), appt(ago(-10, 9), "cancelled", booked_at=ago(50, 8)))
    result = run(history)
    assert result.next_appointment_at is None
    assert result.tier == "critical"
    assert NO_FUTURE_APPT in result.flags


@pytest.mark.parametrize("status", ["completed", "no_show", "late_cancelled", "scheduled"])
def test_an_appointment_now_past_was_still_future_as_of_an_earlier_instant(status: str) -> None:
    # Looking back at 2024-06-20 18:00: the visit on the 25th was still ahead then,
    # whatever became of it since.
    then = ago(10, 18)
    history = patient(seen(60), appt(ago(5, 9), status, booked_at=ago(60, 8)))
    result = run(history, then)
    assert result.next_appointment_at == ago(5, 9)
    assert result.tier == "engaged"
    assert result.flags == ()


def test_an_appointment_starting_exactly_at_as_of_is_not_future() -> None:
    history = patient(seen(60), appt(AS_OF, "scheduled", booked_at=ago(60, 8)))
    assert run(history).next_appointment_at is None


def test_the_earliest_future_appointment_is_the_next_one() -> None:
    history = patient(booked_ahead(30, 60), booked_ahead(3, 60), booked_ahead(10, 60))
    assert run(history).next_appointment_at == ago(-3, 9)


def test_an_appointment_booked_after_as_of_does_not_exist_yet() -> None:
    # Seen 40 days ago; a visit for next week was booked 2 days ago. As of 5 days ago the
    # booking had not been made: no future appointment, and no contact from it either.
    history = patient(seen(40), booked_ahead(7, booked_days_ago=2))
    then = ago(5, 18)
    assert next_appointment(history, then) is None
    past = run(history, then)
    assert past.last_contact_at == ago(40, 9)
    assert past.days_since_last_contact == 35
    assert past.tier == "high"
    assert past.flags == (NO_FUTURE_APPT,)
    now = run(history)
    assert now.last_contact_at == ago(2, 8)
    assert now.tier == "engaged"
    assert now.flags == ()


def test_as_of_in_the_past_ignores_every_later_event() -> None:
    history = patient(
        seen(60),
        # A later visit, booked after ``then``. (With its booking unknown it would have
        # existed all along, and been a future appointment as of ``then``.)
        appt(ago(5, 9), "completed", booked_at=ago(7, 9)),
        inbound(ago(4, 9)),
        sms(ago(20, 9), responded_at=ago(3, 9)),
        followup(ago(30, 9), completed_at=ago(2, 9)),
    )
    then = ago(10, 18)
    result = run(history, then)
    assert result.last_contact_at == ago(60, 9)
    assert result.days_since_last_contact == 50
    assert result.tier == "critical"
    assert result.total_lifetime_appointments == 1
    assert result.last_appointment_date == day(60)
    assert OVERDUE_FOLLOWUP in result.flags  # completed only after then
    assert run(history).last_contact_at == ago(3, 9)
    unknown_booking = patient(seen(60), seen(5))
    assert run(unknown_booking, then).next_appointment_at == ago(5, 9)
    assert run(unknown_booking, then).tier == "engaged"


def test_tier_at_agrees_with_assess() -> None:
    history = patient(seen(30), booked_ahead(3, booked_days_ago=1))
    assert tier_at(history, AS_OF, DEFAULT) == run(history).tier == "engaged"
    assert tier_at(history, ago(2, 18), DEFAULT) == run(history, ago(2, 18)).tier == "medium"
    assert last_contact(history, AS_OF) == ago(1, 8)


# === Timezones =============================================================================

IN_SYDNEY = org_settings(timezone="Australia/Sydney")
SYD_AS_OF = datetime(2024, 6, 30, 9, 0, tzinfo=SYDNEY)


@pytest.mark.parametrize(
    ("local_time", "sydney_days", "sydney_tier"),
    [
        (datetime(2024, 6, 23, 23, 30, tzinfo=SYDNEY), 7, "low"),
        (datetime(2024, 6, 24, 0, 30, tzinfo=SYDNEY), 6, "engaged"),
    ],
)
def test_days_are_counted_on_the_clinics_calendar(
    local_time: datetime, sydney_days: int, sydney_tier: str
) -> None:
    """23:30 and 00:30 in Sydney are both on 23 June in UTC: the UTC org sees the same day
    count for both, the Sydney org one day apart."""
    history = patient(inbound(local_time.astimezone(UTC)))
    in_sydney = run(history, SYD_AS_OF, IN_SYDNEY)
    assert in_sydney.days_since_last_contact == sydney_days
    assert in_sydney.tier == sydney_tier
    assert run(history, SYD_AS_OF, DEFAULT).days_since_last_contact == 6


def test_a_date_as_of_covers_the_whole_local_day() -> None:
    as_of = parse_as_of("2024-06-30", SYDNEY, AS_OF)
    late = datetime(2024, 6, 30, 23, 30, tzinfo=SYDNEY)  # 13:30 UTC
    history = patient(seen(50), inbound(late))
    result = run(history, as_of, IN_SYDNEY)
    assert result.last_contact_at == late
    assert result.days_since_last_contact == 0
    assert result.next_action_date == date(2024, 6, 30)


def test_next_action_date_is_the_clinics_date() -> None:
    # 20:00 UTC on the 30th is already 1 July in Sydney.
    result = run(patient(seen(60)), AS_OF.replace(hour=20), IN_SYDNEY)
    assert result.action_priority == 1
    assert result.next_action_date == date(2024, 7, 1)


def test_the_14_day_window_starts_at_local_midnight_on_a_dst_day() -> None:
    """Sydney's clocks went back at 03:00 on 7 April 2024. As of 20 April, the last 14 days
    begin at 00:00 on 7 April (+11:00). A no-show at 00:30 that morning is in; one at 23:30
    the evening before is out, though both fall on 6 April in UTC."""
    as_of = parse_as_of("2024-04-20", SYDNEY, AS_OF)
    inside = datetime(2024, 4, 7, 0, 30, tzinfo=SYDNEY)
    outside = datetime(2024, 4, 6, 23, 30, tzinfo=SYDNEY)
    assert inside.astimezone(UTC).date() == outside.astimezone(UTC).date() == date(2024, 4, 6)
    seen_long_ago = appt(datetime(2024, 2, 1, 9, 0, tzinfo=SYDNEY))
    assert (
        MISSED_APPT in run(patient(seen_long_ago, appt(inside, "no_show")), as_of, IN_SYDNEY).flags
    )
    assert (
        MISSED_APPT
        not in run(patient(seen_long_ago, appt(outside, "no_show")), as_of, IN_SYDNEY).flags
    )


def test_days_across_a_dst_change_are_calendar_days() -> None:
    # Spring forward in Sydney on 6 October 2024 (a 23-hour day): 23:30 on the 5th to the
    # end of the 6th is one day.
    as_of = parse_as_of("2024-10-06", SYDNEY, AS_OF)
    history = patient(inbound(datetime(2024, 10, 5, 23, 30, tzinfo=SYDNEY)))
    assert run(history, as_of, IN_SYDNEY).days_since_last_contact == 1


# === Flags: missed appointment =============================================================


@pytest.mark.parametrize(
    ("days_ago", "flagged"),
    [(0, True), (13, True), (14, False), (15, False)],
)
@pytest.mark.parametrize("status", ["no_show", "late_cancelled"])
def test_missed_appointment_in_the_last_14_days(status: str, days_ago: int, flagged: bool) -> None:
    """The last 14 days are as_of's date and the 13 before it: a visit missed 13 days ago is
    in, 14 days ago is out."""
    result = run(patient(seen(60), appt(ago(days_ago, 9), status)))
    assert (MISSED_APPT in result.flags) is flagged


def test_a_missed_appointment_later_today_is_not_missed_yet() -> None:
    # A no-show at 19:00 today, as of 18:00, was still ahead: it is a future appointment.
    result = run(patient(seen(60), appt(ago(0, 19), "no_show", booked_at=ago(60, 8))))
    assert MISSED_APPT not in result.flags
    assert result.next_appointment_at == ago(0, 19)


def test_a_cancelled_appointment_is_not_missed() -> None:
    assert MISSED_APPT not in run(patient(seen(60), appt(ago(3, 9), "cancelled"))).flags


def test_a_future_appointment_suppresses_the_missed_flag() -> None:
    history = patient(seen(60), appt(ago(3, 9), "no_show"), booked_ahead(4, booked_days_ago=60))
    result = run(history)
    assert result.flags == ()
    assert result.missed_last_90_days == 1  # the score still counts the miss
    assert result.risk_score == 60 + 5
    # ...and does not when the booking is cancelled.
    cancelled = patient(
        seen(60), appt(ago(3, 9), "no_show"), appt(ago(-4, 9), "cancelled", booked_at=ago(60, 8))
    )
    assert run(cancelled).flags == (MISSED_APPT, NO_FUTURE_APPT)


def test_a_recently_missed_visit_of_an_engaged_patient_calls_for_rescheduling() -> None:
    # Booked 3 days ago (contact), missed yesterday.
    history = patient(seen(100), appt(ago(1, 9), "no_show", booked_at=ago(3, 12)))
    result = run(history)
    assert result.tier == "engaged"
    assert result.flags == (MISSED_APPT, NO_FUTURE_APPT)
    assert (result.action_priority, result.recommended_action) == (
        1,
        "reschedule_missed_appointment",
    )
    assert result.recommended_channel == "phone"
    assert result.next_action_date == TODAY
    assert result.risk_score == 3 + 15 + 5


# === Flags: failed contact =================================================================


@pytest.mark.parametrize(
    ("comm", "flagged"),
    [
        (sms(ago(3, 9), failed_at=ago(3, 9)), True),
        (email(ago(3, 9), failed_at=ago(3, 10)), True),
        (call(ago(3, 9)), True),  # a call never connected
        (call(ago(3, 9), failed_at=ago(3, 9)), True),
        (call(ago(3, 9), connected_at=ago(3, 9)), False),
        (sms(ago(3, 9), delivered_at=ago(3, 9)), False),  # unanswered is not failed
        (email(ago(3, 9), opened_at=ago(3, 11)), False),
        (sms(ago(13, 9), failed_at=ago(13, 9)), True),  # first day of the last 14
        (sms(ago(14, 23), failed_at=ago(14, 23)), False),  # the day before it
        (call(ago(14, 23)), False),
        (sms(ago(3, 9), failed_at=ago(-1, 9)), False),  # fails only after as_of
        (call(ago(3, 9), connected_at=ago(-1, 9)), True),  # as of as_of, never connected
        (inbound(ago(3, 9), "phone"), False),  # not an outreach attempt
    ],
    ids=[
        "sms-failed",
        "email-failed",
        "call-unconnected",
        "call-failed",
        "call-connected",
        "sms-unanswered",
        "email-opened",
        "13-days-ago",
        "14-days-ago",
        "call-14-days-ago",
        "failed-after-as-of",
        "connected-after-as-of",
        "inbound",
    ],
)
def test_failed_contact(comm: Communication, flagged: bool) -> None:
    result = run(patient(seen(20), comm))
    assert (FAILED_CONTACT in result.flags) is flagged


@pytest.mark.parametrize(
    ("contact", "cleared"),
    [
        (inbound(ago(2, 9)), True),
        (inbound(ago(3, 9)), True),  # at the attempt's sent_at: "since" includes it
        (inbound(ago(3, 8, 59)), False),  # before the attempt
        (sms(ago(2, 9), responded_at=ago(2, 10)), True),
        (email(ago(5, 9), responded_at=ago(1, 10)), True),  # sent before, answered since
        (call(ago(2, 9), connected_at=ago(2, 9)), True),
        (appt(ago(-5, 9), "cancelled", booked_at=ago(1, 9)), True),  # a booking since
        (seen(1), True),  # a completed visit since
        (inbound(ago(-1, 9)), False),  # after as_of
    ],
)
def test_any_contact_since_the_attempt_clears_failed_contact(
    contact: Communication | Appointment, cleared: bool
) -> None:
    result = run(patient(seen(20), sms(ago(3, 9), failed_at=ago(3, 9)), contact))
    assert (FAILED_CONTACT in result.flags) is not cleared


def test_one_uncleared_failure_is_enough() -> None:
    # A failed sms 10 days ago, answered since by email; a call 2 days ago never connected.
    history = patient(
        seen(20),
        sms(ago(10, 9), failed_at=ago(10, 9)),
        email(ago(8, 9), responded_at=ago(8, 11)),
        call(ago(2, 9)),
    )
    assert FAILED_CONTACT in run(history).flags


# === Flags: overdue follow-up ==============================================================


@pytest.mark.parametrize(
    ("item", "overdue"),
    [
        (followup(ago(1, 9)), True),
        (followup(ago(0, 17, 59)), True),  # earlier today, before as_of
        (followup(AS_OF), False),  # due at as_of is not before it
        (followup(ago(-1, 9)), False),
        (followup(ago(5, 9), completed_at=ago(4, 9)), False),
        (followup(ago(5, 9), completed_at=ago(5, 8)), False),  # completed early
        (followup(ago(5, 9), completed_at=ago(-1, 9)), True),  # completed after as_of
        (followup(ago(200, 9)), True),  # no window: overdue is overdue
    ],
)
def test_overdue_followup(item: Followup, overdue: bool) -> None:
    assert (OVERDUE_FOLLOWUP in run(patient(seen(3), item)).flags) is overdue


# === Flags: no future appointment ==========================================================


def test_no_future_appointment_flag() -> None:
    assert run(patient(seen(3))).flags == (NO_FUTURE_APPT,)
    assert run(patient(seen(3), booked_ahead(5, 3))).flags == ()


def test_flags_come_in_the_contracts_order() -> None:
    history = patient(
        seen(20),
        appt(ago(2, 9), "no_show"),
        call(ago(1, 9)),
        followup(ago(1, 9)),
    )
    assert run(history).flags == (MISSED_APPT, FAILED_CONTACT, OVERDUE_FOLLOWUP, NO_FUTURE_APPT)


# === Priority and action ===================================================================

ALL = (MISSED_APPT, FAILED_CONTACT, OVERDUE_FOLLOWUP, NO_FUTURE_APPT)


@pytest.mark.parametrize(
    ("tier", "flags", "expected"),
    [
        ("critical", ALL, (1, "immediate_phone_call")),  # critical beats missed
        ("critical", (), (1, "immediate_phone_call")),
        ("high", ALL, (1, "reschedule_missed_appointment")),  # missed beats high
        ("engaged", (MISSED_APPT, NO_FUTURE_APPT), (1, "reschedule_missed_appointment")),
        ("high", ALL[1:], (2, "sms_with_followup_call")),  # high beats failed contact
        ("high", (), (2, "sms_with_followup_call")),
        ("medium", ALL[1:], (2, "try_alternate_channel")),  # failed beats overdue
        ("engaged", (FAILED_CONTACT,), (2, "try_alternate_channel")),
        ("low", (OVERDUE_FOLLOWUP, NO_FUTURE_APPT), (2, "complete_overdue_followup")),
        ("medium", (NO_FUTURE_APPT,), (3, "automated_checkin")),
        ("medium", (), (3, "automated_checkin")),
        ("low", (NO_FUTURE_APPT,), (4, "routine_monitoring")),  # low beats no_future_appt
        ("engaged", (NO_FUTURE_APPT,), (4, "book_next_appointment")),
        ("engaged", (), (5, "none")),
    ],
)
def test_action_table(tier: str, flags: tuple[str, ...], expected: tuple[int, str]) -> None:
    assert choose_action(tier, flags) == expected


@pytest.mark.parametrize(
    ("history", "tier", "action"),
    [
        (patient(seen(45), appt(ago(1, 9), "no_show")), "critical", "immediate_phone_call"),
        (
            patient(seen(30), appt(ago(1, 9), "no_show")),
            "high",
            "reschedule_missed_appointment",
        ),
        (patient(seen(30), call(ago(1, 9))), "high", "sms_with_followup_call"),
        (
            patient(seen(14), call(ago(1, 9)), followup(ago(2, 9))),
            "medium",
            "try_alternate_channel",
        ),
        (patient(seen(7), followup(ago(2, 9))), "low", "complete_overdue_followup"),
        (patient(seen(14)), "medium", "automated_checkin"),
        (patient(seen(7)), "low", "routine_monitoring"),
        (patient(seen(6)), "engaged", "book_next_appointment"),
        (patient(seen(6), booked_ahead(3, 6)), "engaged", "none"),
    ],
)
def test_assess_picks_the_first_row_that_holds(
    history: PatientHistory, tier: str, action: str
) -> None:
    result = run(history)
    assert result.tier == tier
    assert result.recommended_action == action
    assert (result.action_priority, action) == choose_action(tier, result.flags)


# === Recommended channel ===================================================================


@pytest.mark.parametrize(
    ("action", "kwargs", "channel"),
    [
        # The action's natural channel first.
        ("immediate_phone_call", {"prefs": ["email"]}, "phone"),
        ("reschedule_missed_appointment", {"prefs": ["email"]}, "phone"),
        ("complete_overdue_followup", {"prefs": ["sms"]}, "phone"),
        ("sms_with_followup_call", {"prefs": ["email"]}, "sms"),
        ("automated_checkin", {"prefs": ["phone"]}, "sms"),
        ("book_next_appointment", {"prefs": ["email"]}, "sms"),
        # Opted out of it: the preferences in their order.
        ("immediate_phone_call", {"prefs": ["email", "sms"], "opt_outs": ["phone"]}, "email"),
        ("automated_checkin", {"prefs": ["phone", "email"], "opt_outs": ["sms"]}, "phone"),
        # Preferences opted out too: phone, sms, email.
        ("automated_checkin", {"prefs": ["email"], "opt_outs": ["sms", "email"]}, "phone"),
        ("immediate_phone_call", {"opt_outs": ["phone"]}, "sms"),
        ("immediate_phone_call", {"opt_outs": ["phone", "sms"]}, "email"),
        ("immediate_phone_call", {"opt_outs": ["phone", "sms", "email"]}, None),
        # No phone number: neither sms nor phone can reach them.
        ("immediate_phone_call", {"phone": False, "prefs": ["sms"]}, "email"),
        ("automated_checkin", {"phone": False}, "email"),
        # No email: email cannot.
        ("automated_checkin", {"email": False, "opt_outs": ["sms", "phone"]}, None),
        (
            "immediate_phone_call",
            {"email": False, "prefs": ["email"], "opt_outs": ["phone"]},
            "sms",
        ),
        ("book_next_appointment", {"phone": False, "email": False}, None),
        # No channel at all for these.
        ("routine_monitoring", {}, None),
        ("none", {}, None),
    ],
)
def test_recommended_channel(action: str, kwargs: dict[str, object], channel: str | None) -> None:
    assert choose_channel(action, patient(**kwargs)) == channel  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failed", "kwargs", "channel"),
    [
        ({"sms"}, {}, "phone"),  # no natural channel: preferences, then phone, sms, email
        ({"sms"}, {"prefs": ["sms", "email"]}, "email"),
        ({"phone"}, {}, "sms"),
        ({"phone", "sms"}, {}, "email"),
        ({"phone", "sms"}, {"email": False}, None),
        ({"email"}, {"prefs": ["email"], "opt_outs": ["phone"]}, "sms"),
    ],
)
def test_alternate_channel_skips_the_failed_ones(
    failed: set[str], kwargs: dict[str, object], channel: str | None
) -> None:
    history = patient(**kwargs)  # type: ignore[arg-type]
    assert choose_channel("try_alternate_channel", history, frozenset(failed)) == channel


def test_assess_skips_every_channel_that_failed_in_the_last_14_days() -> None:
    history = patient(
        seen(10),
        booked_ahead(20, 10),
        sms(ago(10, 9), failed_at=ago(10, 9)),
        call(ago(3, 9)),
        email(ago(20, 9), failed_at=ago(20, 9)),  # older than 14 days: email still allowed
        prefs=["sms"],
    )
    result = run(history)
    assert result.recommended_action == "try_alternate_channel"
    assert result.recommended_channel == "email"


def test_a_failed_channel_is_skipped_even_when_that_failure_was_answered_since() -> None:
    """Reading kept: "skip every channel of the failed attempts in the last 14 days" skips
    the sms that failed 10 days ago even though the patient answered an email since; the
    flag itself comes from the unanswered call."""
    history = patient(
        seen(10),
        booked_ahead(20, 10),
        sms(ago(10, 9), failed_at=ago(10, 9)),
        email(ago(9, 9), responded_at=ago(9, 12)),
        call(ago(3, 9)),
    )
    result = run(history)
    assert result.flags == (FAILED_CONTACT,)
    assert result.recommended_channel == "email"


# === Next action date ======================================================================


def test_priority_1_and_2_are_due_today() -> None:
    assert run(patient(seen(50))).next_action_date == TODAY  # critical
    assert run(patient(seen(35))).next_action_date == TODAY  # high
    assert run(patient(seen(2), booked_ahead(5, 2), call(ago(1, 9)))).next_action_date == TODAY


@pytest.mark.parametrize(
    ("attempt_days", "expected"),
    [
        ((), day(0)),
        ((3,), day(3 - 7)),
        ((6, 3, 20), day(3 - 7)),  # the latest attempt in the last 7 days
        ((6,), day(6 - 7)),  # 6 days ago is in the last 7 days (today and the 6 before)
        ((7,), day(0)),  # 7 days ago is not
        ((0,), day(-7)),
    ],
)
def test_automated_checkin_waits_a_week_after_the_latest_attempt(
    attempt_days: tuple[int, ...], expected: date
) -> None:
    attempts = [sms(ago(n, 9), delivered_at=ago(n, 9)) for n in attempt_days]
    result = run(patient(seen(20), *attempts))
    assert result.recommended_action == "automated_checkin"
    assert result.next_action_date == expected


def test_any_channels_attempt_starts_the_checkin_cooldown() -> None:
    # The patient wrote 18 days ago (medium now); an email, unanswered, went out 2 days ago.
    history = patient(seen(40), inbound(ago(18, 9)), email(ago(2, 9), opened_at=ago(2, 12)))
    result = run(history)
    assert result.recommended_action == "automated_checkin"
    assert result.next_action_date == day(2 - 7)


def test_routine_monitoring_is_due_when_the_patient_would_turn_medium() -> None:
    assert run(patient(seen(10))).next_action_date == day(10 - 14)
    assert run(patient(seen(7))).next_action_date == day(7 - 14)
    custom = org_settings(tier_thresholds={"low": 5, "medium": 20, "high": 30, "critical": 45})
    assert run(patient(seen(10)), s=custom).next_action_date == day(10 - 20)


def test_book_next_appointment_is_due_today() -> None:
    result = run(patient(seen(2)))
    assert result.recommended_action == "book_next_appointment"
    assert result.next_action_date == TODAY


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ((followup(ago(-2, 9)),), day(-2)),  # due before the routine date: its due date
        ((followup(ago(-6, 9)),), day(-4)),  # due after it: the routine date
        ((followup(ago(-2, 9), completed_at=ago(1, 9)),), day(-4)),  # done already
        ((followup(ago(-2, 9), completed_at=ago(-1, 9)),), day(-2)),  # done only after as_of
        ((followup(ago(-3, 9)), followup(ago(-1, 9))), day(-1)),  # the earliest
    ],
)
def test_an_earlier_uncompleted_followup_brings_the_date_forward(
    items: tuple[Followup, ...], expected: date
) -> None:
    result = run(patient(seen(10), *items))  # routine_monitoring, due in 4 days
    assert result.recommended_action == "routine_monitoring"
    assert result.next_action_date == expected


def test_an_earlier_followup_brings_a_checkin_forward() -> None:
    history = patient(seen(20), sms(ago(1, 9)), followup(ago(-3, 9)))
    assert run(history).next_action_date == day(-3)  # not day(1 - 7)


def test_the_followup_due_date_is_the_clinics_date() -> None:
    # Due 2 July 23:00 UTC = 3 July 09:00 in Sydney.
    item = followup(datetime(2024, 7, 2, 23, 0, tzinfo=UTC))
    as_of = datetime(2024, 6, 30, 9, 0, tzinfo=SYDNEY)
    history = patient(inbound(datetime(2024, 6, 20, 9, 0, tzinfo=SYDNEY)), item)
    assert run(history, as_of, IN_SYDNEY).next_action_date == date(2024, 7, 3)


def test_an_overdue_followup_dates_the_next_action_to_its_due_date() -> None:
    """Reading kept: "and if an uncompleted followup is due earlier, its due date instead"
    closes the whole list, so for priority 1 and 2 an overdue follow-up gives a date in the
    past (when it fell due), not as_of's date. Sorting by next_action_date then puts the
    longest-overdue first."""
    result = run(patient(seen(3), followup(ago(5, 9))))
    assert result.recommended_action == "complete_overdue_followup"
    assert result.next_action_date == day(5)
    critical = run(patient(seen(50), followup(ago(9, 9))))
    assert critical.action_priority == 1
    assert critical.next_action_date == day(9)


def test_no_action_has_no_date() -> None:
    assert run(patient(seen(2), booked_ahead(3, 2), followup(ago(-1, 9)))).next_action_date is None


# === Risk score ============================================================================


@pytest.mark.parametrize(
    ("args", "score"),
    [
        ((0, True, 0, False, False), 0),
        ((20, True, 0, False, False), 20),
        ((20, False, 0, False, False), 35),
        ((60, True, 0, False, False), 60),
        ((61, True, 0, False, False), 60),  # days count up to 60
        ((10, False, 1, False, False), 30),
        ((10, False, 3, False, False), 40),
        ((10, False, 7, False, False), 40),  # misses count up to 3
        ((10, False, 0, True, False), 30),
        ((10, False, 0, False, True), 30),
        ((500, False, 9, True, True), 100),
    ],
)
def test_risk_score_formula(args: tuple[int, bool, int, bool, bool], score: int) -> None:
    assert risk_score(*args) == score


def test_risk_score_of_a_worked_example() -> None:
    # 20 days, no future appointment, misses 30 and 89 days ago (90 days ago is outside the
    # last 90 days), an unanswered call yesterday, no follow-up.
    history = patient(
        seen(20),
        appt(ago(30, 9), "no_show"),
        appt(ago(89, 9), "late_cancelled"),
        appt(ago(90, 9), "no_show"),
        appt(ago(5, 9), "cancelled"),
        call(ago(1, 9)),
    )
    result = run(history)
    assert result.missed_last_90_days == 2
    assert result.flags == (FAILED_CONTACT, NO_FUTURE_APPT)
    assert result.risk_score == 20 + 15 + 10 + 5


def test_risk_score_reaches_its_cap() -> None:
    """The formula's terms add up to at most 60 + 15 + 15 + 5 + 5 = 100: every term at its
    maximum reaches the cap exactly, and more misses or days do not pass it."""
    history = patient(
        *(appt(ago(n, 9), "no_show") for n in (2, 20, 40, 60, 80)),
        sms(ago(4, 9), failed_at=ago(4, 9)),
        followup(ago(10, 9)),
        registered_at=ago(200, 9),
    )
    result = run(history)
    assert result.days_since_last_contact == 200
    assert result.missed_last_90_days == 5
    assert result.flags == ALL
    assert result.risk_score == 100


# === Properties where the rules interact ===================================================

# A few days either side of as_of, with a time of day; enough to cross every boundary.
instants = st.builds(
    lambda d, minutes: AS_OF - timedelta(days=d, minutes=minutes),
    st.integers(-20, 120),
    st.integers(0, 24 * 60 - 1),
)
maybe_after = st.one_of(st.none(), st.integers(0, 20 * 24 * 60))


def _later(start: datetime, minutes: int | None) -> datetime | None:
    return None if minutes is None else start + timedelta(minutes=minutes)


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    starts = draw(instants)
    booked = draw(st.one_of(st.none(), instants))
    status = draw(
        st.sampled_from(["scheduled", "completed", "no_show", "late_cancelled", "cancelled"])
    )
    return appt(starts, status, booked)


@st.composite
def communications(draw: st.DrawFn) -> Communication:
    sent = draw(instants)
    channel = draw(st.sampled_from(["sms", "email", "phone"]))
    if draw(st.booleans()):
        return inbound(sent, channel)
    failed = _later(sent, draw(maybe_after))
    answered = _later(sent, draw(maybe_after))
    if channel == "phone":
        return call(sent, connected_at=answered, failed_at=failed)
    if channel == "sms":
        return sms(sent, responded_at=answered, failed_at=failed)
    return email(sent, responded_at=answered, failed_at=failed)


@st.composite
def followups(draw: st.DrawFn) -> Followup:
    due = draw(instants)
    return followup(due, _later(due, draw(st.one_of(st.none(), st.integers(-5000, 5000)))))


channels = st.lists(st.sampled_from(["sms", "email", "phone"]), max_size=3, unique=True)


@st.composite
def histories(draw: st.DrawFn) -> PatientHistory:
    records = (
        draw(st.lists(appointments(), max_size=4))
        + draw(st.lists(communications(), max_size=5))
        + draw(st.lists(followups(), max_size=2))
    )
    return patient(
        *records,
        registered_at=draw(st.one_of(st.none(), instants)),
        received_at=ago(200),
        phone=draw(st.booleans()),
        email=draw(st.booleans()),
        prefs=draw(channels),
        opt_outs=draw(channels),
    )


thresholds_strategy = (
    st.lists(st.integers(1, 200), min_size=4, max_size=4, unique=True)
    .map(sorted)
    .map(lambda t: thresholds(*t))
)
org_settings_strategy = st.builds(
    OrgSettings,
    timezone=st.sampled_from(["UTC", "Australia/Sydney", "America/Santiago"]),
    tier_thresholds=thresholds_strategy,
    booked_patients_are_engaged=st.booleans(),
)

SEVERITY = {tier: rank for rank, tier in enumerate(reversed(TIERS))}  # engaged 0 .. critical 4


@given(st.integers(0, 400), st.integers(0, 400), thresholds_strategy)
def test_tier_is_monotone_in_days(a: int, b: int, t: TierThresholds) -> None:
    low, high = sorted((a, b))
    assert SEVERITY[tier_for_days(low, t)] <= SEVERITY[tier_for_days(high, t)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 120), st.integers(0, 120))
def test_without_a_future_appointment_the_tier_only_worsens_with_time(a: int, b: int) -> None:
    low, high = sorted((a, b))
    history = patient(seen(high), appt(ago(high - 5, 9), "no_show"))
    # The same patient looked at ``low`` and ``high`` days after the visit.
    early = run(history, ago(high - low, 18)).tier
    late = run(history).tier
    assert SEVERITY[early] <= SEVERITY[late]


@settings(max_examples=200, deadline=None)
@given(histories(), org_settings_strategy)
def test_assessment_invariants(history: PatientHistory, s: OrgSettings) -> None:
    assume(in_population(history, AS_OF))  # the only patients anything assesses
    result = assess(history, AS_OF, s)

    assert 0 <= result.risk_score <= 100
    assert result.days_since_last_contact >= 0

    # Flags are FLAGS in order; no_future_appt exactly when there is none; missed implies it.
    assert result.flags == tuple(f for f in FLAGS if f in result.flags)
    assert (NO_FUTURE_APPT in result.flags) is (result.next_appointment_at is None)
    assert MISSED_APPT not in result.flags or NO_FUTURE_APPT in result.flags
    if s.booked_patients_are_engaged and result.next_appointment_at is not None:
        assert result.tier == "engaged"

    # The action agrees with the flags and tier.
    priority, action = choose_action(result.tier, result.flags)
    assert (result.action_priority, result.recommended_action) == (priority, action)
    if MISSED_APPT in result.flags or result.tier == "critical":
        assert priority == 1
    elif {FAILED_CONTACT, OVERDUE_FOLLOWUP} & set(result.flags) or result.tier == "high":
        assert priority == 2
    elif NO_FUTURE_APPT in result.flags or result.tier != "engaged":
        assert priority in (3, 4)
    else:
        assert (priority, action) == (5, "none")
    assert (result.next_action_date is None) is (action == "none")
    if priority in (1, 2) and result.next_action_date is not None:
        assert result.next_action_date <= AS_OF.astimezone(s.zone()).date()

    # The channel is one the patient can be reached on and has not opted out of.
    channel = result.recommended_channel
    if channel is not None:
        assert channel not in history.opt_outs
        assert history.has_email if channel == "email" else history.has_phone
        assert action not in ("routine_monitoring", "none")
        if action == "try_alternate_channel":
            zone = s.zone()
            first = AS_OF.astimezone(zone).date() - timedelta(days=13)
            failed_recently = {
                c.channel
                for c in history.attempts(AS_OF)
                if c.sent_at.astimezone(zone).date() >= first
                and (c.failed_by(AS_OF) or c.unconnected_call(AS_OF))
            }
            assert channel not in failed_recently


ACTIONS = (
    "immediate_phone_call",
    "reschedule_missed_appointment",
    "sms_with_followup_call",
    "try_alternate_channel",
    "complete_overdue_followup",
    "automated_checkin",
    "routine_monitoring",
    "book_next_appointment",
    "none",
)


@settings(max_examples=100, deadline=None)
@given(histories(), channels, st.sampled_from(ACTIONS))
def test_a_channel_is_never_opted_out_skipped_or_unreachable(
    history: PatientHistory, skip: list[str], action: str
) -> None:
    channel = choose_channel(action, history, frozenset(skip))
    if channel is None:
        return
    assert channel not in skip
    assert channel not in history.opt_outs
    assert history.has_email if channel == "email" else history.has_phone


@given(st.integers(0, 10_000), st.booleans(), st.integers(0, 1000), st.booleans(), st.booleans())
def test_risk_score_is_always_an_integer_from_0_to_100(
    days: int, future: bool, missed: int, failed: bool, overdue: bool
) -> None:
    score = risk_score(days, future, missed, failed, overdue)
    assert isinstance(score, int)
    assert 0 <= score <= 100
