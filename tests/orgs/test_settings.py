"""GET and PATCH /settings: the contract's defaults, merge-patch semantics, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reengage.models import Org
from tests.factories import OrgFixture
from tests.helpers import problems

DEFAULTS = {
    "timezone": "UTC",
    "tier_thresholds": {"low": 7, "medium": 14, "high": 30, "critical": 45},
    "booked_patients_are_engaged": True,
    "attribution_window_days": 14,
    "benchmarks": {"industry_avg_contact_rate": 55.0, "industry_avg_conversion": 68.0},
    "weekly_contact_target": 25,
    "checkins_daily_cap": 200,
    "kpis": {
        "period_days": 90,
        "baseline_start": None,
        "baseline_end": None,
        "targets": {
            "time_to_first_outreach_reduction_pct": 50.0,
            "contact_conversion_rate": 70.0,
            "critical_share": 5.0,
            "outreach_bookings_increase_pct": 25.0,
        },
    },
    # The defaults: every rule on, the seed's 5% and 70%, the digest at 07:30.
    "alerts": {
        "missed_appointment": {"enabled": True},
        "failed_contact": {"enabled": True},
        "followup_overdue": {"enabled": True},
        "turned_critical": {"enabled": True},
        "critical_share": {"enabled": True, "above_pct": 5.0},
        "low_conversion": {"enabled": True, "below_pct": 70.0, "days": 30},
        "at_risk_rising": {"enabled": True, "days": 3},
        "webhook_disabled": {"enabled": True},
    },
    "digest": {"enabled": True, "recipients": [], "at": "07:30"},
}


def get(client: TestClient, org: OrgFixture) -> Any:
    r = client.get(org.url("/settings"), headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()


def patch(client: TestClient, org: OrgFixture, body: Any) -> Any:
    return client.patch(org.url("/settings"), json=body, headers=org.headers())


def stored(engine: Engine, org_id: str) -> Any:
    with engine.connect() as conn:
        return conn.scalar(select(Org.__table__.c.settings).where(Org.__table__.c.id == org_id))


def test_defaults_are_the_contracts(client: TestClient, org: OrgFixture) -> None:
    assert get(client, org) == DEFAULTS


def test_patch_merges_nested_objects(client: TestClient, engine: Engine, org: OrgFixture) -> None:
    r = patch(client, org, {"tier_thresholds": {"low": 10}, "timezone": "Australia/Sydney"})
    assert r.status_code == 200, r.text
    want = DEFAULTS | {
        "timezone": "Australia/Sydney",
        "tier_thresholds": DEFAULTS["tier_thresholds"] | {"low": 10},
    }
    assert r.json() == want
    # A second patch merges over the first, not over the defaults.
    r = patch(client, org, {"benchmarks": {"industry_avg_conversion": 70.5}})
    assert r.status_code == 200, r.text
    want["benchmarks"] = {"industry_avg_contact_rate": 55.0, "industry_avg_conversion": 70.5}
    assert r.json() == want
    assert get(client, org) == want
    assert stored(engine, org.id) == want
    # An empty patch changes nothing.
    assert patch(client, org, {}).json() == want


def test_null_restores_the_default(client: TestClient, org: OrgFixture) -> None:
    changed = {
        "timezone": "Europe/Berlin",
        "tier_thresholds": {"low": 3, "medium": 10, "high": 20, "critical": 60},
        "booked_patients_are_engaged": False,
        "attribution_window_days": 30,
        "benchmarks": {"industry_avg_contact_rate": 40, "industry_avg_conversion": 50},
    }
    assert patch(client, org, changed).status_code == 200
    r = patch(client, org, {"tier_thresholds": {"critical": None}, "timezone": None})
    assert r.status_code == 200, r.text
    assert r.json()["timezone"] == "UTC"
    assert r.json()["tier_thresholds"] == {"low": 3, "medium": 10, "high": 20, "critical": 45}
    assert r.json()["booked_patients_are_engaged"] is False
    r = patch(
        client,
        org,
        {
            "tier_thresholds": None,
            "benchmarks": None,
            "attribution_window_days": None,
            "booked_patients_are_engaged": None,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == DEFAULTS
    assert get(client, org) == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field", "word"),
    [
        ({"tier_thresholds": {"low": 20}}, "tier_thresholds", "strictly increasing"),
        ({"tier_thresholds": {"high": 14}}, "tier_thresholds", "strictly increasing"),
        (
            {"tier_thresholds": {"low": 45, "medium": 30, "high": 14, "critical": 7}},
            "tier_thresholds",
            "strictly increasing",
        ),
        ({"tier_thresholds": {"low": 0}}, "tier_thresholds.low", "greater than or equal to 1"),
        ({"tier_thresholds": {"medium": "14"}}, "tier_thresholds.medium", "integer"),
        ({"tier_thresholds": {"extreme": 90}}, "tier_thresholds.extreme", "not permitted"),
        ({"tier_thresholds": 30}, "tier_thresholds", "dictionary"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"timezone": "utc"}, "timezone", "IANA"),
        ({"timezone": ""}, "timezone", "IANA"),
        ({"timezone": 10}, "timezone", "string"),
        ({"booked_patients_are_engaged": "yes"}, "booked_patients_are_engaged", "boolean"),
        ({"booked_patients_are_engaged": 1}, "booked_patients_are_engaged", "boolean"),
        ({"attribution_window_days": 0}, "attribution_window_days", "greater than or equal to 1"),
        ({"attribution_window_days": 366}, "attribution_window_days", "less than or equal"),
        ({"attribution_window_days": 14.5}, "attribution_window_days", "integer"),
        ({"attribution_window_days": "14"}, "attribution_window_days", "integer"),
        ({"attribution_window_days": True}, "attribution_window_days", "integer"),
        (
            {"benchmarks": {"industry_avg_contact_rate": 100.5}},
            "benchmarks.industry_avg_contact_rate",
            "less than or equal to 100",
        ),
        (
            {"benchmarks": {"industry_avg_conversion": -1}},
            "benchmarks.industry_avg_conversion",
            "greater than or equal to 0",
        ),
        (
            {"benchmarks": {"industry_avg_conversion": "70"}},
            "benchmarks.industry_avg_conversion",
            "number",
        ),
        (
            {"benchmarks": {"industry_avg_contact_rate": True}},
            "benchmarks.industry_avg_contact_rate",
            "number",
        ),
        ({"benchmarks": {"median": 50}}, "benchmarks.median", "not permitted"),
        ({"theme": "dark"}, "theme", "not permitted"),
        # null for a name that is not a setting: a typo, refused rather than a silent no-op
        ({"timezon": None}, "timezon", "not permitted"),
        ({"tier_thresholds": {"severe": None}}, "tier_thresholds.severe", "not permitted"),
    ],
)
def test_invalid_settings_are_refused_and_change_nothing(
    client: TestClient, engine: Engine, org: OrgFixture, body: Any, field: str, word: str
) -> None:
    assert patch(client, org, {"attribution_window_days": 21}).status_code == 200
    before = get(client, org)
    row_before = stored(engine, org.id)
    found = problems(patch(client, org, body))
    assert list(found) == [field], found
    assert word in found[field]
    assert get(client, org) == before
    assert stored(engine, org.id) == row_before


def test_patch_body_must_be_an_object(client: TestClient, org: OrgFixture) -> None:
    found = problems(patch(client, org, [{"timezone": "UTC"}]))
    assert list(found) == ["body"]
    assert get(client, org) == DEFAULTS


def test_refused_patch_with_valid_parts_keeps_none_of_them(
    client: TestClient, org: OrgFixture
) -> None:
    body = {"timezone": "Asia/Tokyo", "attribution_window_days": 400}
    assert list(problems(patch(client, org, body))) == ["attribution_window_days"]
    assert get(client, org) == DEFAULTS
