"""The daily roll-ups and the org's derived status: kept equal to the sums of the derived
rows by every write, and, where they answer, giving exactly the straight computation's
figures, including for patients with a visit later on as_of's day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from reengage import clock, reference
from reengage.db.engine import make_sessionmaker
from reengage.derived import rollup_table, rollups
from reengage.derived.freshness import Freshness
from reengage.models import AttemptOutcome, DailyRollup, DerivedStatus, RiskSpan
from reengage.outreach import service as outreach
from reengage.risk import service
from tests.factories import OrgFixture, load_clinic
from tests.helpers import LIST_QUERIES
from tests.strategies import BASE, ZONES, clinics

METRICS = ["risk_levels", "success_rates", "channel_performance"]


def stored_sums(engine: Engine, org_id: str) -> rollup_table.Sums:
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(DailyRollup.day, DailyRollup.measure, DailyRollup.n).where(
                DailyRollup.org_id == org_id
            )
        ).all()
    found: rollup_table.Sums = rollup_table.Sums()
    for day, measure, n in rows:
        if n:
            found[(day, measure)] = n
    return found


def recounted(engine: Engine, org_id: str) -> rollup_table.Sums:
    """The roll-ups as they should be: summed afresh from every derived row of the org."""
    with make_sessionmaker(engine)() as session:
        outcomes = session.execute(
            select(AttemptOutcome.__table__).where(AttemptOutcome.org_id == org_id)
        ).mappings()
        spans = session.execute(
            select(RiskSpan.__table__).where(RiskSpan.org_id == org_id)
        ).mappings()
        sums = rollups.measure_sums(list(outcomes), list(spans))
    return +sums  # drop zero amounts


def status(engine: Engine, org_id: str) -> DerivedStatus | None:
    with make_sessionmaker(engine)() as session:
        found = session.get(DerivedStatus, org_id)
        if found is not None:
            session.expunge(found)
        return found


def _edit(clinic: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A second batch changing the first: every other attempt now answered two days after it
    was sent, every other appointment cancelled."""
    comms = []
    for i, c in enumerate(clinic["communications"]):
        if i % 2 == 0 and c["direction"] == "outbound":
            answered = (datetime.fromisoformat(c["sent_at"]) + timedelta(days=2)).isoformat()
            key = "connected_at" if c["channel"] == "phone" else "responded_at"
            comms.append({**c, key: answered, "failed_at": None})
    appts = [{**a, "status": "cancelled"} for i, a in enumerate(clinic["appointments"]) if i % 2]
    return {"patients": [], "appointments": appts, "communications": comms, "followups": []}


COMMON = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@COMMON
@given(clinic=clinics(), zone=st.sampled_from(ZONES), booked_engaged=st.booleans())
def test_writes_keep_the_rollups_equal_to_the_rows(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
        assert stored_sums(engine, org.id) == recounted(engine, org.id)
        r = client.post(org.url("/batch"), json=_edit(clinic), headers=org.headers())
        assert r.status_code == 200, r.text
    assert stored_sums(engine, org.id) == recounted(engine, org.id)
    found = status(engine, org.id)
    assert found is not None
    with make_sessionmaker(engine)() as session:
        latest = max(
            (
                at
                for row in session.execute(
                    select(AttemptOutcome.__table__).where(AttemptOutcome.org_id == org.id)
                ).mappings()
                for at in (row["horizon_at"], row["delivered_at"], row["converted_at"])
                if at is not None
            ),
            default=None,
        )
    if latest is not None:
        assert found.latest_at is not None and found.latest_at >= latest


@COMMON
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    booked_engaged=st.booleans(),
    after_hours=st.integers(0, 40),
    visits=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 20), st.integers(0, 30 * 24))),
)
def test_where_the_rollups_answer_they_equal_the_straight_computation(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
    after_hours: int,
    visits: list[tuple[int, int, int]],
) -> None:
    """as_of at or after every row's timestamps; some patients have a visit booked for
    later on as_of's day (or the next), whose spans must be taken as of as_of."""
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
        found = status(engine, org.id)
        assert found is not None
        as_of = (found.latest_at or BASE) + timedelta(hours=after_hours)
        patients = [p["id"] for p in clinic["patients"]]
        later = [
            {
                "id": f"v{n}",
                "patient_id": patients[who % len(patients)],
                "starts_at": (as_of + timedelta(hours=hours)).isoformat(),
                "status": "scheduled",
                "booked_at": (as_of - timedelta(hours=before)).isoformat(),
            }
            for n, (who, hours, before) in enumerate(visits)
        ]
        r = client.post(org.url("/batch"), json={"appointments": later}, headers=org.headers())
        assert r.status_code == 200, r.text
    _check_rollup_answers(engine, org, as_of.isoformat())


