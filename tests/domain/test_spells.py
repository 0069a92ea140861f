"""Hand-worked scenarios for at-risk spells ("A spell is a run of days at whose end the
patient is at risk"; ``reengaged_successfully``: "at risk at the previous day's end, had a
contact that day, and not at risk at its end"), and a brute-force cross-check.

Unless a test says otherwise: the org is in UTC with default settings (``medium`` from 14
days), as_of is Sunday 2024-06-30 18:00 UTC (``AS_OF``), ``ago(n, h)`` is h:00 UTC n days
before it and ``day(n)`` that date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings

from reengage.domain.calendar import local_date, state_instant
from reengage.domain.history import PatientHistory
from reengage.domain.risk import in_population, tier_at
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import (
    Spell,
    at_risk_at_end_of,
    at_risk_spells,
    risk_spans,
)
from tests.domain.builders import (
    AS_OF,
    DEFAULT,
    ago,
    appt,
    call,
    day,
    email,
    inbound,
    patient,
    sms,
)
from tests.domain.builders import settings as org_settings
from tests.strategies import scenario

NOT_BOOKED_ENGAGED = org_settings(booked_patients_are_engaged=False)
IN_SYDNEY = org_settings(timezone="Australia/Sydney")

# Registered 35 days ago, last heard from 30 days ago: medium from the end of day(16).
REGISTERED = ago(35, 9)
LAST_HEARD = inbound(ago(30, 9))


def tier_at_end_of(
    history: PatientHistory, day: date, as_of: datetime, settings: OrgSettings
) -> str | None:
    """The tier at the end of ``day``, asked of the history itself (what the spans are held
    to); None when the patient is not in the population."""
    instant = state_instant(day, as_of, settings.zone())
    if not in_population(history, instant):
        return None
    return tier_at(history, instant, settings)


def spells(
    history: PatientHistory, as_of: datetime = AS_OF, s: OrgSettings = DEFAULT
) -> list[Spell]:
    return at_risk_spells(history, as_of, s)


def risky(history: PatientHistory, days_ago: int, as_of: datetime = AS_OF) -> bool:
    return at_risk_at_end_of(history, day(days_ago), as_of, DEFAULT)


# === Hand-worked spells =====================================================================


def test_a_spell_starts_on_the_day_the_patient_turns_medium() -> None:
    history = patient(LAST_HEARD, registered_at=REGISTERED)
    # day(17): 13 days since day(30), low; day(16): 14 days, medium.
    assert not risky(history, 17)
    assert risky(history, 16)
    assert risky(history, 0)
    assert spells(history) == [Spell(day(16), None, False)]


def test_a_reply_ends_the_spell_that_day_in_reengagement() -> None:
    history = patient(
        LAST_HEARD,
        sms(ago(12, 9), delivered_at=ago(12, 9)),  # unanswered: not a contact
        sms(ago(10, 9), delivered_at=ago(10, 9), responded_at=ago(10, 15)),
        registered_at=REGISTERED,
    )
    assert risky(history, 11)
    assert not risky(history, 10)
    # Next medium on day(10 - 14), after as_of: no second spell.
    assert spells(history) == [Spell(day(16), day(10), True)]


def test_a_spell_can_end_by_a_booking() -> None:
    booking = appt(ago(-5, 9), "scheduled", booked_at=ago(8, 15))
    history = patient(LAST_HEARD, booking, registered_at=REGISTERED)
    assert spells(history) == [Spell(day(16), day(8), True)]
    # Without the booked rule the booking is still a contact: the same spell.
    assert spells(history, s=NOT_BOOKED_ENGAGED) == [Spell(day(16), day(8), True)]


def test_an_answered_call_and_an_email_end_spells_too() -> None:
    history = patient(
        LAST_HEARD,
        call(ago(14, 11), connected_at=ago(14, 11)),  # two days in: ends the first
        email(ago(-1, 9)),  # after as_of: nothing
        email(ago(2, 9), opened_at=ago(2, 9), responded_at=ago(0, 8)),
        registered_at=REGISTERED,
    )
    # After the call on day(14), medium again on day(0): a second spell that the email's
    # answer, at 08:00 that same day, ends before the day's end.
    assert spells(history) == [Spell(day(16), day(14), True)]
    later = patient(
        LAST_HEARD,
        call(ago(14, 11), connected_at=ago(14, 11)),
        email(ago(2, 9), opened_at=ago(2, 9)),
        registered_at=REGISTERED,
    )
    assert spells(later) == [Spell(day(16), day(14), True), Spell(day(0), None, False)]


def test_entering_and_leaving_risk_the_same_day_is_no_spell() -> None:
    """Being at risk is judged at day ends: a patient who turns medium at the start of
    day(16) and writes in that day never was at risk at a day's end."""
    history = patient(LAST_HEARD, inbound(ago(16, 11)), registered_at=REGISTERED)
    assert not risky(history, 16)
    # No spell on day(16); the next begins 14 days after the message.
    assert spells(history) == [Spell(day(2), None, False)]
    # Looked at during day(16), before the message, that day's state is as of then.
    morning = ago(16, 8)
    assert at_risk_at_end_of(history, day(16), morning, DEFAULT)
    assert spells(history, morning) == [Spell(day(16), None, False)]


