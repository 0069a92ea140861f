"""GET /risk-metrics and GET /patients/prioritized on hand-worked clinics, through HTTP.

Every expected number below was worked out by hand from the contract ("Time and contact",
"Risk tiers", "Alerts and actions", the two endpoints), not from the code: the comments next
to each patient show the working. All records go in through POST /batch.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reengage.models import AuditEntry
from reengage.risk import service
from tests.factories import (
    OrgFixture,
    appointment,
    communication,
    followup,
    make_org,
    patient,
)
from tests.helpers import problems

AS_OF = "2026-06-15T12:00:00Z"  # org timezone UTC: as_of's date is 2026-06-15
REGISTERED = "2026-01-05T09:00:00Z"
LIST = "/patients/prioritized"
METRICS = "/risk-metrics"


def analytics_url(org: OrgFixture, path: str) -> str:
    return f"/api/v1/reengagement/{org.id}{path}"


def post_batch(client: TestClient, org: OrgFixture, body: dict[str, Any]) -> None:
    r = client.post(org.url("/batch"), json=body, headers=org.headers("ingest"))
    assert r.status_code == 200, r.text


def get(client: TestClient, org: OrgFixture, path: str, role: str = "staff", **params: Any) -> Any:
    r = client.get(analytics_url(org, path), params=params, headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def listed(
    client: TestClient, org: OrgFixture, as_of: str = AS_OF, **params: Any
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """(patient ids in order, {id: entry}, summary) of one page of the list."""
    body = get(client, org, LIST, as_of=as_of, **params)
    ids = [p["id"] for p in body["patients"]]
    return ids, {p["id"]: p for p in body["patients"]}, body["summary"]


def patch_settings(client: TestClient, org: OrgFixture, body: dict[str, Any]) -> None:
    r = client.patch(org.url("/settings"), json=body, headers=org.headers("admin"))
    assert r.status_code == 200, r.text


def person(pid: str, **overrides: Any) -> dict[str, Any]:
    """A patient with phone and email, no preferences or opt-outs unless told."""
    base = patient(
        pid,
        name=f"Patient {pid}",
        phone=f"+614000000{pid[-2:]}",
        email=f"{pid}@example.org",
        registered_at=REGISTERED,
        communication_preferences=[],
        opt_outs=[],
        health_conditions=[f"condition {pid}"],
    )
    return base | overrides


def sms(cid: str, pid: str, sent_at: str, **timestamps: Any) -> dict[str, Any]:
    """An outbound sms carrying only the timestamps given."""
    return (
        communication(
            cid, pid, channel="sms", sent_at=sent_at, delivered_at=None, responded_at=None
        )
        | timestamps
    )


def appt(aid: str, pid: str, starts_at: str, status: str, booked_at: str | None) -> dict[str, Any]:
    return appointment(aid, pid, starts_at=starts_at, status=status, booked_at=booked_at)


# --- the clinic ------------------------------------------------------------------------------
#
# as_of 2026-06-15T12:00Z, org in UTC, default settings. Days since last contact, tier,
# flags, action and score for each patient:
#
# p01 sms responded 06-12 10:00          3 d  engaged  no_future          book_next (4)   18
# p02 completed visit 06-05              10 d  low      no_future          routine (4)     25
# p03 call connected 05-26, sms 06-11    20 d  medium   no_future          checkin (3)     35
#     unanswered: next_action 06-11 + 7 = 06-18
# p04 completed visit 05-11 (and an      35 d  high     no_future          sms+call (2)    50
#     inbound sms 06-17, after as_of)
# p05 completed 04-16, no_show 03-20    60 d  critical no_future          phone call (1)  80
#     (missed in 90 d: +5), sms 05-01 unanswered, call 06-16 after as_of
# p06 completed 03-01, booked 03-01      106 d engaged  (booked 06-25)     none: not listed
#     09:30 for 06-25
# p07 discharged                         not in the population
# p08 only an inbound sms 06-12 19:00,   3 d  engaged  no_future          book_next (4)   18
#     no registered_at (start = that sms)
# p09 no_show 06-10, booked 06-01,       14 d  medium   missed, no_future  reschedule (1)  34
#     no phone
# p10 completed 06-03, sms failed 06-12  12 d  low      failed, no_future  alternate (2)   32
# p11 email responded 06-10 12:30,       5 d  engaged  overdue            followup (2)    10
#     booked 06-01 for 06-25, followup due 06-12 open: next_action 06-12
# p12 registered 06-20                   not yet in the data
#
# success_rate_prediction: qualifying attempts (sent 03-18..06-01) are p03's call 05-26
# (p03 was critical before it: 141 days since registering; it connected: 1/1), p05's sms
# 05-01 (medium before it: 15 days since 04-16; no contact after: 0/1) and discharged p07's
# sms 04-20 (high before it: 44 days since 03-07; 0/1). The list's at-risk patients are
# critical 1 (p05), high 1 (p04), medium 2 (p03, p09): (1*100 + 1*0 + 2*0) / 4 = 25.0.


def clinic() -> dict[str, list[dict[str, Any]]]:
    return {
        "patients": [
            person("p01", communication_preferences=["sms", "email"]),
            person("p02"),
            person("p03"),
            person("p04", opt_outs=["sms"], communication_preferences=["email", "phone"]),
            person("p05"),
            person("p06"),
            person("p07", status="discharged"),
            person("p08", registered_at=None),
            person("p09", phone=None, communication_preferences=["sms"]),
            person("p10", opt_outs=["email"], communication_preferences=["sms"]),
            person("p11"),
            person("p12", registered_at="2026-06-20T09:00:00Z"),
        ],
        "appointments": [
            appt("a02", "p02", "2026-06-05T14:00:00Z", "completed", "2026-05-20T10:00:00Z"),
            appt("a04", "p04", "2026-05-11T09:00:00Z", "completed", "2026-04-01T09:00:00Z"),
            appt("a05a", "p05", "2026-04-16T10:00:00Z", "completed", "2026-04-02T10:00:00Z"),
            appt("a05b", "p05", "2026-03-20T10:00:00Z", "no_show", "2026-03-01T10:00:00Z"),
            appt("a06a", "p06", "2026-03-01T09:00:00Z", "completed", "2026-02-15T09:00:00Z"),
            appt("a06b", "p06", "2026-06-25T09:00:00Z", "scheduled", "2026-03-01T09:30:00Z"),
            appt("a07", "p07", "2026-03-07T09:00:00Z", "completed", "2026-02-20T09:00:00Z"),
            appt("a09", "p09", "2026-06-10T09:00:00Z", "no_show", "2026-06-01T09:00:00Z"),
            appt("a10", "p10", "2026-06-03T09:00:00Z", "completed", "2026-05-25T09:00:00Z"),
            appt("a11", "p11", "2026-06-25T23:00:00Z", "scheduled", "2026-06-01T10:00:00Z"),
        ],
        "communications": [
            sms(
                "c01",
                "p01",
                "2026-06-12T09:00:00Z",
                delivered_at="2026-06-12T09:00:05Z",
                responded_at="2026-06-12T10:00:00Z",
            ),
            communication(
                "c03a",
                "p03",
                channel="phone",
                sent_at="2026-05-26T14:55:00Z",
                delivered_at=None,
                responded_at=None,
                connected_at="2026-05-26T15:00:00Z",
            ),
            sms("c03b", "p03", "2026-06-11T09:00:00Z", delivered_at="2026-06-11T09:00:05Z"),
            communication(
                "c04",
                "p04",
                direction="inbound",
                sent_at="2026-06-17T08:00:00Z",
                delivered_at=None,
                responded_at=None,
            ),
            sms("c05a", "p05", "2026-05-01T09:00:00Z", delivered_at="2026-05-01T09:00:05Z"),
            communication(
                "c05b",
                "p05",
                channel="phone",
                sent_at="2026-06-16T09:00:00Z",
                delivered_at=None,
                responded_at=None,
                connected_at="2026-06-16T09:02:00Z",
            ),
            sms("c07", "p07", "2026-04-20T09:00:00Z", delivered_at="2026-04-20T09:00:05Z"),
            communication(
                "c08",
                "p08",
                direction="inbound",
                sent_at="2026-06-12T19:00:00Z",
                delivered_at=None,
                responded_at=None,
            ),
            sms(
                "c10",
                "p10",
                "2026-06-12T08:00:00Z",
                failed_at="2026-06-12T08:01:00Z",
                failure_reason="carrier rejected",
            ),
            communication(
                "c11",
                "p11",
                channel="email",
                sent_at="2026-06-10T08:00:00Z",
                delivered_at="2026-06-10T08:00:02Z",
                opened_at="2026-06-10T09:00:00Z",
                responded_at="2026-06-10T12:30:00Z",
            ),
            communication(
                "c12",
                "p12",
                direction="inbound",
                sent_at="2026-06-21T09:00:00Z",
                delivered_at=None,
                responded_at=None,
            ),
        ],
        "followups": [
            followup("f11a", "p11", due_at="2026-06-12T09:00:00Z"),
            followup(
                "f11b", "p11", due_at="2026-06-01T09:00:00Z", completed_at="2026-06-02T09:00:00Z"
            ),
        ],
    }


def history(day: str, method: str, success: bool, reason: str) -> dict[str, Any]:
    return {"date": day, "method": method, "success": success, "reason": reason}


def expected_entry(pid: str, **fields: Any) -> dict[str, Any]:
    """The whole list entry of a clinic patient: identity from the record, the rest given."""
    record = next(p for p in clinic()["patients"] if p["id"] == pid)
    defaults: dict[str, Any] = {
        "id": pid,
        "name": record["name"],
        "phone": record["phone"],
        "email": record["email"],
        "health_conditions": record["health_conditions"],
        "communication_preferences": record["communication_preferences"],
        "last_appointment_date": None,
        "next_scheduled_appointment": None,
        "total_lifetime_appointments": 0,
        "missed_appointments_last_90d": 0,
        "previous_response_rate": None,
        "best_contact_time": None,
        "reengagement_history": [],
        "referral_source": record["referral_source"],
        "last_treatment_outcome": record["last_treatment_outcome"],
        "contacted_this_week": None,  # only the week's target list says
    }
    return defaults | fields


EXPECTED = {
    "p01": expected_entry(
        "p01",
        risk_level="engaged",
        risk_score=18,
        days_since_last_contact=3,
        last_contact_date="2026-06-12",
        action_priority=4,
        recommended_action="book_next_appointment",
        recommended_channel="sms",
        next_action_date="2026-06-15",
        action_required=["no_future_appt"],
        previous_response_rate=100.0,
        best_contact_time="morning",
        reengagement_history=[history("2026-06-12", "sms", True, "responded")],
    ),
    "p02": expected_entry(
        "p02",
        risk_level="low",
        risk_score=25,
        days_since_last_contact=10,
        last_contact_date="2026-06-05",
        last_appointment_date="2026-06-05",
        total_lifetime_appointments=1,
        action_priority=4,
        recommended_action="routine_monitoring",
        recommended_channel=None,
        next_action_date="2026-06-19",  # the day 14 days after 06-05, when p02 turns medium
        action_required=["no_future_appt"],
    ),
    "p03": expected_entry(
        "p03",
        risk_level="medium",
        risk_score=35,
        days_since_last_contact=20,
        last_contact_date="2026-05-26",
        action_priority=3,
        recommended_action="automated_checkin",
        recommended_channel="sms",
        next_action_date="2026-06-18",
        action_required=["no_future_appt"],
        previous_response_rate=50.0,
        best_contact_time="afternoon",
        reengagement_history=[
            history("2026-06-11", "sms", False, "no_response"),
            history("2026-05-26", "phone", True, "connected"),
        ],
    ),
    "p04": expected_entry(
        "p04",
        risk_level="high",
        risk_score=50,
        days_since_last_contact=35,
        last_contact_date="2026-05-11",
        last_appointment_date="2026-05-11",
        total_lifetime_appointments=1,
        action_priority=2,
        recommended_action="sms_with_followup_call",
        recommended_channel="email",  # opted out of sms; first preference email
        next_action_date="2026-06-15",
        action_required=["no_future_appt"],
    ),
    "p05": expected_entry(
        "p05",
        risk_level="critical",
        risk_score=80,
        days_since_last_contact=60,
        last_contact_date="2026-04-16",
        last_appointment_date="2026-04-16",
        total_lifetime_appointments=1,
        missed_appointments_last_90d=1,  # the no_show of 03-20 (the 90 days begin 03-18)
        action_priority=1,
        recommended_action="immediate_phone_call",
        recommended_channel="phone",
        next_action_date="2026-06-15",
        action_required=["no_future_appt"],
        previous_response_rate=0.0,
        reengagement_history=[history("2026-05-01", "sms", False, "no_response")],
    ),
    "p08": expected_entry(
        "p08",
        risk_level="engaged",
        risk_score=18,
        days_since_last_contact=3,
        last_contact_date="2026-06-12",
        action_priority=4,
        recommended_action="book_next_appointment",
        recommended_channel="sms",
        next_action_date="2026-06-15",
        action_required=["no_future_appt"],
    ),
    "p09": expected_entry(
        "p09",
        risk_level="medium",
        risk_score=34,
        days_since_last_contact=14,
        last_contact_date="2026-06-01",
        missed_appointments_last_90d=1,  # the no_show of 06-10
        action_priority=1,
        recommended_action="reschedule_missed_appointment",
        recommended_channel="email",  # no phone: not phone, not sms (its preference)
        next_action_date="2026-06-15",
        action_required=["missed_appt", "no_future_appt"],
    ),
    "p10": expected_entry(
        "p10",
        risk_level="low",
        risk_score=32,
        days_since_last_contact=12,
        last_contact_date="2026-06-03",
        last_appointment_date="2026-06-03",
        total_lifetime_appointments=1,
        action_priority=2,
        recommended_action="try_alternate_channel",
        recommended_channel="phone",  # sms failed, email opted out
        next_action_date="2026-06-15",
        action_required=["failed_contact", "no_future_appt"],
        previous_response_rate=0.0,
        reengagement_history=[history("2026-06-12", "sms", False, "delivery_failed")],
    ),
    "p11": expected_entry(
        "p11",
        risk_level="engaged",
        risk_score=10,
        days_since_last_contact=5,
        last_contact_date="2026-06-10",
        next_scheduled_appointment="2026-06-25T23:00:00Z",
        action_priority=2,
        recommended_action="complete_overdue_followup",
        recommended_channel="phone",
        next_action_date="2026-06-12",  # the open followup's due date, earlier than as_of's
        action_required=["overdue_followup"],
        previous_response_rate=100.0,
        best_contact_time="afternoon",
        reengagement_history=[history("2026-06-10", "email", True, "responded")],
    ),
}

BY_RISK_SCORE = ["p05", "p04", "p03", "p09", "p10", "p02", "p01", "p08", "p11"]
BY_DAYS = ["p05", "p04", "p03", "p09", "p10", "p02", "p11", "p01", "p08"]
BY_NEXT_ACTION = ["p11", "p01", "p04", "p05", "p08", "p09", "p10", "p03", "p02"]


@pytest.fixture
def stocked(client: TestClient, org: OrgFixture) -> OrgFixture:
    post_batch(client, org, clinic())
    return org


def test_risk_metrics_of_the_clinic(client: TestClient, stocked: OrgFixture) -> None:
    body = get(client, stocked, METRICS, role="viewer", as_of=AS_OF)
    assert body == {
        "organization_id": stocked.id,
        "last_updated": "2026-06-15T12:00:00Z",
        "risk_summary": {
            "critical_risk": 1,
            "high_risk": 1,
            "medium_risk": 2,
            "low_risk": 2,
            "engaged": 4,
        },
        "alerts": {
            "missed_appointments_14d": 1,
            "failed_communications": 1,
            "overdue_followups": 1,
            "no_future_appointments": 8,
        },
        "immediate_actions_required": 2,
    }
    # The same instant written with another offset is the same as_of.
    again = get(client, stocked, METRICS, as_of="2026-06-15T22:00:00+10:00")
    assert again == body


def test_prioritized_list_of_the_clinic(client: TestClient, stocked: OrgFixture) -> None:
    body = get(client, stocked, LIST, as_of=AS_OF)
    assert body["organization_id"] == stocked.id
    assert body["last_updated"] == "2026-06-15T12:00:00Z"
    assert (body["limit"], body["offset"]) == (50, 0)
    assert [p["id"] for p in body["patients"]] == BY_RISK_SCORE
    for entry in body["patients"]:
        assert entry == EXPECTED[entry["id"]]
    assert body["summary"] == {
        "total": 9,
        "total_at_risk": 4,
        "immediate_action_required": 2,
        "avg_days_since_contact": 18.0,  # (3+10+20+35+60+3+14+12+5) / 9 = 162 / 9
        "success_rate_prediction": 25.0,
    }


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [
        (None, BY_RISK_SCORE),
        ("risk_score", BY_RISK_SCORE),
        ("days_since_contact", BY_DAYS),
        ("next_action_date", BY_NEXT_ACTION),
    ],
)
def test_sort_orders_break_ties_by_patient_id(
    client: TestClient, stocked: OrgFixture, sort_by: str | None, order: list[str]
) -> None:
    params = {} if sort_by is None else {"sort_by": sort_by}
    ids, _, summary = listed(client, stocked, **params)
    assert ids == order
    assert summary["total"] == 9


@pytest.mark.parametrize(
    ("params", "ids", "summary"),
    [
        (
            {"risk_level": "all"},
            BY_RISK_SCORE,
            {"total": 9, "at_risk": 4, "immediate": 2, "avg": 18.0, "prediction": 25.0},
        ),
        (
            {"risk_level": "critical"},
            ["p05"],
            {"total": 1, "at_risk": 1, "immediate": 1, "avg": 60.0, "prediction": 100.0},
        ),
        (
            {"risk_level": "high"},
            ["p04"],
            {"total": 1, "at_risk": 1, "immediate": 0, "avg": 35.0, "prediction": 0.0},
        ),
        (
            {"risk_level": "medium"},
            ["p03", "p09"],
            {"total": 2, "at_risk": 2, "immediate": 1, "avg": 17.0, "prediction": 0.0},
        ),
        (
            {"risk_level": "low"},
            ["p10", "p02"],
            {"total": 2, "at_risk": 0, "immediate": 0, "avg": 11.0, "prediction": None},
        ),
        (
            # p06 is engaged too, but has nothing to do: not listed.
            {"risk_level": "engaged"},
            ["p01", "p08", "p11"],
            {"total": 3, "at_risk": 0, "immediate": 0, "avg": 3.7, "prediction": None},
        ),
        (
            {"action_required": "missed_appt"},
            ["p09"],
            {"total": 1, "at_risk": 1, "immediate": 1, "avg": 14.0, "prediction": 0.0},
        ),
        (
            {"action_required": "failed_contact"},
            ["p10"],
            {"total": 1, "at_risk": 0, "immediate": 0, "avg": 12.0, "prediction": None},
        ),
        (
            {"action_required": "overdue_followup"},
            ["p11"],
            {"total": 1, "at_risk": 0, "immediate": 0, "avg": 5.0, "prediction": None},
        ),
        (
            {"action_required": "no_future_appt"},
            ["p05", "p04", "p03", "p09", "p10", "p02", "p01", "p08"],
            # (60+35+20+14+12+10+3+3) / 8 = 157 / 8 = 19.625
            {"total": 8, "at_risk": 4, "immediate": 2, "avg": 19.6, "prediction": 25.0},
        ),
        (
            {"risk_level": "medium", "action_required": "missed_appt"},
            ["p09"],
            {"total": 1, "at_risk": 1, "immediate": 1, "avg": 14.0, "prediction": 0.0},
        ),
        (
            {"risk_level": "high", "action_required": "missed_appt"},
            [],
            {"total": 0, "at_risk": 0, "immediate": 0, "avg": None, "prediction": None},
        ),
    ],
    ids=[
        "all",
        "critical",
        "high",
        "medium",
        "low",
        "engaged",
        "missed",
        "failed",
        "overdue",
        "no-future",
        "medium-missed",
        "high-missed",
    ],
)
def test_filters_and_their_summary(
    client: TestClient,
    stocked: OrgFixture,
    params: dict[str, str],
    ids: list[str],
    summary: dict[str, Any],
) -> None:
    got, entries, got_summary = listed(client, stocked, **params)
    assert got == ids
    for pid in ids:
        assert entries[pid] == EXPECTED[pid]
    assert got_summary == {
        "total": summary["total"],
        "total_at_risk": summary["at_risk"],
        "immediate_action_required": summary["immediate"],
        "avg_days_since_contact": summary["avg"],
        "success_rate_prediction": summary["prediction"],
    }


@pytest.mark.parametrize(
    ("limit", "offset", "ids"),
    [
        (3, 0, BY_RISK_SCORE[:3]),
        (3, 2, ["p03", "p09", "p10"]),
        (4, 7, ["p08", "p11"]),
        (1, 8, ["p11"]),
        (50, 9, []),
        (500, 100, []),
    ],
)
def test_limit_and_offset_page_the_list(
    client: TestClient, stocked: OrgFixture, limit: int, offset: int, ids: list[str]
) -> None:
    body = get(client, stocked, LIST, as_of=AS_OF, limit=limit, offset=offset)
    assert [p["id"] for p in body["patients"]] == ids
    assert (body["limit"], body["offset"]) == (limit, offset)
    # The summary is over the whole filtered set, whatever the page.
    assert body["summary"]["total"] == 9
    assert body["summary"]["immediate_action_required"] == 2


def test_tier_thresholds_and_booked_setting_move_patients(
    client: TestClient, stocked: OrgFixture
) -> None:
    patch_settings(
        client, stocked, {"tier_thresholds": {"low": 3, "medium": 10, "high": 20, "critical": 35}}
    )
    # Boundaries are inclusive: 3 days is low, 10 medium, 20 high, 35 critical.
    # p01 3 low, p08 3 low, p02 10 medium, p10 12 medium, p09 14 medium, p03 20 high,
    # p04 35 critical, p05 60 critical; p06 and p11 are booked: engaged.
    metrics = get(client, stocked, METRICS, as_of=AS_OF)
    assert metrics["risk_summary"] == {
        "critical_risk": 2,
        "high_risk": 1,
        "medium_risk": 3,
        "low_risk": 2,
        "engaged": 2,
    }
    assert metrics["immediate_actions_required"] == 3  # p04, p05 critical; p09 missed
    _, entries, _ = listed(client, stocked)
    assert {pid: e["risk_level"] for pid, e in entries.items()} == {
        "p01": "low",
        "p02": "medium",
        "p03": "high",
        "p04": "critical",
        "p05": "critical",
        "p08": "low",
        "p09": "medium",
        "p10": "medium",
        "p11": "engaged",
    }
    # p02 is medium now: an automated check-in today (no attempt in the last 7 days).
    assert (entries["p02"]["recommended_action"], entries["p02"]["next_action_date"]) == (
        "automated_checkin",
        "2026-06-15",
    )
    # p01 is low: routine monitoring until the day it turns medium, 06-12 + 10.
    assert (entries["p01"]["recommended_action"], entries["p01"]["next_action_date"]) == (
        "routine_monitoring",
        "2026-06-22",
    )

    patch_settings(client, stocked, {"booked_patients_are_engaged": False})
    metrics = get(client, stocked, METRICS, as_of=AS_OF)
    # p06 (106 days) turns critical and p11 (5 days) low, although both are booked.
    assert metrics["risk_summary"] == {
        "critical_risk": 3,
        "high_risk": 1,
        "medium_risk": 3,
        "low_risk": 3,
        "engaged": 0,
    }
    assert metrics["immediate_actions_required"] == 4
    assert metrics["alerts"]["no_future_appointments"] == 8  # being booked still counts
    ids, entries, summary = listed(client, stocked, risk_level="critical")
    assert ids == ["p05", "p06", "p04"]  # 80, 60 (no +15: booked), 50 (35 + 15)
    assert entries["p06"] == {
        "id": "p06",
        "name": "Patient p06",
        "phone": "+61400000006",
        "email": "p06@example.org",
        "risk_level": "critical",
        "risk_score": 60,
        "days_since_last_contact": 106,
        "last_contact_date": "2026-03-01",
        "last_appointment_date": "2026-03-01",
        "next_scheduled_appointment": "2026-06-25T09:00:00Z",
        "total_lifetime_appointments": 1,
        "missed_appointments_last_90d": 0,
        "health_conditions": ["condition p06"],
        "referral_source": "GP referral",
        "last_treatment_outcome": "improving",
        "communication_preferences": [],
        "action_priority": 1,
        "recommended_action": "immediate_phone_call",
        "recommended_channel": "phone",
        "next_action_date": "2026-06-15",
        "action_required": [],
        "previous_response_rate": None,
        "best_contact_time": None,
        "reengagement_history": [],
        "contacted_this_week": None,
    }
    assert summary["total"] == 3
    # p11 is low now but its overdue follow-up outranks routine monitoring.
    _, entries, _ = listed(client, stocked, risk_level="low")
    assert entries["p11"]["recommended_action"] == "complete_overdue_followup"
    assert entries["p11"]["risk_score"] == 10


# --- as_of ----------------------------------------------------------------------------------


def test_as_of_in_the_past_ignores_later_events(client: TestClient, org: OrgFixture) -> None:
    may_first = "2026-05-01T09:00:00Z"
    post_batch(
        client,
        org,
        {
            "patients": [
                person("q01", registered_at=may_first),
                person("q02", registered_at=may_first),
                person("q03", registered_at=may_first),
                person("q04", registered_at="2026-06-05T12:00:00Z"),
            ],
            "appointments": [
                # Booked on 06-08 for 06-20: it does not exist before 06-08.
                appt("b02", "q02", "2026-06-20T09:00:00Z", "scheduled", "2026-06-08T09:00:00Z"),
                # Completed on 06-07; booked_at unknown, so it always existed: on 06-05 it
                # was a future appointment.
                appt("b03", "q03", "2026-06-07T09:00:00Z", "completed", None),
            ],
            "communications": [
                communication(
                    "m01",
                    "q01",
                    direction="inbound",
                    sent_at="2026-06-10T09:00:00Z",
                    delivered_at=None,
                    responded_at=None,
                ),
            ],
        },
    )

    # 06-05 12:00: q01 and q02 have had no contact since registering 35 days ago (high);
    # q03 is booked (engaged, nothing to do); q04 registered at exactly as_of (0 days).
    metrics = get(client, org, METRICS, as_of="2026-06-05T12:00:00Z")
    assert metrics["risk_summary"] == {
        "critical_risk": 0,
        "high_risk": 2,
        "medium_risk": 0,
        "low_risk": 0,
        "engaged": 2,
    }
    assert metrics["alerts"]["no_future_appointments"] == 3
    ids, entries, _ = listed(client, org, as_of="2026-06-05T12:00:00Z")
    assert ids == ["q01", "q02", "q04"]
    assert [entries[i]["risk_score"] for i in ids] == [50, 50, 15]
    assert [entries[i]["days_since_last_contact"] for i in ids] == [35, 35, 0]
    assert entries["q02"]["next_scheduled_appointment"] is None
    assert entries["q02"]["last_contact_date"] == "2026-05-01"

    # One second before q01's message it is still 40 days without contact: high.
    _, entries, _ = listed(client, org, as_of="2026-06-10T08:59:59Z")
    assert entries["q01"]["days_since_last_contact"] == 40
    assert entries["q01"]["risk_level"] == "high"
    # A contact at exactly as_of counts.
    _, entries, _ = listed(client, org, as_of="2026-06-10T09:00:00Z")
    assert entries["q01"]["days_since_last_contact"] == 0
    assert entries["q01"]["risk_level"] == "engaged"

    # 06-10 12:00: q01 wrote in today; q02 is booked (booking is contact); q03 had their
    # visit 3 days ago; q04 registered 5 days ago.
    metrics = get(client, org, METRICS, as_of="2026-06-10T12:00:00Z")
    assert metrics["risk_summary"] == {
        "critical_risk": 0,
        "high_risk": 0,
        "medium_risk": 0,
        "low_risk": 0,
        "engaged": 4,
    }
    ids, entries, _ = listed(client, org, as_of="2026-06-10T12:00:00Z")
    assert ids == ["q04", "q03", "q01"]  # 15 + 5, 15 + 3, 15 + 0
    assert entries["q03"]["last_appointment_date"] == "2026-06-07"
    assert entries["q03"]["total_lifetime_appointments"] == 1
    assert entries["q03"]["days_since_last_contact"] == 3


def test_a_bare_date_is_the_end_of_that_day_in_the_org_timezone(
    client: TestClient, org: OrgFixture
) -> None:
    registered = "2026-05-01T09:00:00+10:00"
    post_batch(
        client,
        org,
        {
            "patients": [
                person("s01", registered_at=registered),
                person("s02", registered_at=registered),
            ],
            "communications": [
                communication(
                    "t01",
                    "s01",
                    direction="inbound",
                    sent_at="2026-06-14T23:30:00+10:00",  # 13:30Z on 06-14
                    delivered_at=None,
                    responded_at=None,
                ),
                communication(
                    "t02",
                    "s02",
                    direction="inbound",
                    sent_at="2026-06-15T00:30:00+10:00",  # 14:30Z on 06-14
                    delivered_at=None,
                    responded_at=None,
                ),
            ],
        },
    )

    # In UTC, 2026-06-14 ends at 23:59:59.999999Z: both messages came that day.
    metrics = get(client, org, METRICS, as_of="2026-06-14")
    assert metrics["last_updated"] == "2026-06-14T23:59:59.999999Z"
    assert metrics["risk_summary"]["engaged"] == 2

    patch_settings(client, org, {"timezone": "Australia/Sydney"})
    # In Sydney (+10:00 in June), 2026-06-14 ends at 23:59:59.999999+10:00: s01's message at
    # 23:30 counts, s02's at 00:30 the next day does not; s02 is 44 days from registering.
    metrics = get(client, org, METRICS, as_of="2026-06-14")
    assert metrics["last_updated"] == "2026-06-14T23:59:59.999999+10:00"
    assert metrics["risk_summary"] == {
        "critical_risk": 0,
        "high_risk": 1,
        "medium_risk": 0,
        "low_risk": 0,
        "engaged": 1,
    }
    _, entries, _ = listed(client, org, as_of="2026-06-14")
    assert entries["s01"]["days_since_last_contact"] == 0
    assert entries["s01"]["last_contact_date"] == "2026-06-14"
    assert (entries["s02"]["days_since_last_contact"], entries["s02"]["risk_level"]) == (44, "high")

    _, entries, _ = listed(client, org, as_of="2026-06-15")
    assert entries["s01"]["days_since_last_contact"] == 1
    assert entries["s02"]["days_since_last_contact"] == 0
    assert entries["s02"]["last_contact_date"] == "2026-06-15"

    # Ten minutes into 06-15 in Sydney (14:10Z on 06-14): days are Sydney calendar days, so
    # s01's message is from yesterday, and s02 has not written yet (45 days: critical).
    for as_of in ("2026-06-15T00:10:00+10:00", "2026-06-14T14:10:00Z"):
        metrics = get(client, org, METRICS, as_of=as_of)
        assert metrics["last_updated"] == "2026-06-15T00:10:00+10:00"
        _, entries, _ = listed(client, org, as_of=as_of)
        assert entries["s01"]["days_since_last_contact"] == 1
        assert (entries["s02"]["days_since_last_contact"], entries["s02"]["risk_level"]) == (
            45,
            "critical",
        )


# --- missed visits in the last 90 days, and what the patient's record says ------------------
#
# The list has two read paths that must agree: the stored standings (as_of at or after every
# record: the usual case, ``service._kept_entries`` with ``page_facts``) and the patients'
# histories (an as_of before some record, ``service.entries_of``). ``read_paths`` records which
# one built each page, so each test below shows it asked both.


@pytest.fixture
def read_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The read path of each list page served from here on: "standings" or "histories"."""
    seen: list[str] = []
    for name, label in (("_kept_entries", "standings"), ("entries_of", "histories")):
        original = getattr(service, name)

        def spy(*args: Any, _original: Any = original, _label: str = label, **kw: Any) -> Any:
            seen.append(_label)
            return _original(*args, **kw)

        monkeypatch.setattr(service, name, spy)
    return seen


