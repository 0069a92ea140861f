"""Hand-worked scenarios for ``success_rate_prediction``: each at-risk tier's historical rate
(attempts sent in the last 90 days, at least ``attribution_window_days`` before as_of's
date, to patients in that tier just before the attempt, followed by a contact within the
window after ``sent_at``), weighted by the at-risk patients of each tier in the list.

As in test_risk: org in UTC, default settings, as_of 2024-06-30 18:00 UTC, ``ago(n, h)``
is h:00 UTC n days before. The qualifying attempts are those sent from 2 April (89 days
before as_of's date) to 16 June (14 days before) inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reengage.domain.history import PatientHistory
from reengage.domain.prediction import success_rate_prediction, tier_outcomes
from reengage.domain.settings import OrgSettings
from tests.domain.builders import (
    AS_OF,
    DEFAULT,
    ago,
    appt,
    booked_ahead,
    call,
    email,
    inbound,
    patient,
    seen,
    sms,
)
from tests.domain.builders import settings as org_settings

NOTHING = {"critical": (0, 0), "high": (0, 0), "medium": (0, 0)}


def outcomes(
    *histories: PatientHistory, s: OrgSettings = DEFAULT, as_of: datetime = AS_OF
) -> dict[str, tuple[int, int]]:
    return tier_outcomes(histories, as_of, s)


def medium_then(attempt_days: int, *, answered: bool = False, pid: str = "p1") -> PatientHistory:
    """Seen 20 days before an sms sent ``attempt_days`` ago: medium just before it."""
    sent = ago(attempt_days, 9)
    answer = sent + timedelta(hours=1) if answered else None
    return patient(seen(attempt_days + 20), sms(sent, responded_at=answer), id=pid)


# === Which attempts qualify ================================================================


@pytest.mark.parametrize(
    ("attempt_days", "counted"),
    [
        (90, False),  # before the last 90 days
        (89, True),  # their first day
        (30, True),
        (14, True),  # 14 days before as_of's date: its window has passed
        (13, False),  # too recent to judge
        (0, False),
    ],
)
def test_attempts_inside_the_90_days_and_at_least_the_window_ago(
    attempt_days: int, counted: bool
) -> None:
    expected = (1, 0) if counted else (0, 0)
    assert outcomes(medium_then(attempt_days))["medium"] == expected


def test_the_qualifying_days_follow_the_attribution_window_setting() -> None:
    week = org_settings(attribution_window_days=7)
    assert outcomes(medium_then(8), s=week)["medium"] == (1, 0)
    assert outcomes(medium_then(7), s=week)["medium"] == (1, 0)
    assert outcomes(medium_then(6), s=week)["medium"] == (0, 0)


def test_the_qualifying_days_are_the_clinics_days() -> None:
    """as_of is 1 July 04:00 in Sydney, so the last qualifying day there is 17 June. An sms
    at 23:30 on the 17th in Sydney (13:30 UTC) qualifies; one at 00:30 on the 18th does not.
    In UTC both are on 17 June, after the UTC org's last qualifying day (16 June)."""
    sydney = org_settings(timezone="Australia/Sydney")
    for sent, counted in (
        (datetime(2024, 6, 17, 13, 30, tzinfo=UTC), True),
        (datetime(2024, 6, 17, 14, 30, tzinfo=UTC), False),
    ):
        history = patient(seen(40), sms(sent))
        assert outcomes(history, s=sydney)["medium"] == ((1, 0) if counted else (0, 0))
        assert outcomes(history)["medium"] == (0, 0)


def test_attempts_sent_after_as_of_do_not_exist_yet() -> None:
    history = patient(seen(60), sms(ago(20, 9)))
    assert outcomes(history, as_of=ago(25, 9)) == NOTHING


def test_inbound_messages_are_not_attempts() -> None:
    assert outcomes(patient(seen(60), inbound(ago(20, 9)))) == NOTHING


# === Followed by a contact =================================================================


