"""``TierTimeline`` answers exactly what ``risk.tier_at`` and ``risk.in_population`` do, at
any instant: it is what the derived rows are built with, and ``tier_at`` is the reference."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.domain.history import PatientHistory
from reengage.domain.risk import in_population, tier_at
from reengage.domain.settings import OrgSettings
from reengage.domain.tier_timeline import TierTimeline
from tests.domain.builders import AS_OF, DEFAULT, ago, appt, call, inbound, patient, sms
from tests.strategies import scenario


@settings(max_examples=400, deadline=None)
@given(scenario(), st.lists(st.integers(-70 * 24 * 60, 10 * 24 * 60), min_size=1, max_size=12))
def test_the_timeline_agrees_with_tier_at_at_every_instant(
    case: tuple[PatientHistory, datetime, OrgSettings], offsets: list[int]
) -> None:
    history, as_of, s = case
    timeline = TierTimeline(history, s)
    for minutes in offsets:
        at = as_of + timedelta(minutes=minutes)
        assert timeline.in_population(at) == in_population(history, at)
        assert timeline.tier_at(at) == tier_at(history, at, s)


def test_a_hand_worked_history() -> None:
    """Registered 90 days ago; a reply 60 days ago; a visit booked 40 days ago for 30 days
    ago (completed); an unanswered SMS 10 days ago. Default thresholds: low 7, medium 14,
    high 30, critical 45 days."""
    history = patient(
        sms(ago(60, 9), responded_at=ago(60, 10)),
        appt(ago(30, 9), "completed", booked_at=ago(40, 9)),
        sms(ago(10, 9)),
        inbound(ago(75, 9)),
        call(ago(5, 9)),
        registered_at=ago(90, 9),
    )
    timeline = TierTimeline(history, DEFAULT)
    assert timeline.tier_at(ago(89, 9)) == "engaged"  # 1 day since the start
    assert timeline.tier_at(ago(70, 9)) == "engaged"  # 5 days since the inbound
    assert timeline.tier_at(ago(67, 9)) == "low"  # 8 days since it
    assert timeline.tier_at(ago(42, 9)) == "medium"  # 18 days since the reply
    assert timeline.tier_at(ago(35, 9)) == "engaged"  # booked, the visit still to come
    assert timeline.tier_at(AS_OF) == "high"  # 30 days since the visit
    assert timeline.tier_at(AS_OF) == tier_at(history, AS_OF, DEFAULT)
