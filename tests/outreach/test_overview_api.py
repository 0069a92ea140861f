"""``/overview``: the dashboard's four cards, on a clinic worked out by hand."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import OVERVIEW_AS_OF as AS_OF
from tests.factories import OrgFixture, _clinic, outbound
from tests.helpers import problems


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
        # Monday 06-29 began the week; A, B and D are at risk, no one contacted since.
        "this_weeks_target": {
            "target": 25,
            "patients": 3,
            "contacted": 0,
            "waiting": 3,
            "week_start": "2026-06-29",
            "backlog_beyond": 0,
        },
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


def test_an_attempt_this_week_counts_as_progress_on_the_target(
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
    # B, high just before the SMS, is contacted and stays in the target.
    assert body["this_weeks_target"] == {
        "target": 25,
        "patients": 3,
        "contacted": 1,
        "waiting": 2,
        "week_start": "2026-06-29",
        "backlog_beyond": 0,
    }
    # B, at risk since 06-03, is now reached too (not reengaged).
    assert body["reengagement_success_rate"]["patients_reached"] == 4
    assert body["reengagement_success_rate"]["rate"] == 25.0


def test_an_empty_org_has_no_rates(client: TestClient, org: OrgFixture) -> None:
    body = client.get(
        f"/api/v1/reengagement/{org.id}/overview", headers=org.headers("staff")
    ).json()
    assert body["immediate_action_required"] == 0
    assert body["this_weeks_target"]["patients"] == 0
    assert body["this_weeks_target"]["target"] == 25
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
