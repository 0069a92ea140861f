"""GET /performance on hand-worked clinics, through HTTP, on both databases.

Every expected number was worked out by hand from the contract ("Time and contact", "Outreach
outcomes", "GET /performance"), not from the code; the comments show the working. The seed's
example figures are not one consistent dataset (the contract says so), so its totals and its
channel figures are each reproduced in a scenario of their own. All records go in through
POST /batch; every request names its as_of.

Unless a test says otherwise: the org is in UTC with default settings; as_of is 2026-06-15
12:00 UTC, so the last 30 days are 2026-05-17 .. 2026-06-15; patients registered on
2026-04-01 and had no contact since, so each is at risk (medium) from the end of 2026-04-15.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    OrgFixture,
    appointment,
    inbound,
    outbound,
    patient,
)
from tests.helpers import problems

AS_OF = "2026-06-15T12:00:00Z"
REGISTERED = "2026-04-01T09:00:00Z"
TIMEFRAME_VALUES = ("last_7_days", "last_30_days", "last_90_days")


def performance_url(org: OrgFixture) -> str:
    return f"/api/v1/reengagement/{org.id}/performance"


def post_batch(client: TestClient, org: OrgFixture, body: dict[str, Any]) -> None:
    r = client.post(org.url("/batch"), json=body, headers=org.headers("ingest"))
    assert r.status_code == 200, r.text


def get_performance(
    client: TestClient, org: OrgFixture, role: str = "staff", **params: Any
) -> dict[str, Any]:
    r = client.get(performance_url(org), params=params, headers=org.headers(role))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def patch_settings(client: TestClient, org: OrgFixture, body: dict[str, Any]) -> None:
    r = client.patch(org.url("/settings"), json=body, headers=org.headers("admin"))
    assert r.status_code == 200, r.text


def person(pid: str, **overrides: Any) -> dict[str, Any]:
    return patient(pid, name=f"Patient {pid}", registered_at=REGISTERED) | overrides


def booking(aid: str, pid: str, booked_at: str, starts_at: str = "2026-06-25T09:00:00Z") -> Any:
    return appointment(aid, pid, starts_at=starts_at, status="scheduled", booked_at=booked_at)


def figures(
    attempts: int,
    successes: int,
    contact_rate: float | None,
    scheduled: int,
    conversion_rate: float | None,
    avg_days: float | None,
    sms: tuple[int, int, int, float | None],
    email: tuple[int, int, int, float | None],
    phone: tuple[int, int, int, float | None],
    our_performance: str,
    benchmarks: tuple[float, float] = (55.0, 68.0),
) -> dict[str, Any]:
    """The body's figures (all but organization_id, last_updated and the period)."""
    return {
        "reengagement_metrics": {
            "outreach_attempts": attempts,
            "successful_contacts": successes,
            "contact_success_rate": contact_rate,
            "appointments_scheduled": scheduled,
            "conversion_rate": conversion_rate,
            "avg_days_to_reengage": avg_days,
        },
        "communication_channels": {
            "sms": dict(zip(("sent", "delivered", "responded", "response_rate"), sms, strict=True)),
            "email": dict(
                zip(("sent", "opened", "responded", "response_rate"), email, strict=True)
            ),
            "phone": dict(
                zip(
                    ("attempted", "connected", "appointment_booked", "conversion_rate"),
                    phone,
                    strict=True,
                )
            ),
        },
        "benchmark_comparison": {
            "industry_avg_contact_rate": benchmarks[0],
            "industry_avg_conversion": benchmarks[1],
            "our_performance": our_performance,
        },
    }


def without_header(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in body.items()
        if k not in ("organization_id", "last_updated", "timeframe", "period_start", "period_end")
    }


# --- (a) the seed's totals: 145, 89, 61.4, 67, 75.3 ---------------------------------------
#
# 145 patients, one text each, all delivered. The first 89 answered on 06-05 (40 of them
# sent on 06-03, 49 on 06-02); the first 67 of those booked on 06-07 for 06-25, inside the
# 14-day attribution window. The other 56 never answered.
#   contact_success_rate 89/145 = 61.38 -> 61.4; conversion_rate 67/89 = 75.28 -> 75.3;
#   sms response_rate 89/145 -> 61.4; both at or above 55.0 and 68.0: above_average.
#   avg_days_to_reengage: each answer ends a spell begun 04-15; from the text's date to
#   06-05: 40 x 2 + 49 x 3 = 227 days over 89 spells = 2.55 -> 2.6. (The next medium day is
#   06-19, after as_of; the 56 unanswered are still at risk.)


