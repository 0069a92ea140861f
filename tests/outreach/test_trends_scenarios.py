"""GET /trends on hand-worked clinics, through HTTP, on both databases.

Every expected number was worked out by hand from the contract ("Time and contact", "Risk
tiers", "Outreach outcomes", "GET /trends") and docs/decisions.md, not from the code; the
comments show the working. Records go in through POST /batch; every request names its as_of.
The full-week answers are also checked against the reference path (every figure from the
patients' histories, no derived rows), so both paths are held to the hand-worked values.

Default tier thresholds: medium at 14 days since last contact, high at 30, critical at 45.
"At the end of day D" is as of the earlier of D's last instant and as_of.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from reengage import reference
from reengage.risk import service
from tests.factories import (
    OrgFixture,
    appointment,
    inbound,
    make_org,
    outbound,
    patient,
)

Records = dict[str, list[dict[str, Any]]]


# --- helpers -------------------------------------------------------------------------------


def post_batch(client: TestClient, org: OrgFixture, body: Records) -> None:
    r = client.post(org.url("/batch"), json=body, headers=org.headers("ingest"))
    assert r.status_code == 200, r.text


def get_trends(client: TestClient, org: OrgFixture, **params: Any) -> dict[str, Any]:
    r = client.get(
        f"/api/v1/reengagement/{org.id}/trends", params=params, headers=org.headers("staff")
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def person(pid: str, registered_at: str, **overrides: Any) -> dict[str, Any]:
    return patient(pid, name=f"Patient {pid}", registered_at=registered_at) | overrides


def booking(aid: str, pid: str, booked_at: str, starts_at: str) -> dict[str, Any]:
    return appointment(aid, pid, starts_at=starts_at, status="scheduled", booked_at=booked_at)


def day(date: str, new: int, reengaged: int, attempts: int, scheduled: int) -> dict[str, Any]:
    return {
        "date": date,
        "new_at_risk": new,
        "reengaged_successfully": reengaged,
        "outreach_attempts": attempts,
        "appointments_scheduled": scheduled,
    }


def trend(
    current: float | None, previous: float | None, change: float | None, direction: str | None
) -> dict[str, Any]:
    return {
        "current_rate": current,
        "previous_rate": previous,
        "change_pct": change,
        "success_rate_trend": direction,
    }


def distribution(
    critical: tuple[int, int],
    high: tuple[int, int],
    at_risk: tuple[int, int],
    critical_trend: str,
    high_trend: str,
    improvement: bool,
) -> dict[str, Any]:
    return {
        "critical_start": critical[0],
        "critical_end": critical[1],
        "high_start": high[0],
        "high_end": high[1],
        "at_risk_start": at_risk[0],
        "at_risk_end": at_risk[1],
        "critical_trend": critical_trend,
        "high_trend": high_trend,
        "overall_improvement": improvement,
    }


ALL_METRICS = ["risk_levels", "success_rates", "channel_performance"]


def from_histories(session: Session, org: OrgFixture, as_of: str) -> dict[str, Any]:
    """The 7-day figures computed from every patient's history (the reference path, no
    derived rows), shaped as the body's parts: the hand-worked values must hold there too."""
    where = service.scope(session, org.id, as_of)
    result = reference.trends_of(session, where, "7d", ALL_METRICS)
    assert result.daily_trends is not None and result.channel_performance_trends is not None
    assert result.risk_distribution_changes is not None
    return {
        "daily_trends": [row.model_dump(mode="json") for row in result.daily_trends],
        "channel_performance_trends": result.channel_performance_trends.model_dump(mode="json"),
        "risk_distribution_changes": result.risk_distribution_changes.model_dump(mode="json"),
    }