def missed(aid: str, pid: str, starts_at: str, status: str = "no_show", **more: Any) -> dict:
    """A missed visit; its booking time unknown (so it always existed) unless given."""
    return appointment(aid, pid, starts_at=starts_at, status=status, booked_at=None) | more


# Org in UTC. EARLY's 90 days are 03-18..06-15, LATE's 03-19..06-16.
#
# m01 (registered 01-05) missed four visits in both windows: 06-10 (also in the last 14
# days: missed_appt), 05-20, 04-15 and 03-19; one on 03-16, 91 days before EARLY's date (92
# before LATE's): outside both; and a no_show starting 03-18 but booked 06-15 18:00 (a late
# import): at EARLY it does not exist yet, although it starts on the window's first day; at
# LATE it exists, and 03-18 is 90 days before 06-16: outside. Last contact: at EARLY an
# inbound sms 06-14 (1 day), at LATE that booking 06-15 (1 day). Both: engaged, nothing
# booked, 1 + 15 + 5 x min(4, 3) = 31 (uncapped it would be 36); reschedule (priority 1).
# m02 (registered 06-01) has no referral source, no outcome and no visit.
EARLY = "2026-06-15T12:00:00Z"  # before m01's late booking: read from histories
LATE = "2026-06-16T12:00:00Z"  # after every record: read from the stored standings