@pytest.mark.parametrize(
    ("follow_up_after", "followed"),
    [
        (timedelta(hours=1), True),
        (timedelta(days=14), True),
        (timedelta(days=14, microseconds=1), False),
        (timedelta(0), True),  # at sent_at: the window includes it
    ],
)
def test_an_attempt_succeeds_when_a_contact_follows_within_the_window(
    follow_up_after: timedelta, followed: bool
) -> None:
    sent = ago(30, 9)
    history = patient(seen(50), email(sent, opened_at=sent), inbound(sent + follow_up_after))
    assert outcomes(history)["medium"] == (1, 1 if followed else 0)


def test_a_contact_after_as_of_does_not_count() -> None:
    # Sent 14 days ago at 20:00, answered today at 19:00: within 14 days of sending, but
    # after as_of (18:00).
    history = patient(seen(40), sms(ago(14, 20), responded_at=ago(0, 19)))
    assert outcomes(history)["medium"] == (1, 0)
    assert outcomes(history, as_of=ago(0, 19))["medium"] == (1, 1)


# === The tier just before the attempt ======================================================


@pytest.mark.parametrize(
    ("seen_days_before", "tier"),
    [(13, None), (14, "medium"), (29, "medium"), (30, "high"), (44, "high"), (45, "critical")],
)
def test_the_attempt_counts_for_the_tier_just_before_it(
    seen_days_before: int, tier: str | None
) -> None:
    history = patient(seen(30 + seen_days_before), call(ago(30, 9)))
    expected = {**NOTHING, **({tier: (1, 0)} if tier else {})}
    assert outcomes(history) == expected


def test_a_patient_who_became_medium_before_the_attempt_counts_as_medium() -> None:
    """Seen 50 days ago: medium from 14 days after (36 days ago), critical today. An sms 36
    days ago counts for medium; one 37 days ago found them low and is not counted."""
    history = patient(seen(50), sms(ago(36, 9)), sms(ago(37, 9)))
    assert outcomes(history) == {**NOTHING, "medium": (1, 0)}


def test_a_contact_at_the_moment_of_the_attempt_follows_it_and_is_not_before_it() -> None:
    """The patient wrote at the very instant the sms went out: just before it they were
    high (the message is not "before" the attempt), and the attempt was followed by a
    contact (the window after ``sent_at`` includes ``sent_at``)."""
    sent = ago(30, 9)
    history = patient(seen(65), inbound(sent), sms(sent))
    assert outcomes(history) == {**NOTHING, "high": (1, 1)}


def test_a_call_connected_at_its_sent_at_is_a_success() -> None:
    """Fixed bug: a call logged with one timestamp (``connected_at`` equal to ``sent_at``)
    counted as not followed by a contact."""
    sent = ago(30, 9)
    history = patient(seen(50), call(sent, connected_at=sent))
    assert outcomes(history) == {**NOTHING, "medium": (1, 1)}


def test_a_booked_patient_was_engaged_and_is_not_counted() -> None:
    # Seen 60 days ago, when a visit for 25 days ago was booked; an sms 30 days ago.
    history = patient(seen(60), booked_ahead(-25, booked_days_ago=60), sms(ago(30, 9)))
    assert outcomes(history) == NOTHING
    not_engaged = org_settings(booked_patients_are_engaged=False)
    assert outcomes(history, s=not_engaged) == {**NOTHING, "high": (1, 0)}


def test_a_patient_not_yet_started_is_not_counted() -> None:
    # Registered only after the attempt (e.g. a message to a prospective patient).
    history = patient(sms(ago(30, 9)), registered_at=ago(25, 9))
    assert outcomes(history) == NOTHING


def test_every_patient_counts_whatever_their_status_now() -> None:
    histories = [
        patient(seen(50), sms(ago(30, 9)), id=f"p-{status}", status=status)
        for status in ("active", "discharged", "inactive", "deceased")
    ]
    assert outcomes(*histories)["medium"] == (4, 0)


