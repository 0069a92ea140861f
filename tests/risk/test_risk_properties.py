"""Invariants of GET /risk-metrics and GET /patients/prioritized over random small clinics.

Each example draws a clinic (patients of every status, appointments, communications and
followups with timestamps spread around a fixed as_of, all valid per the records API),
writes it with one POST /batch into a fresh org, and checks that the two endpoints agree with
each other and with a population computed here from what was drawn:

- the five tier counts add up to the population (active patients whose start is at or
  before as_of; start per the contract: registered_at, else the earliest timestamp of any of
  their records, else when the patient was first received);
- each alert count is the total of the list filtered by the matching ``action_required``;
- ``immediate_actions_required`` is the number of priority-1 patients in the list;
- paging through the list with any limit returns every listed patient once, sorted by the
  sort key with ties by patient id, the same on every call;
- the totals of the ``risk_level`` filters add up to the unfiltered total;
- each entry's ``risk_score`` is the contract's sum of its own figures and flags, counting
  at most three of the ``missed_appointments_last_90d`` it shows (which are uncapped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from reengage import clock
from tests.factories import OrgFixture, make_org
from tests.helpers import SUMMARY_KEYS

AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
AS_OF_TEXT = "2026-06-15T12:00:00Z"
TIERS = ("critical", "high", "medium", "low", "engaged")
ALERT_FOR_ACTION = {
    "missed_appt": "missed_appointments_14d",
    "failed_contact": "failed_communications",
    "overdue_followup": "overdue_followups",
    "no_future_appt": "no_future_appointments",
}
SORT_KEYS = {
    "risk_score": lambda p: (-p["risk_score"], p["id"]),
    "days_since_contact": lambda p: (-p["days_since_last_contact"], p["id"]),
    "next_action_date": lambda p: (p["next_action_date"], p["id"]),
}
# The contract's table: the optional timestamps an outbound communication of each channel
# may carry (an inbound one carries only sent_at).
ALLOWED_TIMESTAMPS = {
    "sms": ("delivered_at", "responded_at", "failed_at"),
    "email": ("delivered_at", "opened_at", "responded_at", "failed_at"),
    "phone": ("connected_at", "failed_at"),
}
OFFSETS = [UTC, timezone(timedelta(hours=10)), timezone(timedelta(hours=-4))]
ORG_ZONES = ["UTC", "Australia/Sydney", "America/New_York"]
# Mixed case, digits and punctuation: ties must break by the id's own order, whatever a
# database's collation would make of it.
ID_CHARS = "aAbB09-._:"
APPOINTMENT_STATUSES = ["scheduled", "completed", "no_show", "late_cancelled", "cancelled"]
CHANNELS = ["sms", "email", "phone"]

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Clinic:
    org_timezone: str
    settings_patch: dict[str, Any]  # PATCHed before the write, or after it
    patch_after_write: bool
    received_at: datetime  # when the batch arrives: the start of a patient with nothing else
    batch: dict[str, list[dict[str, Any]]]
    starts: dict[str, datetime]  # patient id -> start, worked out while drawing
    statuses: dict[str, str]


def instants(quiet_days: int, lively: bool) -> st.SearchStrategy[datetime]:
    """Instants to the minute in the 20 days before the patient went quiet ``quiet_days``
    before as_of; for a lively patient, also around as_of (a future booking, a late reply)."""

    def minutes(low_days: int, high_days: int) -> st.SearchStrategy[int]:
        return st.integers(min_value=low_days * 1440, max_value=high_days * 1440)

    before = minutes(-(quiet_days + 20), -quiet_days)
    drawn = st.one_of(before, before, minutes(-14, 20)) if lively else before
    return drawn.map(lambda m: AS_OF + timedelta(minutes=m))


def later(start: datetime) -> st.SearchStrategy[datetime]:
    """An instant at or after ``start``, within three days."""
    return st.integers(min_value=0, max_value=3 * 1440).map(
        lambda minutes: start + timedelta(minutes=minutes)
    )


@st.composite
def written(draw: st.DrawFn, instant: datetime) -> str:
    """The instant as ISO 8601 with one of several offsets."""
    return instant.astimezone(draw(st.sampled_from(OFFSETS))).isoformat()


def patient_ids(count: int) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.builds(
            lambda first, rest: first + rest,
            st.sampled_from([c for c in ID_CHARS if c.isalnum()]),
            st.text(alphabet=ID_CHARS, max_size=2),
        ),
        min_size=count,
        max_size=count,
        unique=True,
    )


settings_patches = st.fixed_dictionaries(
    {},
    optional={
        "booked_patients_are_engaged": st.booleans(),
        "tier_thresholds": st.sampled_from(
            [
                {"low": 3, "medium": 10, "high": 20, "critical": 35},
                {"low": 1, "medium": 2, "high": 3, "critical": 60},
            ]
        ),
        "attribution_window_days": st.sampled_from([3, 30]),
    },
)


@st.composite
def clinics(draw: st.DrawFn) -> Clinic:
    pids = draw(patient_ids(draw(st.sampled_from(range(3, 9)))))
    received_at = draw(st.sampled_from([AS_OF - timedelta(days=200), AS_OF + timedelta(days=1)]))
    channel_lists = st.lists(st.sampled_from(CHANNELS), unique=True)
    patients: list[dict[str, Any]] = []
    appointments: list[dict[str, Any]] = []
    communications: list[dict[str, Any]] = []
    followups: list[dict[str, Any]] = []
    starts: dict[str, datetime] = {}
    statuses: dict[str, str] = {}
    for n, pid in enumerate(pids):
        stamps: list[datetime] = []  # every timestamp of this patient's records
        status = draw(st.sampled_from(["active"] * 6 + ["discharged", "inactive", "deceased"]))
        quiet_days = draw(st.sampled_from(range(71)))
        lively = draw(st.booleans())
        registered = draw(st.none() | instants(quiet_days + 60, lively))
        patients.append(
            {
                "id": pid,
                "name": f"Generated Patient {n}",
                "phone": draw(st.none() | st.just(f"+6140000{n:04d}")),
                "email": draw(st.none() | st.just(f"patient{n}@example.org")),
                "status": status,
                "registered_at": None if registered is None else draw(written(registered)),
                "communication_preferences": draw(channel_lists),
                "opt_outs": draw(channel_lists),
            }
        )
        for i in range(draw(st.sampled_from(range(4)))):
            starts_at = draw(instants(quiet_days, lively))
            booked_at = draw(st.none() | instants(quiet_days, lively))
            stamps += [starts_at] + ([booked_at] if booked_at else [])
            appointments.append(
                {
                    "id": f"a{n}-{i}",
                    "patient_id": pid,
                    "starts_at": draw(written(starts_at)),
                    "status": draw(st.sampled_from(APPOINTMENT_STATUSES)),
                    "booked_at": None if booked_at is None else draw(written(booked_at)),
                }
            )
        for i in range(draw(st.sampled_from(range(5)))):
            channel = draw(st.sampled_from(CHANNELS))
            outbound = draw(st.booleans())
            sent_at = draw(instants(quiet_days, lively))
            stamps.append(sent_at)
            record: dict[str, Any] = {
                "id": f"c{n}-{i}",
                "patient_id": pid,
                "channel": channel,
                "direction": "outbound" if outbound else "inbound",
                "sent_at": draw(written(sent_at)),
            }
            for name in ALLOWED_TIMESTAMPS[channel] if outbound else ():
                if draw(st.booleans()):
                    at = draw(later(sent_at))
                    stamps.append(at)
                    record[name] = draw(written(at))
            if "failed_at" in record and draw(st.booleans()):
                record["failure_reason"] = "carrier rejected"
            communications.append(record)
        for i in range(draw(st.sampled_from(range(3)))):
            due_at = draw(instants(quiet_days, lively))
            completed_at = draw(st.none() | instants(quiet_days, lively))
            stamps += [due_at] + ([completed_at] if completed_at else [])
            followups.append(
                {
                    "id": f"f{n}-{i}",
                    "patient_id": pid,
                    "due_at": draw(written(due_at)),
                    "completed_at": None if completed_at is None else draw(written(completed_at)),
                }
            )
        starts[pid] = registered if registered is not None else min(stamps, default=received_at)
        statuses[pid] = status
    return Clinic(
        org_timezone=draw(st.sampled_from(ORG_ZONES)),
        settings_patch=draw(settings_patches),
        patch_after_write=draw(st.booleans()),
        received_at=received_at,
        batch={
            "patients": patients,
            "appointments": appointments,
            "communications": communications,
            "followups": followups,
        },
        starts=starts,
        statuses=statuses,
    )


def analytics(client: TestClient, org: OrgFixture, path: str, **params: Any) -> Any:
    r = client.get(
        f"/api/v1/reengagement/{org.id}{path}",
        params={"as_of": AS_OF_TEXT} | params,
        headers=org.headers("staff"),
    )
    assert r.status_code == 200, r.text
    return r.json()


def whole_list(client: TestClient, org: OrgFixture, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = analytics(client, org, "/patients/prioritized", limit=500, **params)
    assert len(body["patients"]) == body["summary"]["total"]  # small clinics: one page
    return body


def paged(
    client: TestClient, org: OrgFixture, limit: int, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every entry, page by page, and the total each page reported (all the same)."""
    entries: list[dict[str, Any]] = []
    totals: set[int] = set()
    offset = 0
    while True:
        body = analytics(client, org, "/patients/prioritized", limit=limit, offset=offset, **params)
        assert (body["limit"], body["offset"]) == (limit, offset)
        assert len(body["patients"]) <= limit
        totals.add(body["summary"]["total"])
        entries += body["patients"]
        if len(body["patients"]) < limit:
            break
        offset += limit
    assert len(totals) == 1, totals
    return entries, totals.pop()