# --- the UTC clinic ------------------------------------------------------------------------
#
# Org in UTC, period=7d. With as_of = 2026-06-15 (the end of that day) or 2026-06-15 12:00Z,
# the period is 06-09 .. 06-15, the previous period 06-02 .. 06-08, and the period's start
# is the end of 06-08. Days since last contact are counted from the last contact's date.
#
# Population patients (status active; registration is the start, and the last contact when
# there is none):
#   n1  completed visit 05-27 10:00 (booked 05-20): last contact 05-27. End of 06-09: 13
#       days, low; end of 06-10: 14, medium -> new_at_risk on 06-10. Start 12 (low); at
#       as_of 19 (medium).
#   r1  registered 04-01: start 68 days, critical. Text 06-12 09:00, delivered, answered
#       06-12 10:00 -> engaged at the end of 06-12: reengaged on 06-12. At as_of engaged.
#   s1  registered 05-28: end of 06-10 13 days (low); medium from 06-11 00:00 (14 days),
#       answers a text sent 06-11 09:00 at 11:00: engaged again at the end of 06-11. Never at
#       risk at a day's end: counted in neither new_at_risk nor reengaged_successfully.
#   b1  registered 04-20: start 49 days, critical. Call 06-10 09:00 connected 09:00:30 ->
#       engaged, reengaged on 06-10. Books 06-12 10:00 for 06-20: after the call's success,
#       by 06-10 + 14 = 06-24, no other success in between: the call converts, counted on the
#       booking's day 06-12 (not on the call's day). At as_of engaged (future visit).
#   w1  registered 03-01; text 05-26 answered 05-26 10:00, wrote in 06-01, booked 06-10
#       10:00 for 06-22. The booking falls after 05-26 + 14 = 06-09: outside the window, no
#       appointment counted. Start: last contact 06-01, 7 days, low; at as_of engaged.
#   c1  registered 03-01: critical throughout; a call 06-13 never connected.
#   c2  registered 04-26: start 43 (high), at as_of 50 (critical). Email 06-09 opened, not
#       answered (opening is not contact); a call 06-15 13:00 never connected.
#   h1  registered 05-05: start 34, as_of 41: high throughout. Text 06-13 delivered, no reply.
#   h2  registered 05-15: start 24 (medium), as_of 31 (high). Text 06-13 delivered, no reply.
#   h3  registered 05-14: start 25, as_of 32. Text 06-09 failed (sent, never delivered).
#   h4  registered 05-13: start 26 (medium), 06-15 33 (high). Text 06-15 09:00 delivered
#       09:00:05, answered 06-15 15:00: at the end of 06-15 engaged, reengaged on 06-15;
#       as of 06-15 12:00 still high and not reengaged.
#   h5  registered 05-12: start 27 (medium), as_of 34 (high).
# x1 is discharged (outreach counts every patient; tiers only the population):
#   previous period: 13 texts sent 06-04 (4 delivered and answered, 1 answered with no
#   delivery receipt, which counts as delivered, 7 delivered only, 1 failed): delivered 12,
#   responded 5. 21 emails sent 06-03 (9 opened and answered, 1 answered with no open
#   receipt, which counts as opened, 9 opened only, 2 delivered only): opened 19, responded
#   10. One call 06-05, not connected: 0 of 1.
#   period: one email 06-13 opened and answered.

UTC_END = "2026-06-15"
UTC_MIDDAY = "2026-06-15T12:00:00Z"


