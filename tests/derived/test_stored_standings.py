"""The stored standings (``reengage.derived.stored_standings``) answer exactly as the
straight computation does, while as_of moves through hours and days, visits start,
follow-ups fall due and records are written; and they are kept, reused and dropped when
they should be."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from reengage import clock, reference
from reengage.cli import app as cli_app
from reengage.db.engine import make_sessionmaker
from reengage.derived import status as status_row
from reengage.derived import stored_standings
from reengage.models import DerivedStatus, Standing
from reengage.risk import service
from tests.factories import OrgFixture, appointment, followup, load_clinic, outbound, patient
from tests.helpers import LIST_QUERIES, _reference_metrics
from tests.strategies import BASE, ZONES, _first_of_90_days, clinics

# Every record the clinics strategy makes is dated before this (the latest: a follow-up due
# 30 days after BASE, completed 10 days late): the derived rows answer.
START = BASE + timedelta(days=41)

# What a step does (see ``_write``); "later" twice, so that as_of mostly moves forward.
KINDS = (
    *("later", "later", "earlier"),
    *("visit", "due", "attempt", "status", "new", "starts", "ahead"),
)
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(min_value=0, max_value=30),  # hours
        st.integers(min_value=0, max_value=6),  # which patient
    ),
    min_size=1,
    max_size=6,
)


def _read(engine: Engine, org_id: str, as_of: datetime) -> tuple[Any, datetime | None]:
    """Risk metrics and a few lists through the service, each checked against the straight
    computation, committed as the endpoints do; and where the table stood afterwards."""
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org_id, as_of.isoformat())
        assert service.risk_metrics(session, where) == _reference_metrics(session, where)
        session.commit()
        for level, flag, sort_by in LIST_QUERIES[:4]:
            args = (level, flag, sort_by, 3, 1)
            found = service.prioritized(session, where, *args)
            assert found == reference.prioritized(session, where, *args)
            session.commit()
        status = session.get(DerivedStatus, org_id)
        return where, status.standings_at if status is not None else None


def _write(client: TestClient, org: OrgFixture, kind: str, hours: int, who: int, at: datetime):
    """One write dated up to ``at`` (as_of): a visit booked now that starts ``hours`` later,
    a follow-up due then, a failed attempt, a change of status, or a new patient; or dated
    after it: a new patient whose only record is a follow-up due ``hours`` later (they
    start then), or an attempt sent then (the patient's rows do not answer until then)."""
    pid = f"p{who}"
    tag = f"{kind}{at.timestamp():.0f}-{hours}"
    later = (at + timedelta(hours=hours, minutes=7)).isoformat()
    before = (at - timedelta(minutes=5)).isoformat()
    batch: dict[str, list[dict[str, Any]]] = {}
    if kind == "visit":
        batch["appointments"] = [appointment(tag, pid, starts_at=later, booked_at=before)]
    elif kind == "due":
        batch["followups"] = [followup(tag, pid, due_at=later)]
    elif kind == "attempt":
        batch["communications"] = [outbound(tag, pid, "sms", before, failed_at=before)]
    elif kind == "starts":
        new = f"new{tag}"
        batch["patients"] = [patient(new, registered_at=None)]
        batch["followups"] = [followup(tag, new, due_at=later)]
    elif kind == "ahead":
        batch["communications"] = [outbound(tag, pid, "sms", later)]
    elif kind == "status":
        batch["patients"] = [patient(pid, status="discharged" if hours % 2 else "active")]
    else:
        batch["patients"] = [patient(f"new{tag}", registered_at=before)]
    if kind in ("visit", "due", "attempt", "status", "ahead"):
        batch.setdefault("patients", [patient(pid)])
    r = client.post(org.url("/batch"), json=batch, headers=org.headers())
    assert r.status_code == 200, r.text


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    booked_engaged=st.booleans(),
    plan=steps,
)
def test_stored_standings_agree_with_the_straight_computation_as_things_happen(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
    plan: list[tuple[str, int, int]],
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
    as_of = START
    _, at = _read(engine, org.id, as_of)
    assert at == as_of  # the first read built the rows
    for kind, hours, who in plan:
        newest = at
        if kind == "later":
            as_of += timedelta(hours=hours, minutes=13)
        elif kind == "earlier":
            as_of -= timedelta(hours=hours, minutes=13)
        else:
            with clock.frozen_at(as_of):
                _write(client, org, kind, hours, who, as_of)
        _, at = _read(engine, org.id, as_of)
        event("answered from the stored rows" if at == as_of else "answered as before")
        if at == as_of and any(row["tier"] is None for row in _stored(engine, org.id).values()):
            event("answered from the stored rows, some patients late")
        if newest is not None and as_of >= newest:  # the rows are never left behind
            assert at is not None and newest <= at <= as_of


def _stored(engine: Engine, org_id: str) -> dict[str, dict[str, Any]]:
    """The org's rows: by patient, the values by column."""
    with make_sessionmaker(engine)() as session:
        t: Any = Standing.__table__
        rows = session.execute(select(t).where(t.c.org_id == org_id)).mappings().all()
    return {row["patient_id"]: dict(row) for row in rows}


def test_rows_are_built_once_kept_and_recomputed_only_where_due(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    start = datetime.fromisoformat("2026-06-10T09:00:00+00:00")
    batch = {
        "patients": [patient(f"p{i}", registered_at="2026-01-05T09:00:00+00:00") for i in range(4)],
        "appointments": [
            appointment("a0", "p0", starts_at="2026-05-01T09:00:00+00:00", status="completed"),
            # p1's only booked visit starts at 15:00 today: from then on, nothing is booked.
            appointment(
                "a1",
                "p1",
                starts_at="2026-06-10T15:00:00+00:00",
                status="scheduled",
                booked_at="2026-05-20T09:00Z",
            ),
        ],
        "followups": [followup("f2", "p2", due_at="2026-06-10T12:00:00+00:00")],
    }
    with clock.frozen_at(start - timedelta(days=30)):
        r = client.post(org.url("/batch"), json=batch, headers=org.headers())
    assert r.status_code == 200, r.text

    _, at = _read(engine, org.id, start)
    assert at == start
    first = _stored(engine, org.id)
    assert sorted(first) == ["p0", "p1", "p2", "p3"]
    day_end = datetime.fromisoformat("2026-06-11T00:00:00+00:00")
    until = {pid: row["until_at"] for pid, row in first.items()}
    assert until == {
        "p0": day_end,
        "p1": datetime.fromisoformat("2026-06-10T15:00:00+00:00"),
        "p2": datetime.fromisoformat("2026-06-10T12:00:00+00:00"),
        "p3": day_end,
    }

    # Before any row is due, a read changes nothing: the table still dates from the start.
    _, at = _read(engine, org.id, start + timedelta(hours=2))
    assert at == start and _stored(engine, org.id) == first

    # At 13:00 p2's follow-up is overdue: only p2's row is recomputed.
    one_pm = start + timedelta(hours=4)
    _, at = _read(engine, org.id, one_pm)
    assert at == one_pm
    now = _stored(engine, org.id)
    assert {pid for pid in now if now[pid] != first[pid]} == {"p2"}
    assert (first["p2"]["overdue"], now["p2"]["overdue"]) == (0, 1)

    # A write marks its patient's row due at once, and the next read recomputes it.
    with clock.frozen_at(one_pm):
        r = client.post(
            org.url("/batch"),
            json={"communications": [outbound("c3", "p3", "phone", "2026-06-10T12:30Z")]},
            headers=org.headers(),
        )
    assert r.status_code == 200, r.text
    assert _stored(engine, org.id)["p3"]["until_at"] == stored_standings.EPOCH
    _, at = _read(engine, org.id, one_pm)
    assert _stored(engine, org.id)["p3"]["until_at"] == day_end

    # An as_of the rows are past is answered as before, and leaves the rows alone.
    kept = _stored(engine, org.id)
    _, at = _read(engine, org.id, start)
    assert at == one_pm and _stored(engine, org.id) == kept

    # The next day, every row is computed again.
    tomorrow = start + timedelta(days=1)
    _, at = _read(engine, org.id, tomorrow)
    assert at == tomorrow
    assert {row["until_at"] for row in _stored(engine, org.id).values()} <= {
        day_end + timedelta(days=1),
        datetime.fromisoformat("2026-06-10T15:00:00+00:00") + timedelta(days=1),
    }


def test_patients_late_at_as_of_are_placeholders_and_the_rows_still_answer(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    """A patient whose records reach past as_of (one who starts next week with a follow-up,
    one sent a message dated tomorrow) is kept as a row without values, due at their
    horizon; the other rows are still brought up and answer, those patients from their
    histories (``_read`` holds every answer to the straight computation). Before, the rows
    were left where they were until the last such record's time came."""
    start = datetime.fromisoformat("2026-06-10T09:00:00+00:00")
    batch = {
        "patients": [patient(f"p{i}", registered_at="2026-01-05T09:00:00+00:00") for i in range(5)],
        "appointments": [
            appointment("a0", "p0", starts_at="2026-05-01T09:00:00+00:00", status="completed"),
        ],
    }
    with clock.frozen_at(start - timedelta(days=30)):
        r = client.post(org.url("/batch"), json=batch, headers=org.headers())
    assert r.status_code == 200, r.text
    _, at = _read(engine, org.id, start)
    assert at == start

    starts_at = start + timedelta(days=7)
    tomorrow = start + timedelta(days=1, hours=2)
    late = {
        "patients": [patient("p9", registered_at=None)],
        "followups": [followup("f9", "p9", due_at=starts_at.isoformat())],
        "communications": [outbound("c2", "p2", "sms", tomorrow.isoformat())],
    }
    with clock.frozen_at(start):
        r = client.post(org.url("/batch"), json=late, headers=org.headers())
    assert r.status_code == 200, r.text

    hour_later = start + timedelta(hours=1)
    _, at = _read(engine, org.id, hour_later)
    assert at == hour_later  # brought up, though two patients' records are after as_of
    rows = _stored(engine, org.id)
    assert sorted(rows) == ["p0", "p1", "p2", "p3", "p4", "p9"]
    for pid, until in (("p2", tomorrow), ("p9", starts_at)):
        assert rows[pid]["until_at"] == until
        assert all(rows[pid][name] is None for name in stored_standings.VALUE_COLUMNS)
    assert all(rows[f"p{i}"]["tier"] is not None for i in (0, 1, 3, 4))

    # p2's message is sent: p2's row is computed; p9 is still to start.
    after_message = tomorrow + timedelta(minutes=1)
    _, at = _read(engine, org.id, after_message)
    assert at == after_message
    rows = _stored(engine, org.id)
    assert rows["p2"]["tier"] is not None and rows["p9"]["until_at"] == starts_at

    # p9 starts: no placeholder is left.
    started = starts_at + timedelta(minutes=1)
    _, at = _read(engine, org.id, started)
    assert at == started
    assert all(row["tier"] is not None for row in _stored(engine, org.id).values())


def test_a_rebuild_drops_the_rows(
    client: TestClient, engine: Engine, org: OrgFixture, database_url: str
) -> None:
    with clock.frozen_at(BASE - timedelta(days=3)):
        r = client.post(
            org.url("/batch"), json={"patients": [patient("p1")]}, headers=org.headers()
        )
    assert r.status_code == 200
    _, at = _read(engine, org.id, BASE)
    assert at == BASE and len(_stored(engine, org.id)) == 1
    r = client.patch(
        org.url("/settings"), json={"tier_thresholds": {"low": 8}}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    with make_sessionmaker(engine)() as session:
        assert session.get(DerivedStatus, org.id).standings_at is None  # type: ignore[union-attr]
        n = session.scalar(select(func.count()).where(Standing.org_id == org.id))
    assert n == 0
    _, at = _read(engine, org.id, BASE)
    assert at == BASE


def test_a_write_waits_for_a_read_bringing_rows_up_to_date(
    client: TestClient, engine: Engine, org: OrgFixture, database_url: str
) -> None:
    """PostgreSQL: a read recomputing rows holds the org's status row until it commits, and
    a write that would mark rows due waits for it (here: gives up after 200 ms), so no row
    computed from records older than the write outlives it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    with clock.frozen_at(BASE - timedelta(days=3)):
        r = client.post(
            org.url("/batch"), json={"patients": [patient("p1")]}, headers=org.headers()
        )
    assert r.status_code == 200
    _read(engine, org.id, BASE)
    sessions = make_sessionmaker(engine)
    with sessions() as reader, sessions() as writer:
        assert status_row.lock(reader, org.id) is not None
        writer.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            stored_standings.invalidate(writer, org.id, ["p1"])
        writer.rollback()
        reader.commit()
        stored_standings.invalidate(writer, org.id, ["p1"])
        writer.commit()
    assert _stored(engine, org.id)["p1"]["until_at"] == stored_standings.EPOCH


# How long before START the first of its last 90 days begins, in UTC (the same date in every
# zone of ZONES); within 36 hours of that is either side of the day's start in each zone.
FIRST_DAY_BEFORE_START = START - (BASE + _first_of_90_days(START - BASE))
near_the_first_day = st.integers(-36, 36).map(lambda h: FIRST_DAY_BEFORE_START + timedelta(hours=h))
in_the_90_days = st.integers(1, 89 * 24).map(lambda h: timedelta(hours=h))


@st.composite
def busy_patients(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Two or three patients with many attempts close together (equal send times, failures
    and unanswered calls inside the 14-day alert window, more than the page's 10), and a
    few visits: what a page entry reads beyond the standings."""
    batch: dict[str, list[dict[str, Any]]] = {
        "patients": [],
        "appointments": [],
        "communications": [],
    }
    hours = st.integers(min_value=-40 * 24, max_value=-11)  # answered before START
    for i in range(draw(st.integers(2, 3))):
        pid = f"b{i}"
        batch["patients"].append(
            patient(
                pid,
                registered_at=(START - timedelta(days=400)).isoformat(),
                communication_preferences=draw(
                    st.lists(st.sampled_from(["sms", "email", "phone"]), unique=True)
                ),
                opt_outs=draw(st.lists(st.sampled_from(["sms", "email", "phone"]), unique=True)),
            )
        )
        for j in range(draw(st.integers(0, 15))):
            sent = START + timedelta(hours=draw(hours) // 6 * 6)  # often equal
            channel = draw(st.sampled_from(["sms", "email", "phone"]))
            later = (sent + timedelta(minutes=draw(st.integers(0, 600)))).isoformat()
            outcome = draw(st.sampled_from(["none", "success", "failed"]))
            stamps: dict[str, Any] = {}
            if outcome == "success":
                stamps["connected_at" if channel == "phone" else "responded_at"] = later
            elif outcome == "failed":
                stamps["failed_at"] = later
            batch["communications"].append(
                outbound(f"m{i}-{j:02d}", pid, channel, sent.isoformat(), **stamps)
            )
        for j in range(draw(st.integers(0, 4))):
            starts = START + timedelta(hours=draw(st.integers(-300 * 24, 20 * 24)))
            status = (
                "scheduled"
                if starts > START
                else draw(st.sampled_from(["completed", "no_show", "cancelled", "late_cancelled"]))
            )
            booked = min(starts, START) - timedelta(days=draw(st.integers(1, 30)))
            batch["appointments"].append(
                appointment(
                    f"v{i}-{j}",
                    pid,
                    starts_at=starts.isoformat(),
                    status=status,
                    booked_at=booked.isoformat(),
                )
            )
        # A run of missed visits: more than the 3 the score counts, in the last 90 days
        # before START or near their first day's start (either side of it in every zone).
        for j in range(draw(st.sampled_from([0, 0, 4, 5]))):
            starts = START - draw(st.one_of(near_the_first_day, in_the_90_days))
            booked = starts - timedelta(days=draw(st.integers(1, 30)))
            batch["appointments"].append(
                appointment(
                    f"v{i}-m{j}",
                    pid,
                    starts_at=starts.isoformat(),
                    status=draw(st.sampled_from(["no_show", "late_cancelled"])),
                    booked_at=booked.isoformat(),
                )
            )
    return batch


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(clinic=busy_patients(), zone=st.sampled_from(ZONES))
def test_entries_from_the_stored_rows_equal_those_from_whole_histories(
    client: TestClient, engine: Engine, clinic: dict[str, list[dict[str, Any]]], zone: str
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, True)
    _, at = _read(engine, org.id, START)
    assert at == START  # the page came from the stored rows
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, START.isoformat())
        for sort_by in ("risk_score", "days_since_contact", "next_action_date"):
            args = ("all", None, sort_by, 50, 0)
            kept = service.prioritized(session, where, *args)
            assert kept == reference.prioritized(session, where, *args)
            event(f"{max((len(p.reengagement_history) for p in kept.patients), default=0)} shown")
            most = max((p.missed_appointments_last_90d for p in kept.patients), default=0)
            event(f"most missed visits of a listed patient in 90 days: {min(most, 4)}")


def test_an_attempt_sent_before_the_window_starts_in_utc_is_in_the_history(
    client: TestClient, engine: Engine
) -> None:
    """Found by the property above: the window's first local midnight (00:00+10:00) was
    compared as 00:00 UTC on SQLite, and an SMS sent at 18:00 UTC the evening before (04:00
    in Sydney, inside the window) was missing from the stored rows' history."""
    clinic = {
        "patients": [patient("b0")],
        "communications": [
            outbound(
                "m0",
                "b0",
                "sms",
                "2026-07-12T18:00:00+00:00",
                responded_at="2026-07-12T18:00:00+00:00",
            )
        ],
    }
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, "Australia/Sydney", True)
    for _ in range(2):  # the first read brings the stored standings to START
        with make_sessionmaker(engine)() as session:
            where = service.scope(session, org.id, START.isoformat())
            kept = service.prioritized(session, where, "all", None, "risk_score", 50, 0)
            assert kept == reference.prioritized(session, where, "all", None, "risk_score", 50, 0)
            session.commit()
    [entry] = kept.patients
    assert [(h.date.isoformat(), h.method, h.reason) for h in entry.reengagement_history] == [
        ("2026-07-13", "sms", "responded")
    ]


def test_the_state_today_command_stores_the_standings_now(
    client: TestClient, engine: Engine, org: OrgFixture, database_url: str, monkeypatch: Any
) -> None:
    now = datetime.fromisoformat("2026-06-10T01:30:00+00:00")
    with clock.frozen_at(now - timedelta(days=3)):
        r = client.post(
            org.url("/batch"),
            json={"patients": [patient("p1"), patient("p2", status="discharged")]},
            headers=org.headers(),
        )
    assert r.status_code == 200
    monkeypatch.setenv("REENGAGE_DATABASE_URL", database_url)
    from reengage.config import get_settings

    get_settings.cache_clear()
    try:
        with clock.frozen_at(now):
            done = CliRunner().invoke(cli_app, ["state", "today", org.id])
            missing = CliRunner().invoke(cli_app, ["state", "today", "org_nobody"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"{org.id}: stored in ")
    assert sorted(_stored(engine, org.id)) == ["p1"]  # the population only
    with make_sessionmaker(engine)() as session:
        assert session.get(DerivedStatus, org.id).standings_at == now  # type: ignore[union-attr]
    assert missing.exit_code == 1 and "no org 'org_nobody'" in missing.output
