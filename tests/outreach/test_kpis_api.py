"""``/kpis``: the seed's four success metrics, on a clinic worked out by hand, and the
service against the reference on drawn clinics.

The clinic is in UTC, seen Tuesday 2026-06-30 12:00, with ``kpis.period_days`` 30: the
current period is 06-01..06-30, the default baseline 05-02..05-31.

- P1: last visit 05-01 (at risk from 05-15); an SMS on 05-25, unanswered: a 10-day wait in
  the baseline; 60 days now: critical.
- P2: last visit 05-10 (at risk from 05-24); a call on 06-03 connects and books 07-10: a
  10-day wait now, a contact that converts, a booking on 06-03.
- P3: last visit 06-01 (at risk from 06-15); an SMS on 06-17 answered the same day, no
  booking: a 2-day wait now, a contact that does not convert.
- P4: last visit 04-01 (at risk from 04-15); an SMS on 05-05 answered and booked for 05-12
  (completed): a 20-day wait, a converting contact and a booking, all in the baseline; at
  risk again from 05-26, not contacted: 49 days now, critical.
- P5, P6: visits on 06-28 and 06-25: engaged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from reengage import clock, reference
from reengage.db.engine import make_sessionmaker
from reengage.outreach import kpis as kpi_service
from reengage.risk import service
from tests.factories import OVERVIEW_AS_OF as AS_OF
from tests.factories import OrgFixture, load_clinic, load_kpi_clinic
from tests.helpers import problems
from tests.strategies import BASE, ZONES, drifting_clinics


def _kpis(client: TestClient, org: OrgFixture, role: str = "viewer") -> dict[str, Any]:
    r = client.get(
        f"/api/v1/reengagement/{org.id}/kpis",
        params={"as_of": AS_OF},
        headers=org.headers(role),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_four_metrics_on_a_hand_worked_clinic(client: TestClient, org: OrgFixture) -> None:
    load_kpi_clinic(client, org)
    assert _kpis(client, org) == {
        "organization_id": org.id,
        "last_updated": "2026-06-30T12:00:00Z",
        "period": {"start": "2026-06-01", "end": "2026-06-30", "days": 30, "source": "last_days"},
        "baseline": {
            "start": "2026-05-02",
            "end": "2026-05-31",
            "days": 30,
            "source": "previous_period",
        },
        "kpis": {
            # Waits of 10 (P2) and 2 (P3) days against 10 (P1) and 20 (P4): 6 against 15.
            "staff_efficiency": {
                "value": 6.0,
                "baseline": 15.0,
                "change_pct": -60.0,
                "target": 50.0,
                "met": True,
                "sample": 2,
                "baseline_sample": 2,
            },
            # P2's call converts, P3's reply does not; in the baseline P4's did.
            "reengagement_rate": {
                "value": 50.0,
                "baseline": 100.0,
                "change_pct": None,
                "target": 70.0,
                "met": False,
                "sample": 2,
                "baseline_sample": 1,
            },
            # P1 and P4 critical, of six active patients.
            "patient_retention": {
                "value": 33.3,
                "baseline": None,
                "change_pct": None,
                "target": 5.0,
                "met": False,
                "sample": 6,
                "baseline_sample": None,
            },
            # One booking from outreach in each 30 days: no increase.
            "revenue_impact": {
                "value": 1.0,
                "baseline": 1.0,
                "change_pct": 0.0,
                "target": 25.0,
                "met": False,
                "sample": 1,
                "baseline_sample": 1,
            },
        },
        "revenue_impact_source": "baseline",
        "checkin_uplift": None,
    }


def test_a_baseline_the_org_sets_is_compared_per_day(client: TestClient, org: OrgFixture) -> None:
    # 04-01..05-31, 61 days: the same two waits and one booking, so 1 in 30 days against
    # 1 in 61: (61/30 - 1) = +103.3%.
    load_kpi_clinic(client, org, baseline_start="2026-04-01", baseline_end="2026-05-31")
    body = _kpis(client, org)
    assert body["baseline"] == {
        "start": "2026-04-01",
        "end": "2026-05-31",
        "days": 61,
        "source": "setting",
    }
    revenue = body["kpis"]["revenue_impact"]
    assert (revenue["change_pct"], revenue["met"]) == (103.3, True)
    assert body["kpis"]["staff_efficiency"]["baseline"] == 15.0
    # Targets are settings too: at 70%, the 60% shorter wait no longer meets it.
    r = client.patch(
        org.url("/settings"),
        json={"kpis": {"targets": {"time_to_first_outreach_reduction_pct": 70}}},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    efficiency = _kpis(client, org)["kpis"]["staff_efficiency"]
    assert (efficiency["target"], efficiency["met"]) == (70.0, False)


def test_a_baseline_not_yet_over_is_not_compared(client: TestClient, org: OrgFixture) -> None:
    load_kpi_clinic(client, org, baseline_start="2026-06-01", baseline_end="2026-07-31")
    body = _kpis(client, org, role="staff")
    assert body["baseline"] is None
    for name in ("staff_efficiency", "revenue_impact"):
        kpi = body["kpis"][name]
        assert (kpi["baseline"], kpi["change_pct"], kpi["met"]) == (None, None, None), name
    # The two metrics without a baseline are still judged.
    assert body["kpis"]["reengagement_rate"]["met"] is False


def test_an_empty_org_meets_nothing_and_claims_nothing(client: TestClient, org: OrgFixture) -> None:
    body = client.get(f"/api/v1/reengagement/{org.id}/kpis", headers=org.headers()).json()
    assert body["period"]["days"] == 90 and body["baseline"]["source"] == "previous_period"
    for name, kpi in body["kpis"].items():
        assert kpi["met"] is None, name
    assert body["kpis"]["revenue_impact"]["value"] == 0.0


def test_bad_kpi_settings_are_refused_by_name(client: TestClient, org: OrgFixture) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"period_days": 3}, "kpis.period_days"),
        ({"baseline_start": "2026-01-01"}, "kpis"),
        ({"baseline_start": "2026-03-01", "baseline_end": "2026-01-01"}, "kpis"),
        ({"baseline_start": 20260101, "baseline_end": "2026-03-01"}, "kpis.baseline_start"),
        ({"baseline_start": "March", "baseline_end": "2026-03-01"}, "kpis.baseline_start"),
        ({"targets": {"critical_share": 101}}, "kpis.targets.critical_share"),
        ({"targets": {"critical_share": "5"}}, "kpis.targets.critical_share"),
        ({"targets": {"bookings": 5}}, "kpis.targets.bookings"),
    ]
    for kpis, field in cases:
        r = client.patch(org.url("/settings"), json={"kpis": kpis}, headers=org.headers())
        assert list(problems(r)) == [field], kpis
    r = client.get(org.url("/settings"), headers=org.headers())
    assert r.json()["kpis"] == {
        "period_days": 90,
        "baseline_start": None,
        "baseline_end": None,
        "targets": {
            "time_to_first_outreach_reduction_pct": 50.0,
            "contact_conversion_rate": 70.0,
            "critical_share": 5.0,
            "outreach_bookings_increase_pct": 25.0,
        },
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=drifting_clinics(),
    zone=st.sampled_from(ZONES),
    as_of_hours=st.integers(-30 * 24, 10 * 24),
    period_days=st.integers(7, 40),
    booked_engaged=st.booleans(),
)
def test_the_service_equals_the_straight_computation(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: int,
    period_days: int,
    booked_engaged: bool,
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = load_clinic(client, engine, clinic, zone, booked_engaged)
        r = client.patch(
            org.url("/settings"),
            json={"kpis": {"period_days": period_days}},
            headers=org.headers(),
        )
        assert r.status_code == 200, r.text
    as_of = (BASE + timedelta(hours=as_of_hours)).isoformat()
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org.id, as_of)
        found = kpi_service.kpis(session, where)
        assert found == reference.kpis_of(session, where)
    k = found.kpis
    event(f"waits measured: {min(k.staff_efficiency.sample, 2)}+")
    event(f"baseline waits: {min(k.staff_efficiency.baseline_sample or 0, 1)}+")
    event(f"bookings: {min(k.revenue_impact.sample, 1)}+")