def test_the_last_days_state_is_as_of_as_of() -> None:
    history = patient(
        LAST_HEARD,
        sms(ago(10, 9), responded_at=ago(10, 15)),
        registered_at=REGISTERED,
    )
    noon = ago(10, 12)  # before the reply
    assert at_risk_at_end_of(history, day(10), noon, DEFAULT)
    assert spells(history, noon) == [Spell(day(16), None, False)]
    assert spells(history, ago(10, 15)) == [Spell(day(16), day(10), True)]  # at the reply
    # Spells begin on or before as_of's date: none on a day before the spell.
    assert spells(history, ago(17, 23)) == []
    assert spells(history, ago(16, 0)) == [Spell(day(16), None, False)]


def test_booked_patients_are_engaged_and_have_no_spell() -> None:
    # Booked on day(50) for a visit on day(20) that was missed: engaged while booked, then
    # 30 days since the booking: high, from day(20).
    booked = patient(appt(ago(20, 9), "no_show", booked_at=ago(50, 9)), registered_at=ago(60, 9))
    assert not risky(booked, 21)
    assert spells(booked) == [Spell(day(20), None, False)]
    # When booked patients are not engaged by rule, 14 days after the booking is medium.
    assert spells(booked, s=NOT_BOOKED_ENGAGED) == [Spell(day(36), None, False)]
    # Still booked at as_of: no spell at all.
    ahead = patient(appt(ago(-3, 9), "scheduled", booked_at=ago(50, 9)), registered_at=ago(60, 9))
    assert spells(ahead) == []
    assert spells(ahead, s=NOT_BOOKED_ENGAGED) == [Spell(day(36), None, False)]


def test_a_cancelled_appointment_does_not_keep_a_patient_engaged() -> None:
    history = patient(
        LAST_HEARD, appt(ago(-3, 9), "cancelled", booked_at=None), registered_at=REGISTERED
    )
    assert spells(history) == [Spell(day(16), None, False)]


def test_spells_follow_the_clinics_calendar_days() -> None:
    """In Sydney (UTC+10 in June) 20:00 UTC is 06:00 the next day, so the same instants fall
    on other dates; as_of (30 June 18:00 UTC) is 1 July 04:00 there."""
    history = patient(
        inbound(datetime(2024, 6, 1, 20, tzinfo=UTC)),  # 2 June in Sydney
        sms(
            datetime(2024, 6, 19, 9, tzinfo=UTC), responded_at=datetime(2024, 6, 20, 15, tzinfo=UTC)
        ),
        registered_at=datetime(2024, 5, 25, 9, tzinfo=UTC),
    )
    assert spells(history) == [Spell(date(2024, 6, 15), date(2024, 6, 20), True)]
    assert spells(history, s=IN_SYDNEY) == [Spell(date(2024, 6, 16), date(2024, 6, 21), True)]
    # The Sydney day 15 June ends at 13:59:59.999999 UTC: not at risk yet there.
    assert not at_risk_at_end_of(history, date(2024, 6, 15), AS_OF, IN_SYDNEY)
    assert at_risk_at_end_of(history, date(2024, 6, 15), AS_OF, DEFAULT)


def test_thresholds_are_the_orgs() -> None:
    history = patient(LAST_HEARD, registered_at=REGISTERED)
    custom = org_settings(tier_thresholds={"low": 3, "medium": 10, "high": 20, "critical": 45})
    assert spells(history, s=custom) == [Spell(day(20), None, False)]


def test_only_the_population_has_spells() -> None:
    for status in ("discharged", "inactive", "deceased"):
        history = patient(LAST_HEARD, registered_at=REGISTERED, status=status)
        assert spells(history) == []
        assert not risky(history, 0)