def seed_totals() -> dict[str, list[dict[str, Any]]]:
    patients, comms, appts = [], [], []
    for i in range(145):
        pid = f"t{i:03d}"
        patients.append(person(pid))
        sent = "2026-06-03T09:00:00Z" if i < 40 else "2026-06-02T09:00:00Z"
        answer = {"responded_at": "2026-06-05T10:00:00Z"} if i < 89 else {}
        comms.append(
            outbound(f"m{i:03d}", pid, "sms", sent, delivered_at=sent.replace(":00Z", ":05Z"))
            | answer
        )
        if i < 67:
            appts.append(booking(f"b{i:03d}", pid, "2026-06-07T10:00:00Z"))
    return {"patients": patients, "communications": comms, "appointments": appts}


SEED_TOTALS = figures(
    145,
    89,
    61.4,
    67,
    75.3,
    2.6,
    sms=(145, 145, 89, 61.4),
    email=(0, 0, 0, None),
    phone=(0, 0, 0, None),
    our_performance="above_average",
)


@pytest.fixture
def totals(client: TestClient, org: OrgFixture) -> OrgFixture:
    post_batch(client, org, seed_totals())
    return org


def test_the_seeds_totals(client: TestClient, totals: OrgFixture) -> None:
    body = get_performance(client, totals, as_of=AS_OF, timeframe="last_30_days")
    assert (
        body
        == {
            "organization_id": totals.id,
            "last_updated": "2026-06-15T12:00:00Z",
            "timeframe": "last_30_days",
            "period_start": "2026-05-17",
            "period_end": "2026-06-15",
        }
        | SEED_TOTALS
    )
    # The default timeframe is the last 30 days; a viewer may read it (no patient data).
    viewer = get_performance(client, totals, role="viewer", as_of=AS_OF)
    assert viewer == body
    assert "Patient" not in str(viewer) and "t00" not in str(viewer)


def test_benchmarks_are_settings(client: TestClient, totals: OrgFixture) -> None:
    cases = [
        ((61.4, 75.3), "above_average"),  # at or above, at exact equality
        ((61.5, 75.3), "average"),
        ((61.4, 75.4), "average"),
        ((70.0, 80.0), "below_average"),
        ((0.0, 0.0), "above_average"),
    ]
    for (contact, conversion), expected in cases:
        patch_settings(
            client,
            totals,
            {
                "benchmarks": {
                    "industry_avg_contact_rate": contact,
                    "industry_avg_conversion": conversion,
                }
            },
        )
        body = get_performance(client, totals, as_of=AS_OF)
        assert body["benchmark_comparison"] == {
            "industry_avg_contact_rate": contact,
            "industry_avg_conversion": conversion,
            "our_performance": expected,
        }
        assert body["reengagement_metrics"]["contact_success_rate"] == 61.4


# --- (b) the seed's channel figures ---------------------------------------------------------
#
# 207 patients, one attempt each, all sent on 06-02 09:00:
# sms 95: 47 delivered and answered 06-03, 5 answered with no delivery receipt (delivered
#   all the same), 35 delivered only, 5 failed, 3 with no receipt:
#   delivered 47 + 5 + 35 = 87, responded 52, 52/87 = 59.77 -> 59.8.
# email 78: 20 opened and answered 06-04, 3 answered with no open receipt (opened all the
#   same), 22 opened only, 30 delivered only, 3 failed: opened 45, responded 23,
#   23/45 = 51.11 -> 51.1.
# phone 34: 28 connected at 09:01, 21 of them booked on 06-04 (inside the window); 4 never
#   connected, 2 failed: 21/28 = 75.0.
# Totals: 207 attempts, 52 + 23 + 28 = 103 successful, 103/207 = 49.76 -> 49.8; 21 scheduled,
#   21/103 = 20.39 -> 20.4; both below 55.0 and 68.0: below_average.
# avg_days_to_reengage: spells from 04-15 end on 06-03 (sms, 1 day after 06-02), 06-04
#   (email, 2 days), 06-02 (phone, 0 days): (52 x 1 + 23 x 2 + 28 x 0) / 103 = 98/103
#   = 0.95 -> 1.0. The next medium days (06-16 .. 06-18) fall after as_of.