def utc_clinic() -> Records:
    d = "delivered_at"
    patients = [
        person("n1", "2026-02-01T09:00:00Z"),
        person("r1", "2026-04-01T09:00:00Z"),
        person("s1", "2026-05-28T09:00:00Z"),
        person("b1", "2026-04-20T09:00:00Z"),
        person("w1", "2026-03-01T09:00:00Z"),
        person("c1", "2026-03-01T09:00:00Z"),
        person("c2", "2026-04-26T09:00:00Z"),
        person("h1", "2026-05-05T09:00:00Z"),
        person("h2", "2026-05-15T09:00:00Z"),
        person("h3", "2026-05-14T09:00:00Z"),
        person("h4", "2026-05-13T09:00:00Z"),
        person("h5", "2026-05-12T09:00:00Z"),
        person("x1", "2026-01-05T09:00:00Z", status="discharged"),
    ]
    appointments = [
        appointment(
            "an1",
            "n1",
            starts_at="2026-05-27T10:00:00Z",
            status="completed",
            booked_at="2026-05-20T10:00:00Z",
        ),
        booking("ab1", "b1", "2026-06-12T10:00:00Z", "2026-06-20T09:00:00Z"),
        booking("aw1", "w1", "2026-06-10T10:00:00Z", "2026-06-22T09:00:00Z"),
    ]
    comms = [
        outbound(
            "mr1",
            "r1",
            "sms",
            "2026-06-12T09:00:00Z",
            **{d: "2026-06-12T09:00:05Z"},
            responded_at="2026-06-12T10:00:00Z",
        ),
        outbound(
            "ms1",
            "s1",
            "sms",
            "2026-06-11T09:00:00Z",
            **{d: "2026-06-11T09:00:05Z"},
            responded_at="2026-06-11T11:00:00Z",
        ),
        outbound("mb1", "b1", "phone", "2026-06-10T09:00:00Z", connected_at="2026-06-10T09:00:30Z"),
        outbound(
            "mw1",
            "w1",
            "sms",
            "2026-05-26T09:00:00Z",
            **{d: "2026-05-26T09:00:05Z"},
            responded_at="2026-05-26T10:00:00Z",
        ),
        inbound("mw2", "w1", "2026-06-01T09:00:00Z"),
        outbound("mc1", "c1", "phone", "2026-06-13T09:00:00Z"),
        outbound(
            "mc2",
            "c2",
            "email",
            "2026-06-09T09:00:00Z",
            **{d: "2026-06-09T09:00:05Z"},
            opened_at="2026-06-09T10:00:00Z",
        ),
        outbound("mc2b", "c2", "phone", "2026-06-15T13:00:00Z"),
        outbound("mh1", "h1", "sms", "2026-06-13T09:00:00Z", **{d: "2026-06-13T09:00:05Z"}),
        outbound("mh2", "h2", "sms", "2026-06-13T09:00:00Z", **{d: "2026-06-13T09:00:05Z"}),
        outbound(
            "mh3",
            "h3",
            "sms",
            "2026-06-09T09:00:00Z",
            failed_at="2026-06-09T09:00:05Z",
            failure_reason="unreachable",
        ),
        outbound(
            "mh4",
            "h4",
            "sms",
            "2026-06-15T09:00:00Z",
            **{d: "2026-06-15T09:00:05Z"},
            responded_at="2026-06-15T15:00:00Z",
        ),
        outbound(
            "mx_now",
            "x1",
            "email",
            "2026-06-13T09:00:00Z",
            **{d: "2026-06-13T09:00:05Z"},
            opened_at="2026-06-13T10:00:00Z",
            responded_at="2026-06-13T11:00:00Z",
        ),
        outbound("mx_call", "x1", "phone", "2026-06-05T09:00:00Z"),
    ]
    sms_sent = "2026-06-04T09:00:00Z"
    sms_kinds = (
        [{d: "2026-06-04T09:00:05Z", "responded_at": "2026-06-04T10:00:00Z"}] * 4
        + [{"responded_at": "2026-06-04T10:00:00Z"}]
        + [{d: "2026-06-04T09:00:05Z"}] * 7
        + [{"failed_at": "2026-06-04T09:00:05Z", "failure_reason": "unreachable"}]
    )
    comms += [outbound(f"mxs{i:02d}", "x1", "sms", sms_sent, **k) for i, k in enumerate(sms_kinds)]
    email_sent, delivered = "2026-06-03T09:00:00Z", {d: "2026-06-03T09:00:05Z"}
    opened = delivered | {"opened_at": "2026-06-03T10:00:00Z"}
    answered = {"responded_at": "2026-06-03T11:00:00Z"}
    email_kinds = [opened | answered] * 9 + [delivered | answered] + [opened] * 9 + [delivered] * 2
    comms += [
        outbound(f"mxe{i:02d}", "x1", "email", email_sent, **k) for i, k in enumerate(email_kinds)
    ]
    assert len(sms_kinds) == 13 and len(email_kinds) == 21
    return {"patients": patients, "appointments": appointments, "communications": comms}