def test_missed_visits_of_the_last_90_days_are_uncapped_on_both_read_paths(
    client: TestClient, org: OrgFixture, read_paths: list[str]
) -> None:
    post_batch(
        client,
        org,
        {
            "patients": [
                person("m01", referral_source="gp_referral", last_treatment_outcome="improved"),
                person(
                    "m02",
                    registered_at="2026-06-01T09:00:00Z",
                    referral_source=None,
                    last_treatment_outcome=None,
                ),
            ],
            "appointments": [
                missed("x1", "m01", "2026-06-10T09:00:00Z"),
                missed("x2", "m01", "2026-05-20T09:00:00Z", "late_cancelled"),
                missed("x3", "m01", "2026-04-15T09:00:00Z"),
                missed("x4", "m01", "2026-03-19T09:00:00Z", "late_cancelled"),
                missed("x5", "m01", "2026-03-16T09:00:00Z"),  # 91 days before EARLY's date
                missed("x6", "m01", "2026-03-18T09:00:00Z", booked_at="2026-06-15T18:00:00Z"),
            ],
            "communications": [
                communication(
                    "w01",
                    "m01",
                    direction="inbound",
                    sent_at="2026-06-14T09:00:00Z",
                    delivered_at=None,
                    responded_at=None,
                )
            ],
        },
    )
    expected = {
        "m01": {
            "missed_appointments_last_90d": 4,
            "risk_score": 31,  # 1 + 15 + 5 x 3: the score counts three of the four
            "risk_level": "engaged",
            "days_since_last_contact": 1,
            "action_required": ["missed_appt", "no_future_appt"],
            "recommended_action": "reschedule_missed_appointment",
            "referral_source": "gp_referral",
            "last_treatment_outcome": "improved",
        },
        "m02": {
            "missed_appointments_last_90d": 0,
            "referral_source": None,
            "last_treatment_outcome": None,
        },
    }
    for as_of, path, last_contact in (
        (LATE, "standings", "2026-06-15"),
        (EARLY, "histories", "2026-06-14"),
    ):
        read_paths.clear()
        ids, entries, _ = listed(client, org, as_of=as_of)
        assert read_paths == [path], as_of
        assert sorted(ids) == ["m01", "m02"]
        for pid, fields in expected.items():
            assert {k: entries[pid][k] for k in fields} == fields, (as_of, pid)
        assert entries["m01"]["last_contact_date"] == last_contact
        # The alert counts the 14 days only, the same visit on both paths.
        metrics = get(client, org, METRICS, as_of=as_of)
        assert metrics["alerts"]["missed_appointments_14d"] == 1