SENT = "2026-06-02T09:00:00Z"
SMS_KINDS = [
    (47, {"delivered_at": "2026-06-02T09:00:05Z", "responded_at": "2026-06-03T10:00:00Z"}),
    (5, {"responded_at": "2026-06-03T10:00:00Z"}),
    (35, {"delivered_at": "2026-06-02T09:00:05Z"}),
    (5, {"failed_at": "2026-06-02T09:00:05Z", "failure_reason": "unreachable"}),
    (3, {}),
]
EMAIL_KINDS = [
    (
        20,
        {
            "delivered_at": "2026-06-02T09:00:05Z",
            "opened_at": "2026-06-02T12:00:00Z",
            "responded_at": "2026-06-04T10:00:00Z",
        },
    ),
    (3, {"delivered_at": "2026-06-02T09:00:05Z", "responded_at": "2026-06-04T10:00:00Z"}),
    (22, {"delivered_at": "2026-06-02T09:00:05Z", "opened_at": "2026-06-03T08:00:00Z"}),
    (30, {"delivered_at": "2026-06-02T09:00:05Z"}),
    (3, {"failed_at": "2026-06-02T09:00:05Z", "failure_reason": "mailbox full"}),
]
PHONE_KINDS = [
    (21, {"connected_at": "2026-06-02T09:01:00Z"}),  # these book
    (7, {"connected_at": "2026-06-02T09:01:00Z"}),
    (4, {}),
    (2, {"failed_at": "2026-06-02T09:00:30Z", "failure_reason": "number disconnected"}),
]


def seed_channels() -> dict[str, list[dict[str, Any]]]:
    patients, comms, appts = [], [], []
    n = 0
    for channel, kinds in (("sms", SMS_KINDS), ("email", EMAIL_KINDS), ("phone", PHONE_KINDS)):
        for k, (count, timestamps) in enumerate(kinds):
            for _ in range(count):
                pid = f"c{n:03d}"
                patients.append(person(pid))
                comms.append(outbound(f"m{n:03d}", pid, channel, SENT, **timestamps))
                if channel == "phone" and k == 0:
                    appts.append(booking(f"b{n:03d}", pid, "2026-06-04T15:00:00Z"))
                n += 1
    assert n == 207
    return {"patients": patients, "communications": comms, "appointments": appts}


def test_the_seeds_channel_figures(client: TestClient, org: OrgFixture) -> None:
    post_batch(client, org, seed_channels())
    body = get_performance(client, org, as_of=AS_OF, timeframe="last_30_days")
    assert without_header(body) == figures(
        207,
        103,
        49.8,
        21,
        20.4,
        1.0,
        sms=(95, 87, 52, 59.8),
        email=(78, 45, 23, 51.1),
        phone=(34, 28, 21, 75.0),
        our_performance="below_average",
    )
    # The counts add up as the contract says.
    channels = body["communication_channels"]
    assert body["reengagement_metrics"]["outreach_attempts"] == (
        channels["sms"]["sent"] + channels["email"]["sent"] + channels["phone"]["attempted"]
    )
    assert body["reengagement_metrics"]["successful_contacts"] == (
        channels["sms"]["responded"]
        + channels["email"]["responded"]
        + channels["phone"]["connected"]
    )


# --- Conversions: the attribution window, and a second contact cutting it -----------------
#
# w1: text answered 05-20 10:00; booked 06-04 09:00. 05-20 + 14 = 06-03: outside.
# w2: text answered 05-20 10:00; booked 06-03 23:30: inside (the window's last day).
# w3: text answered 05-25 10:00, then a call connected 05-27 10:00, then booked 05-29:
#     the call converts, the text does not (the next successful contact cut it).
# w4: text answered 06-10 10:00; booked 06-16, after as_of: not counted yet.
# 5 attempts, 5 successful (4 texts, 1 call), scheduled 2 (w2, w3's call): 40.0.
# avg_days_to_reengage: spells from 04-15 end on 05-20 (w1, w2) and 05-25 (w3), each on
# the day of its first attempt (0 days), and w4's on 06-10 (0 days); w1's next spell,
# from 06-03, ended by the booking on 06-04 with no attempt, is left out: 0.0.