# As of the end of 06-15.
#
# daily_trends:
#   06-09  attempts 2 (h3's failed text, c2's email)
#   06-10  new 1 (n1), reengaged 1 (b1), attempts 1 (b1's call); w1's booking: outside window
#   06-11  attempts 1 (s1's text); s1 counts in neither
#   06-12  reengaged 1 (r1), attempts 1 (r1's text), scheduled 1 (b1's booking)
#   06-13  attempts 4 (h1's and h2's texts, c1's call, x1's email)
#   06-14  nothing
#   06-15  reengaged 1 (h4), attempts 2 (h4's text, c2's 13:00 call)
# channel_performance_trends (period against 06-02 .. 06-08, all x1):
#   sms: delivered s1, r1, h1, h2, h4 = 5 (h3's failed text is not), responded s1, r1, h4 =
#     3: 60.0; previous 5/12 = 41.67 -> 41.7. Change (60 - 125/3) / (125/3) = 180/125 - 1
#     = +44.0 -> improving.
#   email: opened c2, x1 = 2, responded x1 = 1: 50.0; previous 10/19 = 52.63 -> 52.6.
#     Change 50 / (1000/19) - 1 = 950/1000 - 1 = -5.0 exactly -> declining (at -5).
#   phone: connected b1 of b1, c1, c2 = 1/3 = 33.3; previous 0/1 = 0.0: change null (the
#     previous rate is 0), trend null.
# risk_distribution_changes:
#   start (end of 06-08): critical r1, b1, c1 = 3; high c2, h1 = 2; medium h2..h5 = 4;
#     at risk 9.
#   end: critical c1, c2 = 2; high h1, h2, h3, h5 = 4; medium n1 = 1; at risk 7.
#   critical 3 -> 2: 1 <= max(1, 0.15): stable. high 2 -> 4: 2 > max(1, 0.1): increasing.
#   7 < 9: overall_improvement.

UTC_END_DAILY = [
    day("2026-06-09", 0, 0, 2, 0),
    day("2026-06-10", 1, 1, 1, 0),
    day("2026-06-11", 0, 0, 1, 0),
    day("2026-06-12", 0, 1, 1, 1),
    day("2026-06-13", 0, 0, 4, 0),
    day("2026-06-14", 0, 0, 0, 0),
    day("2026-06-15", 0, 1, 2, 0),
]
UTC_END_CHANNELS = {
    "sms": trend(60.0, 41.7, 44.0, "improving"),
    "email": trend(50.0, 52.6, -5.0, "declining"),
    "phone": trend(33.3, 0.0, None, None),
}
UTC_END_RISK = distribution((3, 2), (2, 4), (9, 7), "stable", "increasing", True)

# As of 06-15 12:00Z: the same days and previous period; on 06-15 only what happened by noon.
#   06-15: h4's text (09:00) is an attempt, its answer (15:00) has not come: reengaged 0;
#     c2's 13:00 call not yet made: attempts 1.
#   sms: h4's text is delivered (09:00:05) but not answered: 2/5 = 40.0; change
#     40 / (125/3) - 1 = 120/125 - 1 = -4.0 -> stable.
#   email unchanged. phone: b1 and c1 only: 1/2 = 50.0, previous 0.0: null.
#   end: critical c1, c2 = 2; high h1..h5 = 5 (h4 33 days); medium n1 = 1; at risk 8.
#   critical 3 -> 2 stable; high 2 -> 5 increasing; 8 < 9: overall_improvement.