def test_the_90_days_begin_at_the_start_of_their_first_day_in_the_org_timezone(
    client: TestClient, engine: Engine, read_paths: list[str]
) -> None:
    org = make_org(engine, timezone="Australia/Sydney")
    # as_of's date is 06-15 in Sydney: the 90 days are 03-18..06-15 (Sydney still on +11:00
    # in March). e01 missed a visit in the first half hour of 03-18 (13:30Z on 03-17) and
    # one in the last half hour of 03-17: only the first counts. In UTC both fall on 03-17;
    # 90 x 24 hours back from as_of (03-17 10:00Z at LATE) would take both.
    # e01: no contact since registering 01-05, 161 days: critical, 60 + 15 + 5 x 1 = 80.
    # e02's message at 15:00 is after EARLY: the list is read from histories there.
    post_batch(
        client,
        org,
        {
            "patients": [
                person("e01", registered_at="2026-01-05T09:00:00+11:00"),
                person("e02", registered_at="2026-06-01T09:00:00+10:00"),
            ],
            "appointments": [
                missed("y1", "e01", "2026-03-18T00:30:00+11:00"),
                missed("y2", "e01", "2026-03-17T23:30:00+11:00", "late_cancelled"),
            ],
            "communications": [
                communication(
                    "v01",
                    "e02",
                    direction="inbound",
                    sent_at="2026-06-15T15:00:00+10:00",
                    delivered_at=None,
                    responded_at=None,
                )
            ],
        },
    )
    for as_of, path in (
        ("2026-06-15T20:00:00+10:00", "standings"),
        ("2026-06-15T12:00:00+10:00", "histories"),
    ):
        read_paths.clear()
        _, entries, _ = listed(client, org, as_of=as_of)
        assert read_paths == [path], as_of
        e01 = entries["e01"]
        assert (e01["missed_appointments_last_90d"], e01["risk_score"]) == (1, 80), as_of
        assert (e01["days_since_last_contact"], e01["risk_level"]) == (161, "critical"), as_of
    # A day later (06-16 in Sydney) the first day is 03-19: neither visit counts.
    read_paths.clear()
    _, entries, _ = listed(client, org, as_of="2026-06-16T20:00:00+10:00")
    assert read_paths == ["standings"]
    assert (entries["e01"]["missed_appointments_last_90d"], entries["e01"]["risk_score"]) == (
        0,
        75,
    )