def set_up(client: TestClient, engine: Engine, clinic: Clinic) -> OrgFixture:
    org = make_org(engine, timezone=clinic.org_timezone)

    def patch_settings() -> None:
        r = client.patch(
            org.url("/settings"), json=clinic.settings_patch, headers=org.headers("admin")
        )
        assert r.status_code == 200, r.text

    if not clinic.patch_after_write:
        patch_settings()
    with clock.frozen_at(clinic.received_at):
        r = client.post(org.url("/batch"), json=clinic.batch, headers=org.headers("ingest"))
    assert r.status_code == 200, r.text
    if clinic.patch_after_write:
        patch_settings()
    return org


@PROPERTY_SETTINGS
@given(
    clinic=clinics(),
    limits=st.fixed_dictionaries({key: st.integers(1, 7) for key in SORT_KEYS}),
)
def test_metrics_and_list_agree_over_random_clinics(
    client: TestClient, engine: Engine, clinic: Clinic, limits: dict[str, int]
) -> None:
    org = set_up(client, engine, clinic)
    population = {
        pid
        for pid, status in clinic.statuses.items()
        if status == "active" and clinic.starts[pid] <= AS_OF
    }
    metrics = analytics(client, org, "/risk-metrics")
    assert metrics["organization_id"] == org.id
    assert datetime.fromisoformat(metrics["last_updated"]) == AS_OF
    risk_summary = metrics["risk_summary"]
    assert set(risk_summary) == set(SUMMARY_KEYS.values())
    tiers = {tier: risk_summary[SUMMARY_KEYS[tier]] for tier in TIERS}
    assert sum(tiers.values()) == len(population)

    full = whole_list(client, org)
    entries = {p["id"]: p for p in full["patients"]}
    assert len(entries) == len(full["patients"])
    assert set(entries) <= population
    summary = full["summary"]

    # Paging, each sort order: every listed patient exactly once, sorted, stable.
    for sort_by, key in SORT_KEYS.items():
        pages, total = paged(client, org, limits[sort_by], sort_by=sort_by)
        ids = [p["id"] for p in pages]
        assert len(ids) == len(set(ids)) == total == summary["total"]
        assert set(ids) == set(entries)
        assert pages == sorted(pages, key=key), sort_by
        for entry in pages:
            assert entry == entries[entry["id"]]
        once = whole_list(client, org, sort_by=sort_by)
        assert once["patients"] == pages
        assert whole_list(client, org, sort_by=sort_by) == once

    # Priority 1 patients are immediate actions, all of them listed.
    priority_one = sum(1 for p in full["patients"] if p["action_priority"] == 1)
    assert metrics["immediate_actions_required"] == priority_one
    assert summary["immediate_action_required"] == priority_one

    # Alerts are the lengths of the lists filtered by action_required.
    for action, alert in ALERT_FOR_ACTION.items():
        filtered = whole_list(client, org, action_required=action)
        assert filtered["summary"]["total"] == metrics["alerts"][alert], action
        assert [p["id"] for p in filtered["patients"]] == [
            p["id"] for p in full["patients"] if action in p["action_required"]
        ]

    # The risk_level filters partition the list; every patient of a tier other than
    # engaged has something to do, so is listed.
    by_tier = Counter(p["risk_level"] for p in full["patients"])
    filtered_totals = 0
    for tier in TIERS:
        filtered = whole_list(client, org, risk_level=tier)
        assert [p["id"] for p in filtered["patients"]] == [
            p["id"] for p in full["patients"] if p["risk_level"] == tier
        ]
        assert filtered["summary"]["total"] == by_tier[tier]
        if tier == "engaged":
            assert by_tier[tier] <= tiers[tier]
        else:
            assert by_tier[tier] == tiers[tier], tier
        filtered_totals += filtered["summary"]["total"]
    assert filtered_totals == summary["total"]
    assert whole_list(client, org, risk_level="all") == full
    assert summary["total_at_risk"] == tiers["critical"] + tiers["high"] + tiers["medium"]

    # The score from the entry's own figures: min(days, 60), 15 with nothing booked, 5 per
    # missed visit of the last 90 days up to 3, 5 for each of failed contact and overdue
    # follow-up (at most 100: never capped). A missed-appointment flag (a missed visit in
    # the last 14 days) is one of the last 90 days too.
    for pid, entry in entries.items():
        flags = entry["action_required"]
        missed = entry["missed_appointments_last_90d"]
        assert entry["risk_score"] == (
            min(entry["days_since_last_contact"], 60)
            + 15 * ("no_future_appt" in flags)
            + 5 * min(missed, 3)
            + 5 * ("failed_contact" in flags)
            + 5 * ("overdue_followup" in flags)
        ), pid
        assert missed >= 0 and (missed >= 1 or "missed_appt" not in flags), pid

    # Consent: never an opted-out channel, never one the patient cannot be reached on.
    records = {p["id"]: p for p in clinic.batch["patients"]}
    for pid, entry in entries.items():
        assert entry["recommended_action"] != "none"
        channel = entry["recommended_channel"]
        if entry["recommended_action"] == "routine_monitoring":
            assert channel is None
        if channel is not None:
            assert channel not in records[pid]["opt_outs"], pid
            assert records[pid]["email" if channel == "email" else "phone"] is not None, pid