UTC_MIDDAY_DAILY = [*UTC_END_DAILY[:6], day("2026-06-15", 0, 0, 1, 0)]
UTC_MIDDAY_CHANNELS = {
    "sms": trend(40.0, 41.7, -4.0, "stable"),
    "email": trend(50.0, 52.6, -5.0, "declining"),
    "phone": trend(50.0, 0.0, None, None),
}
UTC_MIDDAY_RISK = distribution((3, 2), (2, 5), (9, 8), "stable", "increasing", True)


@pytest.fixture
def clinic(client: TestClient, org: OrgFixture) -> OrgFixture:
    post_batch(client, org, utc_clinic())
    return org


def test_a_week_as_of_the_end_of_a_day(
    client: TestClient, session: Session, clinic: OrgFixture
) -> None:
    body = get_trends(client, clinic, as_of=UTC_END, period="7d")
    parts = {
        "daily_trends": UTC_END_DAILY,
        "channel_performance_trends": UTC_END_CHANNELS,
        "risk_distribution_changes": UTC_END_RISK,
    }
    assert from_histories(session, clinic, UTC_END) == parts
    assert (
        body
        == {
            "organization_id": clinic.id,
            "last_updated": "2026-06-15T23:59:59.999999Z",
            "period": "7d",
            "period_start": "2026-06-09",
            "period_end": "2026-06-15",
            "metrics": ALL_METRICS,
        }
        | parts
    )
    # A viewer reads the same aggregate figures.
    r = client.get(
        f"/api/v1/reengagement/{clinic.id}/trends",
        params={"as_of": UTC_END, "period": "7d"},
        headers=clinic.headers("viewer"),
    )
    assert r.status_code == 200 and r.json() == body


def test_a_week_as_of_midday(client: TestClient, session: Session, clinic: OrgFixture) -> None:
    body = get_trends(client, clinic, as_of=UTC_MIDDAY, period="7d")
    assert from_histories(session, clinic, UTC_MIDDAY) == {
        "daily_trends": UTC_MIDDAY_DAILY,
        "channel_performance_trends": UTC_MIDDAY_CHANNELS,
        "risk_distribution_changes": UTC_MIDDAY_RISK,
    }
    assert body == {
        "organization_id": clinic.id,
        "last_updated": "2026-06-15T12:00:00Z",
        "period": "7d",
        "period_start": "2026-06-09",
        "period_end": "2026-06-15",
        "metrics": ALL_METRICS,
        "daily_trends": UTC_MIDDAY_DAILY,
        "channel_performance_trends": UTC_MIDDAY_CHANNELS,
        "risk_distribution_changes": UTC_MIDDAY_RISK,
    }


