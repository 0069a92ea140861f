"""The fast path (SQL over ``patient_state``) agrees with the straight computation from
events, over random histories, on both databases; and the state is kept and rebuilt."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from reengage import clock, reference
from reengage.cli import app as cli_app
from reengage.db.engine import make_sessionmaker
from reengage.derived.freshness import Freshness
from reengage.models import PatientState
from reengage.outreach import service as outreach
from reengage.risk import service
from tests.factories import OrgFixture, load_clinic
from tests.helpers import LIST_QUERIES, _reference_metrics, _rows_alone
from tests.strategies import BASE, LATE, ZONES, clinics


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    as_of_hours=st.lists(st.integers(-100 * 24, 45 * 24), min_size=1, max_size=3),
    booked_engaged=st.booleans(),
)
def test_fast_path_agrees_with_the_straight_computation(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: list[int],
    booked_engaged: bool,
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):  # when the records arrive
        _check_agreement(client, engine, clinic, zone, as_of_hours, booked_engaged)


def _check_agreement(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: list[int],
    booked_engaged: bool,
) -> None:
    org = load_clinic(client, engine, clinic, zone, booked_engaged)
    with make_sessionmaker(engine)() as session:
        for hours in as_of_hours:
            as_of = (BASE + timedelta(hours=hours)).isoformat()
            where = service.scope(session, org.id, as_of)
            assert service.standings(session, where) == reference.standings(session, where)
        # After every event, nobody needs the straight path.
        late = service.scope(session, org.id, (BASE + LATE).isoformat())
        assert Freshness(session, late).unsettled_ids("instants") == []
        assert _rows_alone(session, late).unsettled_ids("instants") == []
        assert service.standings(session, late) == reference.standings(session, late)
        weights = Counter({"critical": 1, "high": 2, "medium": 4})
        fast = service.prediction(session, late, weights)
        assert fast == reference.prediction(session, late, weights)
        event(f"prediction at the late as_of is {'None' if fast is None else 'a number'}")
        assert service.risk_metrics(session, late) == _reference_metrics(session, late)
        for level, flag, sort_by in LIST_QUERIES:
            for limit, offset in ((2, 0), (3, 2), (50, 0)):
                args = (level, flag, sort_by, limit, offset)
                assert service.prioritized(session, late, *args) == reference.prioritized(
                    session, late, *args
                )
        # The entries are compared whole, missed_appointments_last_90d with the rest: say
        # how far the examples took it (past the score's cap of 3, or not at all).
        listed = reference.prioritized(session, late, "all", None, "risk_score", 500, 0)
        most = max((p.missed_appointments_last_90d for p in listed.patients), default=0)
        event(f"most missed visits of a listed patient in 90 days: {min(most, 4)}")


def _states(engine: Engine, org_id: str) -> list[tuple[Any, ...]]:
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(PatientState.__table__).where(PatientState.org_id == org_id)
        ).all()
    return sorted(tuple(row) for row in rows)


def test_state_follows_writes_timezone_changes_and_rebuilds(
    client: TestClient, engine: Engine, org: OrgFixture, database_url: str, monkeypatch: Any
) -> None:
    body = {
        "patients": [{"id": "p1", "name": "Fake One", "status": "active"}],
        "communications": [
            {
                "id": "c1",
                "patient_id": "p1",
                "channel": "sms",
                "direction": "inbound",
                "sent_at": "2026-06-01T13:30:00+00:00",
            }
        ],
    }
    assert client.post(org.url("/batch"), json=body, headers=org.headers()).status_code == 200
    states = _states(engine, org.id)
    assert len(states) == 1
    with make_sessionmaker(engine)() as session:
        state = session.get(PatientState, (org.id, "p1"))
        assert state is not None
        assert state.contact_day == datetime(2026, 6, 1).toordinal()
        assert state.settings_key.startswith("UTC|")
    # 13:30 UTC is 23:30 in Sydney: same day; in Auckland (UTC+12) it is the next day.
    r = client.patch(
        org.url("/settings"), json={"timezone": "Pacific/Auckland"}, headers=org.headers()
    )
    assert r.status_code == 200
    with make_sessionmaker(engine)() as session:
        state = session.get(PatientState, (org.id, "p1"))
        assert state is not None
        assert state.contact_day == datetime(2026, 6, 2).toordinal()
        assert state.settings_key.startswith("Pacific/Auckland|")
    # The operator's rebuild gives the same rows as the ones kept on write.
    kept = _states(engine, org.id)
    with make_sessionmaker(engine)() as session:
        session.execute(PatientState.__table__.delete().where(PatientState.org_id == org.id))
        session.commit()
    assert _states(engine, org.id) == []
    monkeypatch.setenv("REENGAGE_DATABASE_URL", database_url)
    from reengage.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["state", "rebuild", org.id])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{org.id}: 1 patients" in result.output
    assert _states(engine, org.id) == kept
    with make_sessionmaker(engine)() as session:
        count = session.scalar(
            select(func.count()).select_from(PatientState).where(PatientState.org_id == org.id)
        )
    assert count == 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    as_of_hours=st.integers(-100 * 24, 45 * 24),
    as_a_date=st.booleans(),
    booked_engaged=st.booleans(),
)
def test_performance_and_trends_agree_with_the_straight_computation(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: int,
    as_a_date: bool,
    booked_engaged: bool,
) -> None:
    """The derived rows give the same figures as the histories, for as_of at any instant
    and at the end of a day (where the derived rows answer for every patient)."""
    with clock.frozen_at(BASE - timedelta(days=200)):  # when the records arrive
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
    instant = BASE + timedelta(hours=as_of_hours)
    as_of = instant.date().isoformat() if as_a_date else instant.isoformat()
    metrics = ["risk_levels", "success_rates", "channel_performance"]
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of)
        for timeframe in ("last_7_days", "last_30_days", "last_90_days"):
            fast = outreach.performance(session, where, timeframe)
            assert fast == reference.performance_of(session, where, timeframe)
        for period in ("7d", "90d", "1y"):
            fast_trends = outreach.trends(session, where, period, metrics)
            assert fast_trends == reference.trends_of(session, where, period, metrics)
        cards = outreach.overview(session, where)
        assert cards == reference.overview_of(session, where)
        reached = cards.reengagement_success_rate.patients_reached
        event(f"patients reached while at risk: {min(reached, 2)}+")
        if as_a_date:
            assert _rows_alone(session, where).unsettled_ids("days") == []