def attribution() -> dict[str, list[dict[str, Any]]]:
    return {
        "patients": [person(p) for p in ("w1", "w2", "w3", "w4")],
        "communications": [
            outbound(
                "m1", "w1", "sms", "2026-05-20T09:00:00Z", responded_at="2026-05-20T10:00:00Z"
            ),
            outbound(
                "m2", "w2", "sms", "2026-05-20T09:00:00Z", responded_at="2026-05-20T10:00:00Z"
            ),
            outbound(
                "m3", "w3", "sms", "2026-05-25T09:00:00Z", responded_at="2026-05-25T10:00:00Z"
            ),
            outbound(
                "m3b", "w3", "phone", "2026-05-27T10:00:00Z", connected_at="2026-05-27T10:00:00Z"
            ),
            outbound(
                "m4", "w4", "sms", "2026-06-10T09:00:00Z", responded_at="2026-06-10T10:00:00Z"
            ),
        ],
        "appointments": [
            booking("b1", "w1", "2026-06-04T09:00:00Z"),
            booking("b2", "w2", "2026-06-03T23:30:00Z"),
            booking("b3", "w3", "2026-05-29T10:00:00Z"),
            booking("b4", "w4", "2026-06-16T10:00:00Z"),
        ],
    }


def test_conversions_in_the_attribution_window(client: TestClient, org: OrgFixture) -> None:
    post_batch(client, org, attribution())
    body = get_performance(client, org, as_of=AS_OF)
    assert without_header(body) == figures(
        5,
        5,
        100.0,
        2,
        40.0,
        0.0,
        sms=(4, 4, 4, 100.0),
        email=(0, 0, 0, None),
        phone=(1, 1, 1, 100.0),
        our_performance="average",  # 100.0 >= 55.0, 40.0 < 68.0
    )
    # A day later w4's booking has happened: 3 of 5.
    later = get_performance(client, org, as_of="2026-06-16T12:00:00Z")
    totals = later["reengagement_metrics"]
    assert (totals["appointments_scheduled"], totals["conversion_rate"]) == (3, 60.0)
    # Before w2's booking (06-03 23:30) only w3's call had converted.
    early = get_performance(client, org, as_of="2026-06-03T23:00:00Z")
    totals = early["reengagement_metrics"]
    assert (totals["outreach_attempts"], totals["appointments_scheduled"]) == (4, 1)
    assert early["communication_channels"]["phone"]["appointment_booked"] == 1
    # A 15-day window reaches w1's booking on 06-04.
    patch_settings(client, org, {"attribution_window_days": 15})
    body = get_performance(client, org, as_of=AS_OF)
    totals = body["reengagement_metrics"]
    assert (totals["appointments_scheduled"], totals["conversion_rate"]) == (3, 60.0)
    assert body["benchmark_comparison"]["our_performance"] == "average"


def test_only_a_successful_contact_cuts_attribution(client: TestClient, org: OrgFixture) -> None:
    post_batch(
        client,
        org,
        {
            "patients": [person("u1")],
            "communications": [
                outbound(
                    "m1", "u1", "sms", "2026-06-01T09:00:00Z", responded_at="2026-06-01T10:00:00Z"
                ),
                outbound("m2", "u1", "phone", "2026-06-02T09:00:00Z"),  # never connected
                inbound("m3", "u1", "2026-06-02T10:00:00Z"),  # a contact, not a success
            ],
            "appointments": [booking("b1", "u1", "2026-06-03T09:00:00Z")],
        },
    )
    body = get_performance(client, org, as_of=AS_OF)
    assert body["reengagement_metrics"]["appointments_scheduled"] == 1
    assert body["communication_channels"]["phone"] == {
        "attempted": 1,
        "connected": 0,
        "appointment_booked": 0,
        "conversion_rate": None,
    }
    totals = body["reengagement_metrics"]
    assert (totals["contact_success_rate"], totals["conversion_rate"]) == (50.0, 100.0)


# --- Zero denominators ------------------------------------------------------------------------