def fields(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [{k: row[k] for k in ("date", *names)} for row in rows]


@pytest.mark.parametrize(
    ("metrics", "answered", "parts"),
    [
        (
            "risk_levels",
            ["risk_levels"],
            {
                "daily_trends": fields(UTC_END_DAILY, "new_at_risk", "reengaged_successfully"),
                "risk_distribution_changes": UTC_END_RISK,
            },
        ),
        (
            "success_rates",
            ["success_rates"],
            {
                "daily_trends": fields(
                    UTC_END_DAILY, "outreach_attempts", "appointments_scheduled"
                ),
            },
        ),
        (
            "channel_performance",
            ["channel_performance"],
            {"channel_performance_trends": UTC_END_CHANNELS},
        ),
        # Listed in the contract's order, whatever order they are asked in.
        (
            "success_rates,risk_levels",
            ["risk_levels", "success_rates"],
            {"daily_trends": UTC_END_DAILY, "risk_distribution_changes": UTC_END_RISK},
        ),
        (
            "channel_performance,success_rates",
            ["success_rates", "channel_performance"],
            {
                "daily_trends": fields(
                    UTC_END_DAILY, "outreach_attempts", "appointments_scheduled"
                ),
                "channel_performance_trends": UTC_END_CHANNELS,
            },
        ),
    ],
)
def test_the_metrics_filter_returns_only_the_asked_parts(
    client: TestClient,
    clinic: OrgFixture,
    metrics: str,
    answered: list[str],
    parts: dict[str, Any],
) -> None:
    body = get_trends(client, clinic, as_of=UTC_END, period="7d", metrics=metrics)
    assert (
        body
        == {
            "organization_id": clinic.id,
            "last_updated": "2026-06-15T23:59:59.999999Z",
            "period": "7d",
            "period_start": "2026-06-09",
            "period_end": "2026-06-15",
            "metrics": answered,
        }
        | parts
    )


# --- late and corrected records ----------------------------------------------------------
#
# After the first answer, the clinic sends two records dated inside the period:
#   a late text to h5, sent 06-12 09:00, delivered, answered 06-12 10:00: h5 (at risk at the
#     end of 06-11, 30 days, high) is engaged at the end of 06-12: reengaged there; 06-12's
#     attempts 1 -> 2. sms: delivered 6, responded 4: 66.67 -> 66.7; change
#     (200/3) / (125/3) - 1 = 1.6 - 1 = +60.0 -> improving.
#   a correction of c1's call on 06-13: it did connect, 09:02. c1 is engaged at the end of
#     06-13: reengaged there. phone: 2/3 = 66.7, previous still 0.0: null.
#   end: critical c2 = 1; high h1, h2, h3 = 3; medium n1 = 1; at risk 5.
#   critical 3 -> 1: 2 > 1: decreasing. high 2 -> 3: 1 <= 1: stable. 5 < 9: improvement.


def test_late_and_corrected_records_change_the_trends(
    client: TestClient, session: Session, clinic: OrgFixture
) -> None:
    before = get_trends(client, clinic, as_of=UTC_END, period="7d")
    assert before["daily_trends"] == UTC_END_DAILY
    post_batch(
        client,
        clinic,
        {
            "communications": [
                outbound(
                    "mh5",
                    "h5",
                    "sms",
                    "2026-06-12T09:00:00Z",
                    delivered_at="2026-06-12T09:00:05Z",
                    responded_at="2026-06-12T10:00:00Z",
                ),
                outbound(
                    "mc1",
                    "c1",
                    "phone",
                    "2026-06-13T09:00:00Z",
                    connected_at="2026-06-13T09:02:00Z",
                ),
            ]
        },
    )
    after = get_trends(client, clinic, as_of=UTC_END, period="7d")
    expected = {
        "daily_trends": [
            *UTC_END_DAILY[:3],
            day("2026-06-12", 0, 2, 2, 1),
            day("2026-06-13", 0, 1, 4, 0),
            *UTC_END_DAILY[5:],
        ],
        "channel_performance_trends": {
            "sms": trend(66.7, 41.7, 60.0, "improving"),
            "email": UTC_END_CHANNELS["email"],
            "phone": trend(66.7, 0.0, None, None),
        },
        "risk_distribution_changes": distribution(
            (3, 1), (2, 3), (9, 5), "decreasing", "stable", True
        ),
    }
    assert after == before | expected
    assert from_histories(session, clinic, UTC_END) == expected


# --- a Sydney clinic across the change to daylight saving --------------------------------
#
# Org in Australia/Sydney; as_of = 2026-10-06, the end of that day there
# (23:59:59.999999+11:00). The period is 09-30 .. 10-06 in Sydney (clocks go from +10:00 to
# +11:00 at 02:00 on 10-04), the previous period 09-23 .. 09-29, the start the end of 09-29
# (+10:00). Every date below is a Sydney date; times in Z are given with their Sydney reading.
#
#   k01..k40 registered 06-01: 120 days at the start, critical; still critical at as_of
#     except:
#     k01 text 10-01 22:30Z (10-02 08:30), answered 10-01 23:30Z (10-02 09:30): reengaged on
#       10-02. Books 10-05 13:30Z (10-06 00:30) for 10-20: within 10-02 + 14: the text
#       converts, counted on 10-06 (in UTC it would be 10-05).
#     k02 call 10-04 16:00Z (10-05 03:00+11:00), connected 16:00:30Z: reengaged on 10-05.
#     k03 email 09-30 13:59Z (09-30 23:59) and k04 email 09-29 14:00Z (09-30 00:00):
#       delivered, never opened: both attempts on 09-30.
#   q1 registered 08-20: 40 days at the start, high; wrote in 10-03 09:00 (43 days the day
#     before): reengaged on 10-03.
#   q2 registered 08-21: 39 days, high; booked 10-04 10:00+11:00 for 10-12 with no outreach
#     (a booking is a contact, and a future visit): reengaged on 10-04; no appointment
#     counted (no contact converted).
#   m1 wrote in 09-20 15:00Z (09-21 01:00): 14 days on 10-05 -> new_at_risk 10-05 (in UTC
#     it would be 10-04).
#   m2 completed visit 09-17 10:00 (booked 09-10): new_at_risk 10-01.
#   m3 registered 09-16, nothing else: 13 days at the end of 09-29, 14 at the end of 09-30:
#     new_at_risk on the period's first day.
#   m4 wrote in 09-22 10:00: new_at_risk on 10-06 (the as_of date).
#   (m1, m2, m4 registered 03-01; the spells their first contacts ended are long past.)
#   y1 (discharged): previous period: a text 09-22 14:30Z (09-23 00:30) delivered and
#     answered; an email 09-25 opened and answered; 3 calls 09-25, 2 connected. Period: a
#     text 09-29 14:30Z (09-30 00:30) delivered, no reply; 9 calls 10-01, 6 connected.
#
# daily_trends:
#   09-30  new 1 (m3), attempts 3 (k03, k04, y1's text)
#   10-01  new 1 (m2), attempts 9 (y1's calls)
#   10-02  reengaged 1 (k01), attempts 1 (k01)
#   10-03  reengaged 1 (q1)
#   10-04  reengaged 1 (q2)
#   10-05  new 1 (m1), reengaged 1 (k02), attempts 1 (k02)
#   10-06  new 1 (m4), scheduled 1 (k01's booking)
# channel_performance_trends:
#   sms: k01 1/1 + y1 0/1 = 50.0; previous y1 1/1 = 100.0: -50.0, declining.
#   email: nothing opened: current null -> change null, trend null; previous 100.0.
#   phone: k02 + y1 = 7 connected of 10: 70.0; previous 2/3 = 66.67 -> 66.7:
#     70 / (200/3) - 1 = 210/200 - 1 = +5.0 exactly -> improving (at +5).
# risk_distribution_changes:
#   start: critical 40, high 2 (q1, q2), medium 0: at risk 42.
#   end: critical 38 (k03..k40), high 0, medium m1..m4 = 4: at risk 42.
#   critical 40 -> 38: 2 <= max(1, 5% of 40 = 2): stable. high 2 -> 0: decreasing.
#   42 is not below 42: no overall_improvement.


def sydney_clinic() -> Records:
    crowd = [f"k{i:02d}" for i in range(1, 41)]
    patients = [person(k, "2026-06-01T09:00:00+10:00") for k in crowd] + [
        person("q1", "2026-08-20T10:00:00+10:00"),
        person("q2", "2026-08-21T10:00:00+10:00"),
        person("m1", "2026-03-01T10:00:00+11:00"),
        person("m2", "2026-03-01T10:00:00+11:00"),
        person("m3", "2026-09-16T08:00:00+10:00"),
        person("m4", "2026-03-01T10:00:00+11:00"),
        person("y1", "2026-01-05T09:00:00+11:00", status="discharged"),
    ]
    appointments = [
        booking("ak01", "k01", "2026-10-05T13:30:00Z", "2026-10-20T09:00:00+11:00"),
        booking("aq2", "q2", "2026-10-04T10:00:00+11:00", "2026-10-12T10:00:00+11:00"),
        appointment(
            "am2",
            "m2",
            starts_at="2026-09-17T10:00:00+10:00",
            status="completed",
            booked_at="2026-09-10T10:00:00+10:00",
        ),
    ]
    comms = [
        outbound(
            "mk01",
            "k01",
            "sms",
            "2026-10-01T22:30:00Z",
            delivered_at="2026-10-01T22:30:05Z",
            responded_at="2026-10-01T23:30:00Z",
        ),
        outbound(
            "mk02", "k02", "phone", "2026-10-04T16:00:00Z", connected_at="2026-10-04T16:00:30Z"
        ),
        outbound(
            "mk03", "k03", "email", "2026-09-30T13:59:00Z", delivered_at="2026-09-30T13:59:05Z"
        ),
        outbound(
            "mk04", "k04", "email", "2026-09-29T14:00:00Z", delivered_at="2026-09-29T14:00:05Z"
        ),
        inbound("mq1", "q1", "2026-10-03T09:00:00+10:00"),
        inbound("mm1", "m1", "2026-09-20T15:00:00Z"),
        inbound("mm4", "m4", "2026-09-22T10:00:00+10:00"),
        outbound(
            "my_prev_sms",
            "y1",
            "sms",
            "2026-09-22T14:30:00Z",
            delivered_at="2026-09-22T14:30:05Z",
            responded_at="2026-09-22T15:00:00Z",
        ),
        outbound(
            "my_prev_email",
            "y1",
            "email",
            "2026-09-25T09:00:00+10:00",
            delivered_at="2026-09-25T09:00:05+10:00",
            opened_at="2026-09-25T10:00:00+10:00",
            responded_at="2026-09-25T11:00:00+10:00",
        ),
        outbound(
            "my_sms", "y1", "sms", "2026-09-29T14:30:00Z", delivered_at="2026-09-29T14:30:05Z"
        ),
    ]
    for i in range(3):
        connected = {"connected_at": "2026-09-25T09:01:00+10:00"} if i < 2 else {}
        comms.append(
            outbound(f"my_prev_call{i}", "y1", "phone", "2026-09-25T09:00:00+10:00", **connected)
        )
    for i in range(9):
        connected = {"connected_at": "2026-10-01T09:01:00+10:00"} if i < 6 else {}
        comms.append(
            outbound(f"my_call{i}", "y1", "phone", "2026-10-01T09:00:00+10:00", **connected)
        )
    return {"patients": patients, "appointments": appointments, "communications": comms}


def test_a_week_in_sydney_across_daylight_saving(
    client: TestClient, session: Session, engine: Engine
) -> None:
    org = make_org(engine, timezone="Australia/Sydney")
    post_batch(client, org, sydney_clinic())
    body = get_trends(client, org, as_of="2026-10-06", period="7d")
    parts = {
        "daily_trends": [
            day("2026-09-30", 1, 0, 3, 0),
            day("2026-10-01", 1, 0, 9, 0),
            day("2026-10-02", 0, 1, 1, 0),
            day("2026-10-03", 0, 1, 0, 0),
            day("2026-10-04", 0, 1, 0, 0),
            day("2026-10-05", 1, 1, 1, 0),
            day("2026-10-06", 1, 0, 0, 1),
        ],
        "channel_performance_trends": {
            "sms": trend(50.0, 100.0, -50.0, "declining"),
            "email": trend(None, 100.0, None, None),
            "phone": trend(70.0, 66.7, 5.0, "improving"),
        },
        "risk_distribution_changes": distribution(
            (40, 38), (2, 0), (42, 42), "stable", "decreasing", False
        ),
    }
    assert from_histories(session, org, "2026-10-06") == parts
    assert (
        body
        == {
            "organization_id": org.id,
            "last_updated": "2026-10-06T23:59:59.999999+11:00",
            "period": "7d",
            "period_start": "2026-09-30",
            "period_end": "2026-10-06",
            "metrics": ALL_METRICS,
        }
        | parts
    )
