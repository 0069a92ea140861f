"""Each alert rule raises, dedupes and resolves itself when its condition clears, on both
databases: records go in through the API, the rules are judged by the scheduler's own jobs
(``alerts-checks`` after a write, ``alerts-evaluate`` for the whole org)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from reengage import clock
from reengage.db.engine import make_sessionmaker
from reengage.jobs import catalog
from reengage.models import AlertCheck, AuditEntry
from tests.alerts.helpers import alerts_of, run_job
from tests.factories import OrgFixture, appointment, communication, followup, patient

NOW = datetime.fromisoformat("2026-03-15T12:00:00+00:00")


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


def day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def put(client: TestClient, org: OrgFixture, kind: str, record: dict[str, Any]) -> None:
    r = client.put(org.url(f"/{kind}/{record['id']}"), json=record, headers=org.headers())
    assert r.status_code in (200, 201), r.text


def seen_last(client: TestClient, org: OrgFixture, pid: str, days_ago: float) -> None:
    """A patient whose last contact was a completed visit ``days_ago`` days ago."""
    put(client, org, "patients", patient(pid))
    put(
        client,
        org,
        "appointments",
        appointment(f"{pid}-seen", pid, starts_at=day(days_ago), booked_at=day(days_ago + 10)),
    )


def evaluate(engine: Engine, org: OrgFixture) -> None:
    assert run_job(engine, catalog.BY_NAME["alerts-evaluate"], org.id) == "ran"


def checks(engine: Engine, org: OrgFixture) -> None:
    run_job(engine, catalog.BY_NAME["alerts-checks"], org.id)


def test_a_missed_appointment_raises_once_and_resolves_when_rebooked(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 3)
    put(
        client, org, "appointments", appointment("a-miss", "p1", starts_at=day(2), status="no_show")
    )
    checks(engine, org)
    found = alerts_of(client, org)
    assert [(a["rule"], a["patient_id"], a["state"]) for a in found] == [
        ("missed_appointment", "p1", "open")
    ]
    assert found[0]["detail"]["tier"] == "engaged"
    # Judged again, by the write's check and the whole org's evaluation: still one.
    checks(engine, org)
    with clock.frozen_at(NOW + timedelta(minutes=6)):
        evaluate(engine, org)
    assert [a["id"] for a in alerts_of(client, org)] == [found[0]["id"]]
    # Rebooked: the rule stops holding, and the alert resolves itself.
    put(
        client,
        org,
        "appointments",
        appointment("a-next", "p1", starts_at=day(-7), booked_at=day(0), status="scheduled"),
    )
    checks(engine, org)
    assert alerts_of(client, org) == []
    resolved = alerts_of(client, org, state="resolved")
    assert [(a["id"], a["resolved_automatically"], a["resolved_by"]) for a in resolved] == [
        (found[0]["id"], True, None)
    ]
    # The booking is cancelled: nothing booked again, the miss still recent, so it is
    # raised again (a new alert: the first one resolved).
    put(
        client,
        org,
        "appointments",
        appointment("a-next", "p1", starts_at=day(-7), booked_at=day(0), status="cancelled"),
    )
    checks(engine, org)
    again = alerts_of(client, org)
    assert [a["rule"] for a in again] == ["missed_appointment"]
    assert again[0]["id"] != found[0]["id"]


def test_a_failed_contact_resolves_when_the_patient_replies(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 20)
    put(
        client,
        org,
        "communications",
        communication(
            "c-fail",
            "p1",
            sent_at=day(2),
            delivered_at=None,
            responded_at=None,
            failed_at=day(2),
        ),
    )
    checks(engine, org)
    assert [(a["rule"], a["patient_id"]) for a in alerts_of(client, org)] == [
        ("failed_contact", "p1")
    ]
    reply = communication(
        "c-reply", "p1", direction="inbound", sent_at=day(1), delivered_at=None, responded_at=None
    )
    put(client, org, "communications", reply)
    checks(engine, org)
    assert alerts_of(client, org) == []
    assert [a["rule"] for a in alerts_of(client, org, state="resolved")] == ["failed_contact"]


def test_an_overdue_followup_resolves_when_it_is_done(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 3)
    put(
        client,
        org,
        "appointments",
        appointment("a-next", "p1", starts_at=day(-5), booked_at=day(3), status="scheduled"),
    )
    put(client, org, "followups", followup("f1", "p1", due_at=day(1)))
    checks(engine, org)
    assert [(a["rule"], a["patient_id"]) for a in alerts_of(client, org)] == [
        ("followup_overdue", "p1")
    ]
    put(client, org, "followups", followup("f1", "p1", due_at=day(1), completed_at=day(0.5)))
    checks(engine, org)
    assert alerts_of(client, org) == []


def test_turning_critical_raises_for_news_not_for_the_backlog(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p-new", 47)  # critical from 45 days: two days ago
    seen_last(client, org, "p-old", 120)  # critical for months: on the list, not news
    seen_last(client, org, "p-ok", 2)
    evaluate(engine, org)
    by_rule = {(a["rule"], a["patient_id"]) for a in alerts_of(client, org)}
    assert ("turned_critical", "p-new") in by_rule
    assert ("turned_critical", "p-old") not in by_rule
    # Two of three active patients are critical: far above 5%.
    org_alerts = [a for a in alerts_of(client, org) if a["subject_type"] == "org"]
    assert [
        (a["rule"], a["detail"]["critical"], a["detail"]["population"]) for a in org_alerts
    ] == [("critical_share", 2, 3)]
    assert org_alerts[0]["detail"]["critical_pct"] == 66.7
    # A week on, p-new's alert stays open while they are critical: it is not a new one.
    with clock.frozen_at(NOW + timedelta(days=8)):
        evaluate(engine, org)
        kept = [a for a in alerts_of(client, org) if a["rule"] == "turned_critical"]
        assert [a["patient_id"] for a in kept] == ["p-new"]
        # Seen again: no longer critical, and the alert resolves.
        put(
            client,
            org,
            "appointments",
            appointment("p-new-back", "p-new", starts_at=day(-7.5), booked_at=day(-7)),
        )
        checks(engine, org)
        assert [a["rule"] for a in alerts_of(client, org) if a["patient_id"] == "p-new"] == []


def test_the_critical_share_rule_follows_its_setting(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 60)
    seen_last(client, org, "p2", 2)
    evaluate(engine, org)
    assert [a["rule"] for a in alerts_of(client, org, rule="critical_share")] == ["critical_share"]
    r = client.patch(
        org.url("/alerts/rules"), json={"critical_share": {"above_pct": 50}}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    with clock.frozen_at(NOW + timedelta(minutes=5)):
        evaluate(engine, org)
    assert alerts_of(client, org, rule="critical_share") == []  # 50% is not above 50%
    # Switched off, a rule raises nothing.
    r = client.patch(
        org.url("/alerts/rules"),
        json={"critical_share": {"above_pct": 5, "enabled": False}},
        headers=org.headers(),
    )
    assert r.status_code == 200
    with clock.frozen_at(NOW + timedelta(minutes=10)):
        evaluate(engine, org)
    assert alerts_of(client, org, rule="critical_share") == []


def test_low_conversion_is_judged_only_with_contacts(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 3)
    evaluate(engine, org)
    assert alerts_of(client, org, rule="low_conversion") == []  # no contacts: not judged
    # A successful contact that booked nothing: 0% converted, under 70%.
    put(
        client,
        org,
        "communications",
        communication("c1", "p1", sent_at=day(2), delivered_at=day(2), responded_at=day(1.9)),
    )
    with clock.frozen_at(NOW + timedelta(minutes=5)):
        evaluate(engine, org)
    found = alerts_of(client, org, rule="low_conversion")
    assert [
        (a["detail"]["conversion_rate"], a["detail"]["successful_contacts"]) for a in found
    ] == [(0.0, 1)]
    # It books: 100% converted, and the alert resolves itself.
    put(
        client,
        org,
        "appointments",
        appointment("a-booked", "p1", starts_at=day(-3), booked_at=day(1.8), status="scheduled"),
    )
    with clock.frozen_at(NOW + timedelta(minutes=10)):
        evaluate(engine, org)
    assert alerts_of(client, org, rule="low_conversion") == []


def test_at_risk_rising_three_days_running(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    # At risk from 14 days without contact: one more patient at the end of each of the
    # last three days (none four days ago).
    for pid, days_ago in (("p1", 17), ("p2", 16), ("p3", 15)):
        seen_last(client, org, pid, days_ago)
    seen_last(client, org, "p0", 1)
    evaluate(engine, org)
    found = alerts_of(client, org, rule="at_risk_rising")
    assert [a["detail"]["at_risk_day_ends"] for a in found] == [[0, 1, 2, 3]]
    # Two days running is not three.
    r = client.patch(
        org.url("/alerts/rules"), json={"at_risk_rising": {"days": 4}}, headers=org.headers()
    )
    assert r.status_code == 200
    with clock.frozen_at(NOW + timedelta(minutes=5)):
        evaluate(engine, org)
    assert alerts_of(client, org, rule="at_risk_rising") == []


def test_resolved_by_hand_is_not_raised_again_until_the_rule_clears(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 3)
    put(client, org, "followups", followup("f1", "p1", due_at=day(1)))
    checks(engine, org)
    (alert,) = alerts_of(client, org, rule="followup_overdue")
    r = client.post(org.url(f"/alerts/{alert['id']}/acknowledge"), headers=org.headers("staff"))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["acknowledged_by"]) == (
        "acknowledged",
        org.key_ids["staff"],
    )
    r = client.post(org.url(f"/alerts/{alert['id']}/resolve"), headers=org.headers("staff"))
    assert (r.json()["state"], r.json()["resolved_by"], r.json()["resolved_automatically"]) == (
        "resolved",
        org.key_ids["staff"],
        False,
    )
    assert (
        client.post(org.url(f"/alerts/{alert['id']}/resolve"), headers=org.headers()).status_code
        == 409
    )
    # Still overdue: judged again, it is not raised again.
    with clock.frozen_at(NOW + timedelta(minutes=5)):
        evaluate(engine, org)
    assert alerts_of(client, org) == []
    # Done, then a new overdue one: raised again.
    put(client, org, "followups", followup("f1", "p1", due_at=day(1), completed_at=day(0.5)))
    checks(engine, org)
    put(client, org, "followups", followup("f2", "p1", due_at=day(0.2)))
    checks(engine, org)
    assert [a["rule"] for a in alerts_of(client, org)] == ["followup_overdue"]
    # Each action is in the audit log, under the key that took it, naming the patient.
    with make_sessionmaker(engine)() as session:
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.key_id, AuditEntry.patient_ids)
            .where(
                AuditEntry.org_id == org.id,
                AuditEntry.action.in_(("alert_ack", "alert_resolve")),
            )
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("alert_ack", org.key_ids["staff"], ["p1"]),
        ("alert_resolve", org.key_ids["staff"], ["p1"]),
    ]


def test_a_write_queues_its_patients_and_a_rolled_back_one_does_not(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    def queued() -> int:
        with make_sessionmaker(engine)() as session:
            return int(session.scalar(select(func.count()).where(AlertCheck.org_id == org.id)) or 0)

    seen_last(client, org, "p1", 3)
    assert queued() == 1
    checks(engine, org)
    assert queued() == 0
    # A batch refused as a whole queues nobody.
    bad = {"patients": [patient("p2")], "appointments": [appointment("a9", "nobody")]}
    assert client.post(org.url("/batch"), json=bad, headers=org.headers()).status_code == 422
    assert queued() == 0


def test_viewers_see_counts_and_staff_see_the_inbox(
    client: TestClient, engine: Engine, org: OrgFixture, other_org: OrgFixture
) -> None:
    seen_last(client, org, "p1", 3)
    put(
        client, org, "appointments", appointment("a-miss", "p1", starts_at=day(2), status="no_show")
    )
    checks(engine, org)
    r = client.get(org.url("/alerts/summary"), headers=org.headers("viewer"))
    assert r.status_code == 200
    assert r.json()["open"]["missed_appointment"] == 1 and r.json()["total_open"] == 1
    assert "p1" not in r.text
    assert client.get(org.url("/alerts"), headers=org.headers("viewer")).status_code == 403
    (alert,) = alerts_of(client, org)
    # Another org's key cannot see or touch it, as if it did not exist.
    theirs = client.get(org.url(f"/alerts/{alert['id']}"), headers=other_org.headers())
    assert theirs.status_code == 404
    r = client.get(other_org.url(f"/alerts/{alert['id']}"), headers=other_org.headers())
    assert r.status_code == 404 and r.json() == {"detail": f"no alert '{alert['id']}' in this org"}
    assert alerts_of(client, other_org) == []