def test_an_org_with_no_outreach_has_null_rates(client: TestClient, org: OrgFixture) -> None:
    post_batch(client, org, {"patients": [person("z1")]})
    body = get_performance(client, org, as_of=AS_OF)
    assert without_header(body) == figures(
        0,
        0,
        None,
        0,
        None,
        None,
        sms=(0, 0, 0, None),
        email=(0, 0, 0, None),
        phone=(0, 0, 0, None),
        our_performance="insufficient_data",
    )


def test_unanswered_outreach_has_a_rate_but_no_conversion_rate(
    client: TestClient, org: OrgFixture
) -> None:
    post_batch(
        client,
        org,
        {
            "patients": [person("z1"), person("z2")],
            "communications": [
                outbound("m1", "z1", "sms", "2026-06-10T09:00:00Z"),  # no receipt
                outbound(
                    "m2", "z1", "email", "2026-06-10T09:00:00Z", delivered_at="2026-06-10T09:01:00Z"
                ),
                outbound("m3", "z2", "phone", "2026-06-11T09:00:00Z"),
            ],
        },
    )
    body = get_performance(client, org, as_of=AS_OF)
    assert without_header(body) == figures(
        3,
        0,
        0.0,
        0,
        None,
        None,
        sms=(1, 0, 0, None),
        email=(1, 0, 0, None),
        phone=(1, 0, 0, None),
        our_performance="insufficient_data",
    )


# --- Timeframes -------------------------------------------------------------------------------
#
# Unanswered texts to one patient, at these instants (UTC); in parentheses, which of the
# last 7 (06-09..06-15), 30 (05-17..06-15) and 90 (03-18..06-15) days hold them in UTC.

TIMEFRAME_SENDS = [
    "2026-06-15T11:00:00Z",  # 7, 30, 90
    "2026-06-15T13:00:00Z",  # after as_of: none
    "2026-06-09T00:00:00Z",  # 7, 30, 90
    "2026-06-08T23:59:00Z",  # 30, 90
    "2026-05-17T00:00:00Z",  # 30, 90
    "2026-05-16T23:59:00Z",  # 90
    "2026-03-18T00:00:00Z",  # 90
    "2026-03-17T23:59:00Z",  # none
]


@pytest.fixture
def spread(client: TestClient, org: OrgFixture) -> OrgFixture:
    post_batch(
        client,
        org,
        {
            "patients": [person("s1", registered_at="2026-01-05T09:00:00Z")],
            "communications": [
                outbound(f"m{i}", "s1", "sms", sent) for i, sent in enumerate(TIMEFRAME_SENDS)
            ],
        },
    )
    return org


@pytest.mark.parametrize(
    ("timeframe", "start", "attempts"),
    [
        ("last_7_days", "2026-06-09", 2),
        ("last_30_days", "2026-05-17", 4),
        ("last_90_days", "2026-03-18", 6),
        (None, "2026-05-17", 4),
    ],
)
def test_timeframes_are_the_last_n_days(
    client: TestClient, spread: OrgFixture, timeframe: str | None, start: str, attempts: int
) -> None:
    params = {"as_of": AS_OF} | ({} if timeframe is None else {"timeframe": timeframe})
    body = get_performance(client, spread, **params)
    assert body["timeframe"] == (timeframe or "last_30_days")
    assert (body["period_start"], body["period_end"]) == (start, "2026-06-15")
    assert body["reengagement_metrics"]["outreach_attempts"] == attempts
    assert body["communication_channels"]["sms"]["sent"] == attempts
    assert body["reengagement_metrics"]["contact_success_rate"] == 0.0


