"""The fast path (SQL over ``patient_state``) agrees with the straight computation from
events, over random histories, on both databases; and the state is kept and rebuilt."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
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
from reengage.domain.scope import Scope
from reengage.domain.standing import Tally
from reengage.models import PatientState
from reengage.outreach import service as outreach
from reengage.risk import service
from tests.factories import OrgFixture, make_org

BASE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Australia/Sydney", "America/New_York"]

offsets = st.integers(min_value=-120 * 24, max_value=30 * 24).map(lambda h: timedelta(hours=h))
# The late as_of of ``_check_agreement``, after every record: the stored standings answer
# there (as at test_standings' START, 41 days after BASE).
LATE = timedelta(days=60)


def _first_of_90_days(after_base: timedelta) -> timedelta:
    """Where the first of the last 90 days of BASE + ``after_base`` begins in UTC (the date
    is the same in every zone of ZONES: 12:00Z is 22:00 in Sydney, 08:00 in New York)."""
    day = (BASE + after_base).date() - timedelta(days=89)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - BASE


# Within 36 hours of it: either side of that day's start in every zone of ZONES.
near_the_edges = st.sampled_from(
    [_first_of_90_days(LATE), _first_of_90_days(timedelta(days=41))]
).flatmap(lambda edge: st.integers(-36, 36).map(lambda h: edge + timedelta(hours=h)))


def _at(delta: timedelta) -> str:
    return (BASE + delta).isoformat()


ALL_STATUSES = ["scheduled", "completed", "no_show", "late_cancelled", "cancelled"]
MISSED = ["no_show", "late_cancelled"]


def _appointment(
    draw: st.DrawFn,
    aid: str,
    pid: str,
    starts_in: st.SearchStrategy[timedelta],
    statuses: list[str],
) -> dict[str, Any]:
    """A visit starting at a drawn offset, booked up to 40 days before it (or a day after:
    a late import), or with no booking time."""
    starts = draw(starts_in)
    booked = draw(st.one_of(st.none(), st.integers(-40 * 24, 24).map(lambda h: timedelta(hours=h))))
    return {
        "id": aid,
        "patient_id": pid,
        "starts_at": _at(starts),
        "status": draw(st.sampled_from(statuses)),
        "booked_at": None if booked is None else _at(starts + booked),
    }


@st.composite
def clinics(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    n = draw(st.integers(min_value=1, max_value=6))
    batch: dict[str, list[dict[str, Any]]] = {
        "patients": [],
        "appointments": [],
        "communications": [],
        "followups": [],
    }
    for i in range(n):
        pid = f"p{i}"
        batch["patients"].append(
            {
                "id": pid,
                "name": f"Fake Person {i}",
                "status": draw(st.sampled_from(["active", "active", "active", "discharged"])),
                "phone": draw(st.sampled_from([None, "+61400000000"])),
                "email": draw(st.sampled_from([None, "x@example.org"])),
                "registered_at": draw(st.one_of(st.none(), offsets.map(_at))),
                "opt_outs": draw(st.lists(st.sampled_from(["sms", "email", "phone"]), unique=True)),
            }
        )
        for j in range(draw(st.integers(0, 4))):
            batch["appointments"].append(
                _appointment(draw, f"a{i}-{j}", pid, offsets, ALL_STATUSES)
            )
        # A run of missed visits, some near the start of the 90 days the list counts them
        # over at the late as_ofs: more than the score's 3, and either side of the window's
        # first instant, so that the list's uncapped count is compared where it matters.
        for j in range(draw(st.sampled_from([0, 0, 1, 4, 5]))):
            batch["appointments"].append(
                _appointment(draw, f"a{i}-m{j}", pid, st.one_of(offsets, near_the_edges), MISSED)
            )
        for j in range(draw(st.integers(0, 4))):
            sent = draw(offsets)
            channel = draw(st.sampled_from(["sms", "email", "phone"]))
            direction = draw(st.sampled_from(["outbound", "outbound", "inbound"]))
            record: dict[str, Any] = {
                "id": f"c{i}-{j}",
                "patient_id": pid,
                "channel": channel,
                "direction": direction,
                "sent_at": _at(sent),
            }
            if direction == "outbound":
                later = sent + timedelta(hours=draw(st.integers(0, 72)))
                outcome = draw(st.sampled_from(["none", "success", "failed"]))
                if outcome == "success":
                    record["connected_at" if channel == "phone" else "responded_at"] = _at(later)
                elif outcome == "failed":
                    record["failed_at"] = _at(later)
            batch["communications"].append(record)
        for j in range(draw(st.integers(0, 2))):
            due = draw(offsets)
            done = draw(st.one_of(st.none(), st.integers(-240, 240)))
            batch["followups"].append(
                {
                    "id": f"f{i}-{j}",
                    "patient_id": pid,
                    "due_at": _at(due),
                    "completed_at": None if done is None else _at(due + timedelta(hours=done)),
                }
            )
    return batch


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


def load_clinic(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
) -> OrgFixture:
    """A new org in ``zone`` holding the clinic, with booked patients engaged or not."""
    org = make_org(engine, timezone=zone)
    if not booked_engaged:
        r = client.patch(
            org.url("/settings"),
            json={"booked_patients_are_engaged": False},
            headers=org.headers(),
        )
        assert r.status_code == 200
    r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
    assert r.status_code == 200, r.text
    return org


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


LIST_QUERIES = [
    ("all", None, "risk_score"),
    ("all", None, "days_since_contact"),
    ("all", None, "next_action_date"),
    ("critical", None, "risk_score"),
    ("medium", None, "next_action_date"),
    ("all", "no_future_appt", "risk_score"),
    ("all", "overdue_followup", "days_since_contact"),
    ("high", "failed_contact", "risk_score"),
    ("engaged", "missed_appt", "next_action_date"),
]


def _rows_alone(session: Any, where: Scope) -> Freshness:
    """The freshness of each patient's rows, as if the org's status vouched for none."""
    fresh = Freshness(session, where)
    fresh.complete = False
    return fresh


def _reference_metrics(session: Any, where: Scope) -> Any:
    """risk-metrics counted from the reference standings."""
    population = reference.standings(session, where)
    tally = Tally.of(population)
    return service.RiskMetrics(
        organization_id=where.org_id,
        last_updated=where.as_of.astimezone(where.settings.zone()),
        risk_summary=service.RiskSummary.of(tally.tiers),
        alerts=service.Alerts(
            **{alert: tally.flags[flag] for flag, alert in service.ALERT_FOR_FLAG.items()}
        ),
        immediate_actions_required=tally.priority_one,
    )


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
