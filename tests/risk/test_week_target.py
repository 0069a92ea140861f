"""This week's target and the list filters the dashboard's cards link to, on the overview's
hand-worked clinic (seen Tuesday 2026-06-30 12:00 UTC; the week began Monday 06-29).

At risk then: A (critical, score 75), B (high, 56), D (high, 51). E is engaged; C engaged
(booked); F discharged; G engaged (booked).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import OVERVIEW_AS_OF as AS_OF
from tests.factories import OrgFixture, _clinic, outbound
from tests.helpers import problems


def _load(client: TestClient, org: OrgFixture, weekly: int | None = None) -> None:
    r = client.post(org.url("/batch"), json=_clinic(), headers=org.headers())
    assert r.status_code == 200, r.text
    if weekly is not None:
        r = client.patch(
            org.url("/settings"), json={"weekly_contact_target": weekly}, headers=org.headers()
        )
        assert r.status_code == 200, r.text


def _get(client: TestClient, org: OrgFixture, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(
        f"/api/v1/reengagement/{org.id}{path}",
        params={"as_of": AS_OF, **params},
        headers=org.headers("staff"),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _send(client: TestClient, org: OrgFixture, cid: str, pid: str, at: str, **more: Any) -> None:
    record = outbound(cid, pid, "sms", at) | more
    r = client.put(org.url(f"/communications/{cid}"), json=record, headers=org.headers())
    assert r.status_code == 201, r.text


def test_the_target_is_the_first_at_risk_patients_and_the_rest_is_backlog(
    client: TestClient, org: OrgFixture
) -> None:
    _load(client, org, weekly=2)
    card = _get(client, org, "/overview")["this_weeks_target"]
    assert card == {
        "target": 2,
        "patients": 2,
        "contacted": 0,
        "waiting": 2,
        "week_start": "2026-06-29",
        "backlog_beyond": 1,  # D
    }
    listed = _get(client, org, "/patients/prioritized", target="this_week")
    assert [(p["id"], p["contacted_this_week"]) for p in listed["patients"]] == [
        ("A", False),
        ("B", False),
    ]
    assert listed["summary"]["total"] == card["patients"]
    assert listed["week_target"] == card
    # Outside the target's list, nobody is marked either way.
    plain = _get(client, org, "/patients/prioritized")
    assert {p["contacted_this_week"] for p in plain["patients"]} == {None}
    assert plain["week_target"] is None


def test_contacted_patients_stay_and_the_next_most_urgent_fills_in(
    client: TestClient, org: OrgFixture
) -> None:
    _load(client, org, weekly=2)
    # D, the least urgent, is texted on Monday; E (engaged) is texted too, which is not
    # progress on the at-risk backlog; A's SMS of Thursday 06-25 was last week.
    _send(client, org, "w-D", "D", "2026-06-29T10:00:00+00:00")
    _send(client, org, "w-E", "E", "2026-06-29T10:05:00+00:00")
    card = _get(client, org, "/overview")["this_weeks_target"]
    assert (card["patients"], card["contacted"], card["waiting"], card["backlog_beyond"]) == (
        2,
        1,
        1,
        1,  # B waits for next in line
    )
    listed = _get(client, org, "/patients/prioritized", target="this_week")
    assert [(p["id"], p["contacted_this_week"]) for p in listed["patients"]] == [
        ("A", False),
        ("D", True),
    ]
    # D answers at once and books: engaged, nothing to do, and still in the target as done.
    r = client.put(
        org.url("/communications/w-D"),
        json=outbound(
            "w-D",
            "D",
            "sms",
            "2026-06-29T10:00:00+00:00",
            delivered_at="2026-06-29T10:00:05+00:00",
            responded_at="2026-06-29T11:00:00+00:00",
        ),
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    booking = {
        "patient_id": "D",
        "starts_at": "2026-07-02T09:00:00+00:00",
        "booked_at": "2026-06-29T11:05:00+00:00",
        "status": "scheduled",
    }
    assert client.put(org.url("/appointments/b-D"), json=booking, headers=org.headers()).is_success
    listed = _get(client, org, "/patients/prioritized", target="this_week")
    d = next(p for p in listed["patients"] if p["id"] == "D")
    assert (d["risk_level"], d["recommended_action"], d["action_priority"]) == (
        "engaged",
        "none",
        5,
    )
    assert d["contacted_this_week"] is True
    card = _get(client, org, "/overview")["this_weeks_target"]
    assert (card["patients"], card["contacted"], card["backlog_beyond"]) == (2, 1, 1)
    # Filters apply within the target; the summary is over the filtered target.
    high = _get(client, org, "/patients/prioritized", target="this_week", risk_level="critical")
    assert [p["id"] for p in high["patients"]] == ["A"] and high["summary"]["total"] == 1
    # Contacted more than the target: all of them are the target, no one waits.
    _send(client, org, "w-B", "B", "2026-06-30T08:00:00+00:00")
    _send(client, org, "w-A", "A", "2026-06-30T08:30:00+00:00")
    card = _get(client, org, "/overview")["this_weeks_target"]
    assert (card["patients"], card["contacted"], card["waiting"], card["backlog_beyond"]) == (
        3,
        3,
        0,
        0,
    )


def test_the_cards_counts_are_the_lengths_of_the_lists_they_link_to(
    client: TestClient, org: OrgFixture
) -> None:
    _load(client, org)
    metrics = _get(client, org, "/risk-metrics")
    first = _get(client, org, "/patients/prioritized", action_priority=1)
    assert [p["id"] for p in first["patients"]] == ["A"]
    assert first["summary"]["total"] == metrics["immediate_actions_required"] == 1
    at_risk = _get(client, org, "/patients/prioritized", risk_level="at_risk")
    assert [p["id"] for p in at_risk["patients"]] == ["A", "B", "D"]
    assert at_risk["summary"]["total"] == at_risk["summary"]["total_at_risk"] == 3
    second = _get(client, org, "/patients/prioritized", action_priority=2)
    assert [p["id"] for p in second["patients"]] == ["B", "D"]
    assert _get(client, org, "/patients/prioritized", action_priority=5)["summary"]["total"] == 0


def test_bad_filter_values_are_named(client: TestClient, org: OrgFixture) -> None:
    url = f"/api/v1/reengagement/{org.id}/patients/prioritized"
    for params, field in (
        ({"action_priority": "0"}, "action_priority"),
        ({"action_priority": "urgent"}, "action_priority"),
        ({"target": "next_week"}, "target"),
        ({"risk_level": "at-risk"}, "risk_level"),
    ):
        r = client.get(url, params=params, headers=org.headers("staff"))
        assert r.status_code == 422, params
        assert list(problems(r)) == [field]


def test_the_target_size_is_a_setting(client: TestClient, org: OrgFixture) -> None:
    r = client.get(org.url("/settings"), headers=org.headers())
    assert r.json()["weekly_contact_target"] == 25
    for bad in (0, 1001, 2.5, "25", True):
        r = client.patch(
            org.url("/settings"), json={"weekly_contact_target": bad}, headers=org.headers()
        )
        assert r.status_code == 422, bad
        assert list(problems(r)) == ["weekly_contact_target"]
    r = client.patch(
        org.url("/settings"), json={"weekly_contact_target": 40}, headers=org.headers()
    )
    assert r.status_code == 200 and r.json()["weekly_contact_target"] == 40