# --- consent and reachability ----------------------------------------------------------------


def test_recommended_channel_respects_opt_outs_and_reachability(
    client: TestClient, org: OrgFixture
) -> None:
    critical = "2026-04-01T09:00:00Z"  # 75 days before as_of, no contact since
    medium = "2026-05-25T09:00:00Z"  # 21 days
    recent = "2026-06-05T09:00:00Z"  # 10 days: low
    yesterday = "2026-06-14T09:00:00Z"  # 1 day: engaged
    patients = [
        # immediate_phone_call: phone first, then preferences, then phone, sms, email.
        person("k01", registered_at=critical, phone=None),
        person(
            "k02",
            registered_at=critical,
            opt_outs=["phone"],
            communication_preferences=["email", "sms"],
        ),
        person("k03", registered_at=critical, opt_outs=["sms", "email", "phone"]),
        person("k04", registered_at=critical, phone=None, email=None),
        # automated_checkin: sms first.
        person(
            "k05",
            registered_at=medium,
            opt_outs=["sms"],
            communication_preferences=["email", "phone"],
        ),
        # try_alternate_channel: skip the channels that failed in the last 14 days.
        person("k06", registered_at=recent, communication_preferences=["email", "sms"]),
        person("k07", registered_at=recent, opt_outs=["phone"]),
        person("k08", registered_at=recent),
        # book_next_appointment: sms first.
        person("k09", registered_at=yesterday, phone=None, communication_preferences=["phone"]),
        person("k10", registered_at=yesterday, email=None, opt_outs=["sms"]),
    ]
    failed_sms = {"failed_at": "2026-06-10T09:01:00Z", "failure_reason": "invalid number"}
    failed_email = {"failed_at": "2026-06-11T09:01:00Z", "failure_reason": "bounced"}
    communications = []
    for pid in ("k06", "k07"):
        communications.append(sms(f"{pid}-s", pid, "2026-06-10T09:00:00Z", **failed_sms))
        communications.append(
            communication(
                f"{pid}-e",
                pid,
                channel="email",
                sent_at="2026-06-11T09:00:00Z",
                delivered_at=None,
                responded_at=None,
                **failed_email,
            )
        )
    # A call never connected is a failed contact too: skip phone.
    communications.append(
        communication(
            "k08-c",
            "k08",
            channel="phone",
            sent_at="2026-06-12T09:00:00Z",
            delivered_at=None,
            responded_at=None,
        )
    )
    post_batch(client, org, {"patients": patients, "communications": communications})

    _, entries, summary = listed(client, org)
    assert summary["total"] == 10
    got = {pid: (e["recommended_action"], e["recommended_channel"]) for pid, e in entries.items()}
    assert got == {
        "k01": ("immediate_phone_call", "email"),
        "k02": ("immediate_phone_call", "email"),
        "k03": ("immediate_phone_call", None),
        "k04": ("immediate_phone_call", None),
        "k05": ("automated_checkin", "email"),
        "k06": ("try_alternate_channel", "phone"),
        "k07": ("try_alternate_channel", None),
        "k08": ("try_alternate_channel", "sms"),
        "k09": ("book_next_appointment", "email"),
        "k10": ("book_next_appointment", "phone"),
    }
    reasons = [h["reason"] for h in entries["k06"]["reengagement_history"]]
    assert reasons == ["delivery_failed", "delivery_failed"]
    assert entries["k08"]["reengagement_history"] == [
        history("2026-06-12", "phone", False, "not_connected")
    ]
    records = {p["id"]: p for p in patients}
    for pid, entry in entries.items():
        channel = entry["recommended_channel"]
        if channel is None:
            continue
        assert channel not in records[pid]["opt_outs"], pid
        assert records[pid]["email" if channel == "email" else "phone"] is not None, pid