def _check_rollup_answers(engine: Engine, org: OrgFixture, as_of: str) -> None:
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of)
        assert Freshness(session, where).complete
        visiting = Freshness(session, where).visiting_ids
        event(f"patients visiting later that day: {min(len(visiting), 2)}+")
        for timeframe in ("last_7_days", "last_30_days", "last_90_days"):
            fast = outreach.performance(session, where, timeframe)
            assert fast == reference.performance_of(session, where, timeframe)
        for period in ("7d", "90d", "1y"):
            fast_trends = outreach.trends(session, where, period, METRICS)
            assert fast_trends == reference.trends_of(session, where, period, METRICS)
        for level, flag, sort_by in LIST_QUERIES[:4]:
            args = (level, flag, sort_by, 50, 0)
            fast_list = service.prioritized(session, where, *args)
            assert fast_list == reference.prioritized(session, where, *args)


def test_before_latest_at_or_under_other_settings_the_rollups_stand_aside(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    """An as_of before the latest timestamp, an org without a status (as after the
    migration that added it) and a settings change: the answers stay the straight ones."""
    body = {
        "patients": [{"id": "p1", "name": "Fake One", "status": "active"}],
        "communications": [
            {
                "id": "c1",
                "patient_id": "p1",
                "channel": "sms",
                "direction": "outbound",
                "sent_at": "2026-06-01T01:00:00+00:00",
                "responded_at": "2026-06-03T01:00:00+00:00",
            }
        ],
    }
    r = client.post(org.url("/batch"), json=body, headers=org.headers())
    assert r.status_code == 200, r.text
    found = status(engine, org.id)
    assert found is not None and found.latest_at is not None
    assert found.latest_at.isoformat() == "2026-06-03T01:00:00+00:00"
    with make_sessionmaker(engine)() as session:
        before = service.scope(session, org.id, "2026-06-02T00:00:00+00:00")
        assert not Freshness(session, before).complete
        after = service.scope(session, org.id, "2026-06-04T00:00:00+00:00")
        assert Freshness(session, after).complete
        first = outreach.performance(session, after, "last_7_days")
        totals = first.reengagement_metrics
        assert totals.outreach_attempts == 1 and totals.successful_contacts == 1
        session.execute(DerivedStatus.__table__.delete().where(DerivedStatus.org_id == org.id))
        session.commit()
    with make_sessionmaker(engine)() as session:
        after = service.scope(session, org.id, "2026-06-04T00:00:00+00:00")
        assert not Freshness(session, after).complete
        assert outreach.performance(session, after, "last_7_days") == first
    r = client.patch(org.url("/settings"), json={"timezone": "Asia/Tokyo"}, headers=org.headers())
    assert r.status_code == 200, r.text
    with make_sessionmaker(engine)() as session:
        after = service.scope(session, org.id, "2026-06-04T00:00:00+00:00")
        assert Freshness(session, after).complete
    assert stored_sums(engine, org.id) == recounted(engine, org.id)


@COMMON
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    booked_engaged=st.booleans(),
    after_hours=st.integers(0, 40),
    late=st.lists(st.tuples(st.booleans(), st.integers(1, 14 * 24)), min_size=1, max_size=4),
)
def test_a_few_patients_with_records_after_as_of_are_swapped_out_of_the_rollups(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    booked_engaged: bool,
    after_hours: int,
    late: list[tuple[bool, int]],
) -> None:
    """Patients whose records reach past as_of (a new patient whose only record is a
    follow-up due later, who starts then; or an SMS sent later): the roll-ups answer for the
    others, these come from their histories, and every figure is the straight one."""
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
        found = status(engine, org.id)
        assert found is not None
        as_of = (found.latest_at or BASE) + timedelta(hours=after_hours)
        patients = [p["id"] for p in clinic["patients"]]
        batch: dict[str, list[dict[str, Any]]] = {"patients": [], "followups": []}
        batch["communications"] = []
        for n, (new_patient, hours) in enumerate(late):
            at = (as_of + timedelta(hours=hours)).isoformat()
            if new_patient or not patients:
                pid = f"late{n}"
                batch["patients"].append({"id": pid, "name": "Fake Late", "status": "active"})
                batch["followups"].append({"id": f"lf{n}", "patient_id": pid, "due_at": at})
            else:
                batch["communications"].append(
                    {
                        "id": f"lc{n}",
                        "patient_id": patients[n % len(patients)],
                        "channel": "sms",
                        "direction": "outbound",
                        "sent_at": at,
                    }
                )
        r = client.post(org.url("/batch"), json=batch, headers=org.headers())
        assert r.status_code == 200, r.text
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of.isoformat())
        fresh = Freshness(session, where)
        assert not fresh.complete
        assert fresh.late_ids  # the path under test: the roll-ups without these patients
        counts, _ = rollups.counts_for(fresh)
        assert isinstance(counts, rollups.RollupCounts)
        for timeframe in ("last_7_days", "last_30_days", "last_90_days"):
            fast = outreach.performance(session, where, timeframe)
            assert fast == reference.performance_of(session, where, timeframe)
        for period in ("7d", "90d", "1y"):
            fast_trends = outreach.trends(session, where, period, METRICS)
            assert fast_trends == reference.trends_of(session, where, period, METRICS)