def test_timeframes_are_the_clinics_days(client: TestClient, spread: OrgFixture) -> None:
    """In Sydney as_of is 06-15 22:00 (+10:00): 06-08 23:59Z is 06-09 09:59 there, 05-16
    23:59Z is 05-17 09:59, 03-17 23:59Z is 03-18 10:59 (+11:00): each moves into the window."""
    patch_settings(client, spread, {"timezone": "Australia/Sydney"})
    expected = {"last_7_days": 3, "last_30_days": 5, "last_90_days": 7}
    for timeframe, attempts in expected.items():
        body = get_performance(client, spread, as_of=AS_OF, timeframe=timeframe)
        assert body["reengagement_metrics"]["outreach_attempts"] == attempts, timeframe
        assert body["last_updated"] == "2026-06-15T22:00:00+10:00"
        assert body["period_end"] == "2026-06-15"
    # A bare date is the end of that day in Sydney: 06-15 23:59:59.999999+10:00.
    body = get_performance(client, spread, as_of="2026-06-15", timeframe="last_7_days")
    assert (body["period_start"], body["period_end"]) == ("2026-06-09", "2026-06-15")
    # 06-15 13:00Z is 23:00 in Sydney: before as_of
    assert body["reengagement_metrics"]["outreach_attempts"] == 4
    # An as_of of 06-14 22:00Z is 06-15 08:00 in Sydney: the same dates, fewer events.
    body = get_performance(client, spread, as_of="2026-06-14T22:00:00Z", timeframe="last_7_days")
    assert (body["period_start"], body["period_end"]) == ("2026-06-09", "2026-06-15")
    assert body["reengagement_metrics"]["outreach_attempts"] == 2


def test_events_after_as_of_are_not_counted(client: TestClient, org: OrgFixture) -> None:
    post_batch(
        client,
        org,
        {
            "patients": [person("e1")],
            "communications": [
                outbound(
                    "m1",
                    "e1",
                    "sms",
                    "2026-06-15T09:00:00Z",
                    delivered_at="2026-06-15T13:00:00Z",
                    responded_at="2026-06-15T14:00:00Z",
                ),
                outbound(
                    "m2",
                    "e1",
                    "email",
                    "2026-06-15T09:00:00Z",
                    opened_at="2026-06-15T11:00:00Z",
                    responded_at="2026-06-16T09:00:00Z",
                ),
                outbound(
                    "m3", "e1", "phone", "2026-06-15T11:59:00Z", connected_at="2026-06-15T12:00:01Z"
                ),
            ],
        },
    )
    body = get_performance(client, org, as_of=AS_OF)
    channels = body["communication_channels"]
    assert channels["sms"] == {"sent": 1, "delivered": 0, "responded": 0, "response_rate": None}
    assert channels["email"] == {"sent": 1, "opened": 1, "responded": 0, "response_rate": 0.0}
    assert channels["phone"]["connected"] == 0
    totals = body["reengagement_metrics"]
    assert (totals["outreach_attempts"], totals["successful_contacts"]) == (3, 0)
    later = get_performance(client, org, as_of="2026-06-16T12:00:00Z")
    totals = later["reengagement_metrics"]
    assert (totals["outreach_attempts"], totals["successful_contacts"]) == (3, 3)
    assert later["communication_channels"]["sms"]["delivered"] == 1


# --- Days to reengage --------------------------------------------------------------------------
#
# r1: text 06-01 unanswered, email 06-03 answered 06-08: spell 04-15..06-08, from 06-01: 7.
# r2: call 05-30 not connected, call 06-03 connected: from 05-30: 4.
# r3: wrote in 06-05 unprompted: a spell with no attempt, left out.
# r4: text 05-01 answered 05-10 (9 days; ended before the last 30 days); medium again
#     05-24, text 06-10 answered 06-12: 2.
# r5: discharged; call connected 06-01: not in the population, no spells.
# r6: text 06-10 unanswered: still at risk, left out.
# last 30 days: (7 + 4 + 2) / 3 = 4.33 -> 4.3; last 90: (7 + 4 + 9 + 2) / 4 = 5.5;
# last 7 days (06-09..06-15): only r4's 06-12: 2.0.


def reengaging() -> dict[str, list[dict[str, Any]]]:
    return {
        "patients": [
            person("r1"),
            person("r2"),
            person("r3"),
            person("r4"),
            person("r5", status="discharged"),
            person("r6"),
        ],
        "communications": [
            outbound("m1a", "r1", "sms", "2026-06-01T09:00:00Z"),
            outbound(
                "m1b", "r1", "email", "2026-06-03T09:00:00Z", responded_at="2026-06-08T10:00:00Z"
            ),
            outbound("m2a", "r2", "phone", "2026-05-30T09:00:00Z"),
            outbound(
                "m2b", "r2", "phone", "2026-06-03T09:00:00Z", connected_at="2026-06-03T09:02:00Z"
            ),
            inbound("m3", "r3", "2026-06-05T09:00:00Z"),
            outbound(
                "m4a", "r4", "sms", "2026-05-01T09:00:00Z", responded_at="2026-05-10T10:00:00Z"
            ),
            outbound(
                "m4b", "r4", "sms", "2026-06-10T09:00:00Z", responded_at="2026-06-12T10:00:00Z"
            ),
            outbound(
                "m5", "r5", "phone", "2026-06-01T09:00:00Z", connected_at="2026-06-01T09:02:00Z"
            ),
            outbound("m6", "r6", "sms", "2026-06-10T09:00:00Z"),
        ],
    }