# --- parameters, roles and the audit log --------------------------------------------------------

LIST_PARAMS = "as_of, risk_level, action_required, action_priority, target, sort_by, limit, offset"


@pytest.mark.parametrize(
    ("path", "params", "field", "words"),
    [
        (
            LIST,
            {"risk_level": "severe"},
            "risk_level",
            ["'critical'", "'high'", "'medium'", "'low'", "'engaged'", "'at_risk'", "'all'"],
        ),
        (
            LIST,
            {"action_required": "missed"},
            "action_required",
            ["'missed_appt'", "'failed_contact'", "'overdue_followup'", "'no_future_appt'"],
        ),
        (
            LIST,
            {"sort_by": "name"},
            "sort_by",
            ["'risk_score'", "'days_since_contact'", "'next_action_date'"],
        ),
        (LIST, {"limit": "0"}, "limit", ["greater than or equal to 1"]),
        (LIST, {"limit": "501"}, "limit", ["less than or equal to 500"]),
        (LIST, {"limit": "ten"}, "limit", ["integer"]),
        (LIST, {"offset": "-1"}, "offset", ["greater than or equal to 0"]),
        (LIST, {"as_of": "yesterday"}, "as_of", ["YYYY-MM-DD", "offset"]),
        (LIST, {"as_of": "2026-02-30"}, "as_of", ["YYYY-MM-DD"]),
        (LIST, {"as_of": "2026-06-15T12:00:00"}, "as_of", ["offset"]),
        (METRICS, {"as_of": "2026-06-15 noon"}, "as_of", ["YYYY-MM-DD", "offset"]),
        (METRICS, {"as_of": "2026-06-15T12:00:00"}, "as_of", ["offset"]),
        (LIST, {"sort": "risk_score"}, "sort", [LIST_PARAMS]),
        (LIST, {"risklevel": "high"}, "risklevel", [LIST_PARAMS]),
        (METRICS, {"risk_level": "high"}, "risk_level", ["as_of"]),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    client: TestClient,
    stocked: OrgFixture,
    path: str,
    params: dict[str, str],
    field: str,
    words: list[str],
) -> None:
    r = client.get(
        analytics_url(stocked, path),
        params={"as_of": AS_OF} | params,
        headers=stocked.headers("staff"),
    )
    found = problems(r)
    assert list(found) == [field], found
    for word in words:
        assert word in found[field], (word, found[field])
    assert "p0" not in r.text  # no patient data in a refusal


def test_viewers_get_the_metrics_but_not_the_list(client: TestClient, stocked: OrgFixture) -> None:
    url = analytics_url(stocked, METRICS)
    r = client.get(url, params={"as_of": AS_OF}, headers=stocked.headers("viewer"))
    assert r.status_code == 200
    assert r.json()["risk_summary"]["critical_risk"] == 1
    assert "Patient" not in r.text and "p0" not in r.text
    r = client.get(
        analytics_url(stocked, LIST), params={"as_of": AS_OF}, headers=stocked.headers("viewer")
    )
    assert r.status_code == 403
    assert "p0" not in r.text
    assert (
        client.get(url, params={"as_of": AS_OF}, headers=stocked.headers("ingest")).status_code
        == 403
    )


def audit_rows(engine: Engine, org_id: str) -> list[dict[str, Any]]:
    table: Any = AuditEntry.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.org_id == org_id).order_by(table.c.id))
        return [dict(row) for row in rows.mappings()]