def test_a_worked_history_of_four_attempts() -> None:
    """Seen 80 days ago, then:

    - A, sms 60 days ago: 20 days since the visit, medium; the next contact (B's answer,
      44 days ago) is 16 days later: not followed.
    - B, sms 45 days ago, answered the next day: high (35 days); followed by its answer.
    - C, call 30 days ago, never connected: medium (14 days since B's answer); not followed.
    - D, email 20 days ago, opened: medium (24 days); the patient wrote 10 days ago: followed.
    - E, sms 10 days ago: too recent to judge.
    """
    history = patient(
        seen(80),
        sms(ago(60, 9)),
        sms(ago(45, 9), responded_at=ago(44, 10)),
        call(ago(30, 9)),
        email(ago(20, 9), opened_at=ago(20, 11)),
        inbound(ago(10, 9)),
        sms(ago(10, 12)),
    )
    assert outcomes(history) == {"critical": (0, 0), "high": (1, 1), "medium": (3, 1)}


# === The prediction ========================================================================


@pytest.mark.parametrize(
    ("rates", "counts", "expected"),
    [
        # (50 + 50 + 70) / 4
        (
            {"critical": (4, 1), "high": (2, 1), "medium": (10, 7)},
            {"critical": 2, "high": 1, "medium": 1},
            42.5,
        ),
        # (33.33... + 2 x 66.66...) / 3 = 55.55...
        ({"critical": (3, 1), "high": (3, 2)}, {"critical": 1, "high": 2}, 55.6),
        # 6.25 exactly: rounded up, like every rate
        ({"critical": (16, 1)}, {"critical": 1}, 6.3),
        # medium has patients but no rate: left out
        ({"critical": (4, 1), "medium": (0, 0)}, {"critical": 1, "medium": 5}, 25.0),
        # high has a rate but no patients in the set: left out
        ({"critical": (4, 1), "high": (1, 1)}, {"critical": 1}, 25.0),
        ({"high": (5, 0)}, {"high": 3}, 0.0),
        # nothing left
        ({"critical": (0, 0)}, {"critical": 3}, None),
        ({"critical": (4, 1)}, {"high": 2}, None),
        ({}, {}, None),
        (NOTHING, {"critical": 1, "high": 1, "medium": 1}, None),
    ],
)
def test_success_rate_prediction(
    rates: Mapping[str, tuple[int, int]], counts: Mapping[str, int], expected: float | None
) -> None:
    assert success_rate_prediction(rates, counts) == expected


def test_prediction_from_history() -> None:
    """Two medium attempts (one followed) and one high (followed) in the history; the list
    holds two medium patients and one high: (2 x 50 + 100) / 3 = 66.7."""
    history = [
        medium_then(30, answered=True, pid="a"),
        medium_then(40, pid="b"),
        patient(seen(70), call(ago(35, 9), connected_at=ago(35, 9)), id="c"),
    ]
    rates = outcomes(*history)
    assert rates == {"critical": (0, 0), "high": (1, 1), "medium": (2, 1)}
    assert success_rate_prediction(rates, {"medium": 2, "high": 1}) == 66.7
    assert success_rate_prediction(rates, {"critical": 4}) is None


@given(
    st.fixed_dictionaries(
        {
            tier: st.integers(0, 50).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))
            for tier in ("critical", "high", "medium")
        }
    ),
    st.fixed_dictionaries({tier: st.integers(0, 20) for tier in ("critical", "high", "medium")}),
)
def test_the_prediction_lies_between_the_rates_it_weighs(
    rates: dict[str, tuple[int, int]], counts: dict[str, int]
) -> None:
    used = [100 * k / n for tier, (n, k) in rates.items() if n and counts[tier]]
    prediction = success_rate_prediction(rates, counts)
    if not used:
        assert prediction is None
        return
    assert prediction is not None
    assert min(used) - 0.05 <= prediction <= max(used) + 0.05


def test_a_booking_after_the_attempt_is_the_contact_that_follows_it() -> None:
    sent = ago(30, 9)
    history = patient(seen(50), sms(sent), appt(ago(20, 9), "completed", booked_at=ago(28, 9)))
    assert outcomes(history)["medium"] == (1, 1)


def test_a_visit_with_unknown_booking_made_the_patient_booked_all_along() -> None:
    """An appointment exists from its booked_at, "always, when that is unknown": a visit
    25 days ago with no booking time was a future appointment when the sms went out 30 days
    ago, so the patient was engaged then and the attempt counts for no at-risk tier."""
    history = patient(seen(50), sms(ago(30, 9)), appt(ago(25, 9), "completed"))
    assert outcomes(history) == NOTHING