@pytest.mark.parametrize(
    ("timeframe", "avg_days"),
    [("last_7_days", 2.0), ("last_30_days", 4.3), ("last_90_days", 5.5)],
)
def test_avg_days_to_reengage(
    client: TestClient, org: OrgFixture, timeframe: str, avg_days: float
) -> None:
    post_batch(client, org, reengaging())
    body = get_performance(client, org, as_of=AS_OF, timeframe=timeframe)
    assert body["reengagement_metrics"]["avg_days_to_reengage"] == avg_days


def test_avg_days_to_reengage_as_of_earlier(client: TestClient, org: OrgFixture) -> None:
    post_batch(client, org, reengaging())
    # As of 06-07 18:00 the last 30 days are 05-09..06-07: r2 (06-03, 4 days) and r4's
    # first spell (05-10, 9 days) had ended; r1's email was not answered yet.
    body = get_performance(client, org, as_of="2026-06-07T18:00:00Z")
    assert body["reengagement_metrics"]["avg_days_to_reengage"] == 6.5
    body = get_performance(client, org, as_of="2026-06-07T18:00:00Z", timeframe="last_7_days")
    assert body["reengagement_metrics"]["avg_days_to_reengage"] == 4.0
    # r5's call still counts as outreach: 7 attempts in the last 30 days as of as_of.
    body = get_performance(client, org, as_of=AS_OF)
    totals = body["reengagement_metrics"]
    assert (totals["outreach_attempts"], totals["successful_contacts"]) == (7, 4)


# --- Parameters and access ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["last_14_days", "30", "LAST_30_DAYS", ""])
def test_an_unknown_timeframe_is_refused_naming_the_allowed_values(
    client: TestClient, org: OrgFixture, value: str
) -> None:
    r = client.get(
        performance_url(org), params={"as_of": AS_OF, "timeframe": value}, headers=org.headers()
    )
    found = problems(r)
    assert list(found) == ["timeframe"], found
    for allowed in TIMEFRAME_VALUES:
        assert allowed in found["timeframe"], found


@pytest.mark.parametrize(
    ("params", "name"),
    [({"period": "30d"}, "period"), ({"time_frame": "last_7_days"}, "time_frame")],
)
def test_an_unknown_parameter_is_refused(
    client: TestClient, org: OrgFixture, params: dict[str, str], name: str
) -> None:
    r = client.get(performance_url(org), params={"as_of": AS_OF} | params, headers=org.headers())
    found = problems(r)
    assert list(found) == [name], found
    assert "as_of" in found[name] and "timeframe" in found[name]


def test_a_repeated_timeframe_is_refused(client: TestClient, org: OrgFixture) -> None:
    r = client.get(
        performance_url(org) + f"?as_of={AS_OF}&timeframe=last_7_days&timeframe=last_90_days",
        headers=org.headers(),
    )
    assert problems(r) == {"timeframe": "is given more than once; give it once"}


def test_who_may_read_performance(
    client: TestClient, org: OrgFixture, other_org: OrgFixture
) -> None:
    params = {"as_of": AS_OF}
    for role in ("admin", "staff", "viewer"):
        r = client.get(performance_url(org), params=params, headers=org.headers(role))
        assert r.status_code == 200, (role, r.text)
    assert (
        client.get(performance_url(org), params=params, headers=org.headers("ingest")).status_code
        == 403
    )
    assert client.get(performance_url(org), params=params).status_code == 401
    # Another org's key: 404, as for an org that does not exist.
    r = client.get(performance_url(org), params=params, headers=other_org.headers("admin"))
    assert r.status_code == 404