def test_the_list_read_is_audited_with_the_page_patients(
    client: TestClient, engine: Engine, stocked: OrgFixture
) -> None:
    before = audit_rows(engine, stocked.id)
    # Refused reads leave no audit row.
    viewer = client.get(
        analytics_url(stocked, LIST), params={"as_of": AS_OF}, headers=stocked.headers("viewer")
    )
    assert viewer.status_code == 403
    bad = client.get(
        analytics_url(stocked, LIST), params={"limit": 0}, headers=stocked.headers("staff")
    )
    assert bad.status_code == 422
    assert audit_rows(engine, stocked.id) == before

    ids, _, _ = listed(client, stocked, limit=3, offset=2)
    assert ids == ["p03", "p09", "p10"]
    rows = audit_rows(engine, stocked.id)
    assert len(rows) == len(before) + 1
    entry = rows[-1]
    assert {k: entry[k] for k in ("org_id", "key_id", "role", "method", "route", "action")} == {
        "org_id": stocked.id,
        "key_id": stocked.key_ids["staff"],
        "role": "staff",
        "method": "GET",
        "route": "/api/v1/reengagement/{org_id}/patients/prioritized",
        "action": "read",
    }
    assert entry["patient_ids"] == ["p03", "p09", "p10"]
    assert entry["record_count"] == 3
    assert "Patient" not in repr(entry)

    # An empty page reads no patient.
    listed(client, stocked, offset=100)
    entry = audit_rows(engine, stocked.id)[-1]
    assert (entry["patient_ids"], entry["record_count"]) == ([], 0)


