"""``/overview``: the dashboard's four cards, on a clinic worked out by hand."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import OrgFixture, appointment, outbound, patient
from tests.helpers import problems

AS_OF = "2026-06-30T12:00:00+00:00"


def _visit(aid: str, pid: str, day: str, status: str = "completed") -> dict[str, Any]:
    return appointment(aid, pid, starts_at=f"{day}T10:00:00+00:00", booked_at=None, status=status)


def _clinic() -> dict[str, list[dict[str, Any]]]:
    """An org in UTC, seen at 2026-06-30 12:00 (the last 7 days: 06-24..06-30; the last 30:
    06-01..06-30; the 30 before: 05-02..05-31).

    - A: last visit 05-01 (60 days: critical, at risk since 05-15); SMS on 06-25.
    - B: last visit 05-20 (41 days: high); never contacted.
    - C: last visit 05-01 (at risk since 05-15); a call on 06-10 connects and books a visit
      for 07-05: reached while at risk, reengaged that day, engaged now.
    - D: last visit 05-25 (36 days: high, at risk since 06-08); an SMS on 06-20, unanswered.
    - E: a visit on 06-28 (engaged).
    - F: discharged; would be critical, but is not in the population.
    - G: last visit 04-01 (at risk since 04-15); an SMS on 05-20, answered on 05-21 with a
      booking for 07-10: the previous window's one reached and reengaged patient.
    """
    patients = [patient(pid, registered_at="2026-01-05T09:00:00+00:00") for pid in "ABCDEG"] + [
        patient("F", status="discharged", registered_at="2026-01-05T09:00:00+00:00")
    ]
    appointments = [
        _visit("a-A", "A", "2026-05-01"),
        _visit("a-B", "B", "2026-05-20"),
        _visit("a-C", "C", "2026-05-01"),
        appointment(
            "a-C2",
            "C",
            starts_at="2026-07-05T10:00:00+00:00",
            booked_at="2026-06-10T10:30:00+00:00",
            status="scheduled",
        ),
        _visit("a-D", "D", "2026-05-25"),
        _visit("a-E", "E", "2026-06-28"),
        _visit("a-F", "F", "2026-04-01"),
        _visit("a-G", "G", "2026-04-01"),
        appointment(
            "a-G2",
            "G",
            starts_at="2026-07-10T10:00:00+00:00",
            booked_at="2026-05-21T11:00:00+00:00",
            status="scheduled",
        ),
    ]
    communications = [
        outbound("c-A", "A", "sms", "2026-06-25T09:00:00+00:00"),
        outbound(
            "c-C",
            "C",
            "phone",
            "2026-06-10T10:00:00+00:00",
            connected_at="2026-06-10T10:00:30+00:00",
        ),
        outbound("c-D", "D", "sms", "2026-06-20T09:00:00+00:00"),
        outbound(
            "c-G",
            "G",
            "sms",
            "2026-05-20T09:00:00+00:00",
            delivered_at="2026-05-20T09:00:05+00:00",
            responded_at="2026-05-21T08:00:00+00:00",
        ),
    ]
    return {"patients": patients, "appointments": appointments, "communications": communications}


def test_the_four_cards_on_a_hand_worked_clinic(client: TestClient, org: OrgFixture) -> None:
    r = client.post(org.url("/batch"), json=_clinic(), headers=org.headers())
    assert r.status_code == 200, r.text
    base = f"/api/v1/reengagement/{org.id}"
    r = client.get(f"{base}/overview", params={"as_of": AS_OF}, headers=org.headers("viewer"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "organization_id": org.id,
        "last_updated": "2026-06-30T12:00:00Z",
        "immediate_action_required": 1,  # A (critical)
        "this_weeks_target": 2,  # B and D: at risk, no attempt since 06-24
        "reengagement_success_rate": {
            "rate": 33.3,  # C of A, C, D
            "patients_reached": 3,
            "patients_reengaged": 1,
            "period_start": "2026-06-01",
            "period_end": "2026-06-30",
        },
        "previous_success_rate": {
            "rate": 100.0,  # G of G
            "patients_reached": 1,
            "patients_reengaged": 1,
            "period_start": "2026-05-02",
            "period_end": "2026-05-31",
        },
        "success_rate_change": -66.7,
        "success_rate_trend": "down",
    }
    # The cards agree with the endpoints they share figures with.
    metrics = client.get(f"{base}/risk-metrics", params={"as_of": AS_OF}, headers=org.headers())
    assert metrics.json()["immediate_actions_required"] == 1
    assert metrics.json()["risk_summary"] == {
        "critical_risk": 1,
        "high_risk": 2,
        "medium_risk": 0,
        "low_risk": 0,
        "engaged": 3,
    }


def test_an_attempt_this_week_takes_a_patient_off_the_target(
    client: TestClient, org: OrgFixture
) -> None:
    r = client.post(org.url("/batch"), json=_clinic(), headers=org.headers())
    assert r.status_code == 200, r.text
    url = f"/api/v1/reengagement/{org.id}/overview"
    sms = outbound("c-B", "B", "sms", "2026-06-30T09:00:00+00:00")
    assert (
        client.put(org.url("/communications/c-B"), json=sms, headers=org.headers()).status_code
        == 201
    )
    body = client.get(url, params={"as_of": AS_OF}, headers=org.headers()).json()
    assert body["this_weeks_target"] == 1  # D only
    # B, at risk since 06-03, is now reached too (not reengaged).
    assert body["reengagement_success_rate"]["patients_reached"] == 4
    assert body["reengagement_success_rate"]["rate"] == 25.0


def test_an_empty_org_has_no_rates(client: TestClient, org: OrgFixture) -> None:
    body = client.get(
        f"/api/v1/reengagement/{org.id}/overview", headers=org.headers("staff")
    ).json()
    assert body["immediate_action_required"] == 0
    assert body["this_weeks_target"] == 0
    assert body["reengagement_success_rate"]["rate"] is None
    assert body["success_rate_change"] is None
    assert body["success_rate_trend"] is None


def test_access_and_parameters(client: TestClient, org: OrgFixture, other_org: OrgFixture) -> None:
    url = f"/api/v1/reengagement/{org.id}/overview"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=org.headers("ingest")).status_code == 403
    assert client.get(url, headers=other_org.headers()).status_code == 404
    assert "as_of" in problems(
        client.get(url, params={"as_of": "yesterday"}, headers=org.headers())
    )
    assert "limit" in problems(client.get(url, params={"limit": "5"}, headers=org.headers()))
