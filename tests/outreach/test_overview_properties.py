"""The dashboard's cards from the derived rows equal the cards straight from histories, on
clinics drawn so that patients drift into risk and get outreach in both 30-day windows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from reengage import clock, reference
from reengage.db.engine import make_sessionmaker
from reengage.outreach import service as outreach
from reengage.risk import service, week_target
from tests.factories import load_clinic
from tests.strategies import BASE, ZONES, drifting_clinics


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=drifting_clinics(),
    zone=st.sampled_from(ZONES),
    as_of_hours=st.integers(-40 * 24, 10 * 24),
    as_a_date=st.booleans(),
    booked_engaged=st.booleans(),
    weekly=st.integers(1, 4),
)
def test_cards_agree_with_the_straight_computation(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: int,
    as_a_date: bool,
    booked_engaged: bool,
    weekly: int,
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
        r = client.patch(
            org.url("/settings"), json={"weekly_contact_target": weekly}, headers=org.headers()
        )
        assert r.status_code == 200, r.text
    instant = BASE + timedelta(hours=as_of_hours)
    as_of = instant.date().isoformat() if as_a_date else instant.isoformat()
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of)
        cards = outreach.overview(session, where)
        assert cards == reference.overview_of(session, where)
    now, before = cards.reengagement_success_rate, cards.previous_success_rate
    assert 0 <= now.patients_reengaged <= now.patients_reached
    target = cards.this_weeks_target
    assert target.contacted + target.waiting == target.patients
    # Short of the target only when no one at risk is left beyond it.
    assert target.backlog_beyond == 0 or target.patients == max(weekly, target.contacted)
    assert target.patients >= min(weekly, target.contacted + target.waiting + target.backlog_beyond)
    # The card's count is its list's length; the list marks who was contacted; the
    # waiting patients are the call list's first at-risk patients not contacted.
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of)
        listed = week_target.listed(session, where, "all", None, "risk_score", 500, 0)
        at_risk = service.prioritized(session, where, "at_risk", None, "risk_score", 500, 0)
    assert listed.summary.total == len(listed.patients) == target.patients
    assert sum(1 for p in listed.patients if p.contacted_this_week) == target.contacted
    contacted = {p.id for p in listed.patients if p.contacted_this_week}
    waiting = [p.id for p in at_risk.patients if p.id not in contacted][: target.waiting]
    assert {p.id for p in listed.patients if not p.contacted_this_week} == set(waiting)
    assert target.backlog_beyond == at_risk.summary.total - len(
        [p for p in at_risk.patients if p.id in contacted or p.id in waiting]
    )
    event(
        f"reached now: {min(now.patients_reached, 2)}+, before: {min(before.patients_reached, 2)}+"
    )
    event(f"reengaged now: {min(now.patients_reengaged, 1)}+")
    event(f"weekly target: {min(target.patients, 1)}+, contacted {min(target.contacted, 1)}+")
