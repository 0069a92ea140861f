"""The check-in rules on their own: who is messaged, held out or skipped, the words, the
hours, the holdout draw and the uplift's interval."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.domain import checkins as rules
from reengage.domain import risk

NOW = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)

ANY_CHANNEL = st.sampled_from(["sms", "email", "phone"])
candidates = st.builds(
    rules.Candidate,
    patient_id=st.uuids().map(lambda u: u.hex[:8]),
    priority=st.integers(1, 4),
    risk_score=st.integers(0, 100),
    has_phone=st.booleans(),
    has_email=st.booleans(),
    communication_preferences=st.lists(ANY_CHANNEL, max_size=3).map(tuple),
    opt_outs=st.lists(ANY_CHANNEL, max_size=3, unique=True).map(tuple),
    recommended_action=st.just("automated_checkin"),
    checked_in_at=st.none() | st.integers(0, 20).map(lambda d: NOW - timedelta(days=d, hours=1)),
    staff_attempt_at=st.none() | st.integers(0, 20).map(lambda d: NOW - timedelta(days=d, hours=1)),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    people=st.lists(candidates, max_size=40, unique_by=lambda c: c.patient_id),
    cap=st.integers(1, 30),
    holdout=st.floats(0, 50),
    channels=st.sampled_from([["sms"], ["email"], ["sms", "email"]]),
    held=st.sets(st.integers(0, 39)),
)
def test_a_batch_messages_only_those_it_may(
    people: list[rules.Candidate],
    cap: int,
    holdout: float,
    channels: list[str],
    held: set[int],
) -> None:
    campaign = rules.Campaign.model_validate(
        {"daily_cap": cap, "holdout_pct": holdout, "channels": channels,
         "clinic_phone": "02 5550 1234", "booking_link": "https://x.example"}
    )  # fmt: skip
    groups = {c.patient_id: "holdout" for i, c in enumerate(people) if i in held}
    decisions = rules.decide(campaign, "salt", people, groups, NOW)
    by_id = {c.patient_id: c for c in people}
    # Everyone once, most urgent first.
    assert [d.patient_id for d in decisions] == [c.patient_id for c in rules.ordered(people)]
    sends = [d for d in decisions if d.outcome == "send"]
    assert len(sends) <= cap
    for d in decisions:
        c = by_id[d.patient_id]
        if d.outcome == "skip":
            assert d.reason in rules.SKIP_REASONS
            continue
        # Messaged or held out: reachable on a channel allowed and not opted out of, and
        # neither checked in nor contacted by staff in the last 7 days.
        assert d.channel in channels and d.channel not in c.opt_outs
        assert c.has_phone if d.channel == "sms" else c.has_email
        week = NOW - timedelta(days=7)
        assert not (c.checked_in_at and c.checked_in_at > week)
        assert not (c.staff_attempt_at and c.staff_attempt_at > week)
        if d.outcome == "send":
            assert groups.get(d.patient_id) != "holdout"
            if d.patient_id not in groups:
                assert not rules.in_holdout("salt", d.patient_id, holdout)
    # The cap skips only once it is reached.
    capped = [d for d in decisions if d.reason == "daily_cap"]
    assert not capped or len(sends) == cap


@pytest.mark.parametrize("pct", [5.0, 10.0, 25.0])
def test_the_holdout_is_its_share_of_a_large_population_and_stable(pct: float) -> None:
    ids = [uuid.UUID(int=i).hex for i in range(20_000)]
    drawn = [rules.in_holdout("campaign-salt", pid, pct) for pid in ids]
    share = sum(drawn) / len(ids) * 100
    sd = (pct * (100 - pct) / len(ids)) ** 0.5
    assert abs(share - pct) < 3 * sd, share
    assert drawn == [rules.in_holdout("campaign-salt", pid, pct) for pid in ids]
    # Another campaign draws another holdout.
    other = [rules.in_holdout("other-salt", pid, pct) for pid in ids]
    assert sum(a and b for a, b in zip(drawn, other, strict=True)) < sum(drawn) * (pct / 100 + 0.05)


def test_the_uplift_interval_is_newcombe_s() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, table II example (b): 56/70 against
    48/80, difference 0.2000, method 10 (hybrid score) interval 0.0524 to 0.3339."""
    found = rules.uplift(rules.Group(70, 56), rules.Group(80, 48))
    assert found.enough
    assert found.difference == 20.0
    assert (found.low, found.high) == (5.24, 33.39)
    assert found.relative_pct == 33.3
    assert rules.uplift_message(found).startswith("the check-ins added bookings: +20.0")
    # Example (h) of the same table: 10/10 against 0/20, interval 0.6075 to 1.0000.
    extreme = rules.uplift(rules.Group(40, 40), rules.Group(40, 0))
    assert extreme.high is not None and extreme.high <= 100.0
    small = rules.uplift(rules.Group(29, 10), rules.Group(100, 10))
    assert not small.enough and small.difference is None


def test_an_sms_always_says_how_to_stop_them() -> None:
    campaign = rules.Campaign(booking_link="https://b.example", clinic_phone="02 5550 1234")
    sms = rules.message(campaign, "sms", "Mia", "Harbour Physio")
    assert sms.text.endswith(" Reply STOP to opt out.")
    assert "Hi Mia, it's Harbour Physio." in sms.text
    own = rules.Campaign.model_validate(
        {
            "templates": {"sms": {"body": "{first_name}: see you soon? Text STOP to stop."}},
            "booking_link": "https://b.example",
            "clinic_phone": "02 5550 1234",
        }
    )
    assert rules.message(own, "sms", "Mia", "X").text == "Mia: see you soon? Text STOP to stop."
    email = rules.message(campaign, "email", "Mia", "Harbour Physio")
    assert email.subject == "How are you going, Mia?" and "STOP" not in email.text
    assert rules.first_name("  ") == "there"


def test_the_hours_are_the_org_s_own_across_a_clock_change() -> None:
    """Sydney moves its clocks forward on 2026-10-04 (a Sunday): Monday's 09:00 there is
    22:00 UTC on Sunday, where the Friday before it was 23:00 UTC."""
    sydney = ZoneInfo("Australia/Sydney")
    schedule = rules.Schedule()
    friday = schedule.window(datetime(2026, 10, 2).date(), sydney)
    monday = schedule.window(datetime(2026, 10, 5).date(), sydney)
    assert friday is not None and monday is not None
    assert friday[0].astimezone(UTC) == datetime(2026, 10, 1, 23, 0, tzinfo=UTC)
    assert monday[0].astimezone(UTC) == datetime(2026, 10, 4, 22, 0, tzinfo=UTC)
    assert schedule.window(datetime(2026, 10, 4).date(), sydney) is None  # a Sunday
    assert schedule.is_open(datetime(2026, 10, 4, 22, 0, tzinfo=UTC), sydney)
    assert not schedule.is_open(datetime(2026, 10, 4, 21, 59, tzinfo=UTC), sydney)


def test_the_audience_names_the_contract_s_actions_tiers_and_flags() -> None:
    assert get_args(rules.Action) == rules.ACTIONS
    assert get_args(rules.Tier) == risk.TIERS
    assert get_args(rules.Flag) == risk.FLAGS
