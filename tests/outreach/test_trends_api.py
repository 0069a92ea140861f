"""/trends through HTTP: invariants against the other endpoints over random clinics, the
metrics filter, and parameter checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from reengage import clock
from tests.factories import OrgFixture, make_org
from tests.helpers import problems
from tests.strategies import BASE, ZONES, clinics

PERIOD_OF_TIMEFRAME = {"7d": "last_7_days", "30d": "last_30_days", "90d": "last_90_days"}


def _get(client: TestClient, org: OrgFixture, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/v1/reengagement/{org.id}{path}", params=params, headers=org.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clinic=clinics(),
    zone=st.sampled_from(ZONES),
    as_of_hours=st.integers(-30 * 24, 45 * 24),
    period=st.sampled_from(["7d", "30d", "90d"]),
)
def test_trends_agree_with_performance_and_risk_metrics(
    client: TestClient,
    engine: Engine,
    clinic: dict[str, list[dict[str, Any]]],
    zone: str,
    as_of_hours: int,
    period: str,
) -> None:
    with clock.frozen_at(BASE - timedelta(days=200)):
        org = make_org(engine, timezone=zone)
        r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
        assert r.status_code == 200, r.text
    as_of = (BASE + timedelta(hours=as_of_hours)).isoformat()
    trends = _get(client, org, "/trends", as_of=as_of, period=period)
    days = trends["daily_trends"]
    assert len(days) == {"7d": 7, "30d": 30, "90d": 90}[period]
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)
    assert (days[0]["date"], days[-1]["date"]) == (trends["period_start"], trends["period_end"])

    perf = _get(client, org, "/performance", as_of=as_of, timeframe=PERIOD_OF_TIMEFRAME[period])
    totals = perf["reengagement_metrics"]
    assert sum(d["outreach_attempts"] for d in days) == totals["outreach_attempts"]
    channels = perf["communication_channels"]
    assert totals["outreach_attempts"] == (
        channels["sms"]["sent"] + channels["email"]["sent"] + channels["phone"]["attempted"]
    )
    assert totals["successful_contacts"] == (
        channels["sms"]["responded"]
        + channels["email"]["responded"]
        + channels["phone"]["connected"]
    )
    assert totals["appointments_scheduled"] >= channels["phone"]["appointment_booked"]
    assert (perf["period_start"], perf["period_end"]) == (
        trends["period_start"],
        trends["period_end"],
    )

    changes = trends["risk_distribution_changes"]
    end = _get(client, org, "/risk-metrics", as_of=as_of)["risk_summary"]
    # The period's start is the end of the day before its first day: that date's end.
    day_before = (
        __import__("datetime").date.fromisoformat(trends["period_start"]) - timedelta(days=1)
    ).isoformat()
    start = _get(client, org, "/risk-metrics", as_of=day_before)["risk_summary"]
    assert (changes["critical_start"], changes["high_start"]) == (
        start["critical_risk"],
        start["high_risk"],
    )
    assert (changes["critical_end"], changes["high_end"]) == (
        end["critical_risk"],
        end["high_risk"],
    )
    assert changes["at_risk_start"] == (
        start["critical_risk"] + start["high_risk"] + start["medium_risk"]
    )
    assert changes["at_risk_end"] == end["critical_risk"] + end["high_risk"] + end["medium_risk"]
    assert changes["overall_improvement"] == (changes["at_risk_end"] < changes["at_risk_start"])


@pytest.mark.parametrize(
    ("metrics", "present", "daily_fields"),
    [
        (
            "risk_levels",
            {"daily_trends", "risk_distribution_changes"},
            {"date", "new_at_risk", "reengaged_successfully"},
        ),
        (
            "success_rates",
            {"daily_trends"},
            {"date", "outreach_attempts", "appointments_scheduled"},
        ),
        ("channel_performance", {"channel_performance_trends"}, None),
        (
            "channel_performance,success_rates",
            {"daily_trends", "channel_performance_trends"},
            {"date", "outreach_attempts", "appointments_scheduled"},
        ),
    ],
)
def test_what_is_not_asked_for_is_left_out(
    client: TestClient,
    org: OrgFixture,
    metrics: str,
    present: set[str],
    daily_fields: set[str] | None,
) -> None:
    body = _get(client, org, "/trends", as_of="2026-06-15", period="7d", metrics=metrics)
    optional = {"daily_trends", "channel_performance_trends", "risk_distribution_changes"}
    assert optional & set(body) == present
    if daily_fields is not None:
        assert all(set(day) == daily_fields for day in body["daily_trends"])
    if "channel_performance_trends" in present:
        # Nothing sent: every rate is missing, and the nulls are kept.
        assert body["channel_performance_trends"]["sms"] == {
            "current_rate": None,
            "previous_rate": None,
            "change_pct": None,
            "success_rate_trend": None,
        }


def test_default_is_30_days_and_all_metrics(client: TestClient, org: OrgFixture) -> None:
    body = _get(client, org, "/trends", as_of="2026-06-15")
    assert body["period"] == "30d" and len(body["daily_trends"]) == 30
    assert body["metrics"] == ["risk_levels", "success_rates", "channel_performance"]
    assert body["period_start"] == "2026-05-17" and body["period_end"] == "2026-06-15"
    assert body["risk_distribution_changes"] == {
        "critical_start": 0,
        "critical_end": 0,
        "high_start": 0,
        "high_end": 0,
        "at_risk_start": 0,
        "at_risk_end": 0,
        "critical_trend": "stable",
        "high_trend": "stable",
        "overall_improvement": False,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2w"}, "period"),
        ({"metrics": "risk_levels,nonsense"}, "metrics"),
        ({"metrics": ""}, "metrics"),
        ({"periods": "7d"}, "periods"),
    ],
)
def test_bad_parameters_are_refused(
    client: TestClient, org: OrgFixture, params: dict[str, str], field: str
) -> None:
    r = client.get(f"/api/v1/reengagement/{org.id}/trends", params=params, headers=org.headers())
    found = problems(r)
    assert list(found) == [field]
    if field == "metrics":
        assert "risk_levels, success_rates, channel_performance" in found[field]
