"""``OutreachIndex`` answers exactly what ``followed_by_contact`` and ``converted_at`` do,
for every attempt and any as_of: it is what the derived attempt outcomes are built with, and
those two functions are the reference."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.domain.history import Appointment, Communication, PatientHistory
from reengage.domain.outreach import followed_by_contact
from reengage.domain.outreach_index import OutreachIndex
from reengage.domain.prediction import converted_at
from reengage.domain.settings import OrgSettings
from tests.domain.builders import AS_OF, ago, appt, call, email, inbound, patient, sms
from tests.strategies import SPELL_ZONES as ZONES


@st.composite
def crowded(draw: st.DrawFn) -> tuple[PatientHistory, datetime, OrgSettings]:
    """Histories on a six-hour grid over three weeks, so that equal success times, bookings
    at the very instant of a success, and windows ending on a booking's day all come up."""
    as_of = AS_OF + timedelta(hours=draw(st.integers(-30, 30)))
    instant = st.integers(0, 21 * 4).map(lambda n: as_of - timedelta(hours=6 * n))
    gap = st.one_of(st.none(), st.integers(0, 8).map(lambda n: timedelta(hours=6 * n)))

    def plus(at: datetime, delta: timedelta | None) -> datetime | None:
        return None if delta is None else at + delta

    records: list[Appointment | Communication] = []
    for _ in range(draw(st.integers(0, 6))):
        status = draw(st.sampled_from(["scheduled", "completed", "no_show", "cancelled"]))
        records.append(appt(draw(instant), status, draw(st.one_of(st.none(), instant))))
    for _ in range(draw(st.integers(0, 7))):
        sent = draw(instant)
        channel = draw(st.sampled_from(["sms", "email", "phone", "inbound"]))
        answered = plus(sent, draw(gap))
        if channel == "inbound":
            records.append(inbound(sent))
        elif channel == "phone":
            records.append(call(sent, connected_at=answered))
        elif channel == "sms":
            records.append(sms(sent, responded_at=answered, failed_at=plus(sent, draw(gap))))
        else:
            records.append(email(sent, responded_at=answered))
    window = draw(st.sampled_from([1, 2, 3, 14]))
    zone = draw(ZONES)
    return patient(*records), as_of, OrgSettings(timezone=zone, attribution_window_days=window)


@settings(max_examples=600, deadline=None)
@given(crowded(), st.integers(-4 * 24, 2 * 24))
def test_the_index_agrees_with_the_plain_rules(
    case: tuple[PatientHistory, datetime, OrgSettings], hours: int
) -> None:
    history, base, s = case
    as_of = base + timedelta(hours=hours)
    index = OutreachIndex(history, as_of, s.attribution_window_days, s.zone())
    assert index.attempts == history.attempts(as_of)
    for attempt in index.attempts:
        window = s.attribution_window_days
        assert index.contacted(attempt) == followed_by_contact(attempt, history, as_of, window)
        assert index.converted_at(attempt) == converted_at(history, attempt, as_of, s)


def test_a_hand_worked_history() -> None:
    """An SMS answered 10 days ago and a call connected 6 days ago; bookings made 9 and 5
    days ago. Each contact converts into the first booking after it, before the next
    contact, within the window (14 days by default; 3 days below)."""
    first = sms(ago(10, 9), responded_at=ago(10, 10))
    second = call(ago(6, 9), connected_at=ago(6, 9))
    unanswered = email(ago(3, 9))
    history = patient(
        first,
        second,
        unanswered,
        appt(ago(-2, 9), "scheduled", booked_at=ago(9, 12)),
        appt(ago(-4, 9), "scheduled", booked_at=ago(5, 12)),
    )
    index = OutreachIndex(history, AS_OF, 14, OrgSettings().zone())
    assert index.converted_at(first) == ago(9, 12)
    assert index.converted_at(second) == ago(5, 12)
    assert index.converted_at(unanswered) is None
    assert [index.contacted(a) for a in (first, second, unanswered)] == [True, True, False]
    # Nine days before as_of the second booking had not been made: the first still converts.
    assert OutreachIndex(history, ago(9, 13), 14, OrgSettings().zone()).converted_at(first) == ago(
        9, 12
    )
    # With a one-day window the second booking, a day after the call, still counts.
    assert OutreachIndex(history, AS_OF, 1, OrgSettings().zone()).converted_at(second) == ago(5, 12)