def test_a_patient_is_data_only_from_their_start() -> None:
    # Registered 5 days ago, a message from 30 days ago on file: at risk from the start day.
    history = patient(LAST_HEARD, registered_at=ago(5, 9))
    assert not risky(history, 6)
    assert spells(history) == [Spell(day(5), None, False)]
    # Registered after as_of: not yet in the data.
    assert spells(patient(LAST_HEARD, registered_at=ago(-1, 9))) == []


def test_several_spells_in_order() -> None:
    history = patient(
        inbound(ago(80, 9)),
        call(ago(60, 9), connected_at=ago(60, 9)),  # ends the spell from day(66)
        appt(ago(30, 9), "completed", booked_at=ago(40, 9)),  # booked day(40), seen day(30)
        registered_at=ago(90, 9),
    )
    # day(80) + 14 = day(66); day(60) + 14 = day(46), ended by the booking on day(40) which
    # keeps them engaged until the visit on day(30); day(30) + 14 = day(16), ongoing.
    assert spells(history) == [
        Spell(day(66), day(60), True),
        Spell(day(46), day(40), True),
        Spell(day(16), None, False),
    ]


# === Brute force: every day's end, one by one ===============================================


def brute_force_spells(history: PatientHistory, as_of: datetime, s: OrgSettings) -> list[Spell]:
    """The maximal runs of days, from the day before the patient's start to as_of's date,
    at whose end ``at_risk_at_end_of`` holds; reengaged exactly when a contact (by as_of)
    fell on the day the run ended."""
    zone = s.zone()
    today = local_date(as_of, zone)
    first = local_date(history.start(), zone) - timedelta(days=1)
    contact_dates = {local_date(t, zone) for t in history.contact_times(as_of)}
    out: list[Spell] = []
    open_since: date | None = None
    current = first
    while current <= today:
        if at_risk_at_end_of(history, current, as_of, s):
            if open_since is None:
                open_since = current
        elif open_since is not None:
            out.append(Spell(open_since, current, current in contact_dates))
            open_since = None
        current += timedelta(days=1)
    if open_since is not None:
        out.append(Spell(open_since, None, False))
    return out


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_spells_are_exactly_the_runs_of_at_risk_days(
    case: tuple[PatientHistory, datetime, OrgSettings],
) -> None:
    history, as_of, s = case
    found = at_risk_spells(history, as_of, s)
    assert found == brute_force_spells(history, as_of, s)
    # Runs are maximal and in order: each ends before the next begins, not on its first day.
    for earlier, later_spell in pairwise(found):
        assert earlier.end_day is not None and earlier.end_day < later_spell.first_day
    assert all(sp.end_day is not None for sp in found[:-1])


def test_brute_force_agrees_on_the_hand_worked_cases() -> None:
    """The oracle itself, on cases worked by hand above."""
    history = patient(
        inbound(ago(80, 9)),
        call(ago(60, 9), connected_at=ago(60, 9)),
        appt(ago(30, 9), "completed", booked_at=ago(40, 9)),
        registered_at=ago(90, 9),
    )
    assert brute_force_spells(history, AS_OF, DEFAULT) == [
        Spell(day(66), day(60), True),
        Spell(day(46), day(40), True),
        Spell(day(16), None, False),
    ]


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_spans_give_each_days_tier_and_their_spells_are_the_spells(
    case: tuple[PatientHistory, datetime, OrgSettings],
) -> None:
    """Every day's at-risk tier is the one span covering it, and the spans' spells (with
    their first attempt) are ``at_risk_spells``."""
    history, as_of, s = case
    zone = s.zone()
    spans = risk_spans(history, as_of, s)
    today = local_date(as_of, zone)
    current = local_date(history.start(), zone) - timedelta(days=1)
    while current <= today:
        tier = tier_at_end_of(history, current, as_of, s)
        covering = [
            sp.tier
            for sp in spans
            if sp.first_day <= current and (sp.end_day is None or current < sp.end_day)
        ]
        assert covering == ([tier] if tier in ("medium", "high", "critical") else [])
        current += timedelta(days=1)
    spells = list(dict.fromkeys(sp.spell for sp in spans))
    assert spells == at_risk_spells(history, as_of, s)
    sent = sorted(local_date(c.sent_at, zone) for c in history.attempts(as_of))
    for sp in spans:
        during = [
            d
            for d in sent
            if sp.spell.first_day <= d and (sp.spell.end_day is None or d <= sp.spell.end_day)
        ]
        assert sp.first_attempt_day == (during[0] if during else None)