@pytest.mark.parametrize(
    "as_of",
    [
        "9999-12-31",
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "1899-12-31",
    ],
)
@pytest.mark.parametrize("path", [METRICS, LIST])
def test_as_of_at_the_edge_of_the_calendar_is_refused(
    client: TestClient, org: OrgFixture, path: str, as_of: str
) -> None:
    r = client.get(analytics_url(org, path), params={"as_of": as_of}, headers=org.headers("staff"))
    assert problems(r) == {
        "as_of": "is out of range: must fall in the years 1900 to 8999, in UTC too"
    }


@pytest.mark.parametrize("as_of", ["2026-W24-1", "20260615", "2026-06-15T12:00"])
def test_as_of_in_other_iso_forms_is_refused(
    client: TestClient, org: OrgFixture, as_of: str
) -> None:
    r = client.get(analytics_url(org, METRICS), params={"as_of": as_of}, headers=org.headers())
    reason = problems(r)["as_of"]
    assert reason.startswith("must be a date (YYYY-MM-DD)") or "UTC offset" in reason


def test_a_repeated_parameter_is_refused(client: TestClient, org: OrgFixture) -> None:
    r = client.get(
        analytics_url(org, LIST) + "?risk_level=critical&risk_level=engaged",
        headers=org.headers(),
    )
    assert problems(r) == {"risk_level": "is given more than once; give it once"}
