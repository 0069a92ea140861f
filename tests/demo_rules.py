"""The rules every generated clinic's records obey (the demo's and the benchmark's): each a
check over a clinic's rows, run by ``test_demo`` on the demo and by ``test_bench`` on the
benchmark's longer histories."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reengage.demo.generator import Row
from reengage.domain.records import communication_problems
from reengage.models import Appointment, Communication, Followup, Patient
from reengage.records.schemas import AppointmentIn, CommunicationIn, FollowupIn, PatientIn

AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


TIMEZONE = "Australia/Sydney"


MODELS: dict[str, Any] = {
    "patients": Patient,
    "appointments": Appointment,
    "communications": Communication,
    "followups": Followup,
}


SCHEMAS: dict[str, Any] = {
    "patients": PatientIn,
    "appointments": AppointmentIn,
    "communications": CommunicationIn,
    "followups": FollowupIn,
}


SERVER_COLUMNS = ("org_id", "received_at", "updated_at")


TIMESTAMPS = {
    "patients": ("registered_at", "received_at", "updated_at"),
    "appointments": ("starts_at", "booked_at", "received_at", "updated_at"),
    "communications": (
        "sent_at",
        "delivered_at",
        "opened_at",
        "responded_at",
        "connected_at",
        "failed_at",
        "received_at",
        "updated_at",
    ),
    "followups": ("due_at", "completed_at", "received_at", "updated_at"),
}


def _share(part: int, whole: int) -> float:
    assert whole > 0
    return 100 * part / whole


def check_rows_hold_exactly_the_model_columns_with_utc_datetimes(
    clinic: dict[str, list[Row]],
) -> None:
    for kind, model in MODELS.items():
        columns = set(model.__table__.columns.keys())
        assert clinic[kind], kind
        for row in clinic[kind]:
            assert set(row) == columns
            assert row["org_id"] == "org_demo"
            for name in TIMESTAMPS[kind]:
                value = row[name]
                assert value is None or value.utcoffset() == timedelta(0), (kind, name)


def check_every_record_passes_the_api_validation_unchanged(clinic: dict[str, list[Row]]) -> None:
    patient_ids = {p["id"] for p in clinic["patients"]}
    for kind, schema in SCHEMAS.items():
        ids = [row["id"] for row in clinic[kind]]
        assert len(ids) == len(set(ids)), f"duplicate {kind} ids"
        for row in clinic[kind]:
            record = {k: v for k, v in row.items() if k not in SERVER_COLUMNS}
            # Validated as the API would, and nothing altered by it (no stripping, no coercion).
            assert schema.model_validate(record).model_dump() == record
            if kind != "patients":
                assert row["patient_id"] in patient_ids
    for c in clinic["communications"]:
        assert (
            communication_problems(
                c["channel"], c["direction"], c["sent_at"], c, c["failure_reason"]
            )
            == []
        )


def check_nothing_happens_after_as_of_except_appointments_booked_before_it(
    clinic: dict[str, list[Row]],
) -> None:
    for kind, names in TIMESTAMPS.items():
        for row in clinic[kind]:
            for name in names:
                if kind == "appointments" and name == "starts_at":
                    continue
                value = row[name]
                assert value is None or value <= AS_OF, (kind, row["id"], name)
            assert row["received_at"] <= row["updated_at"]
    scheduled = [a for a in clinic["appointments"] if a["status"] == "scheduled"]
    assert scheduled
    for a in clinic["appointments"]:
        assert (a["starts_at"] > AS_OF) == (a["status"] == "scheduled"), a["id"]
        if a["booked_at"] is not None:
            assert a["booked_at"] < a["starts_at"]
    assert all(a["booked_at"] is not None for a in scheduled)


def check_outcome_rates_land_in_the_published_ranges(clinic: dict[str, list[Row]]) -> None:
    past = [a for a in clinic["appointments"] if a["starts_at"] <= AS_OF]
    statuses = Counter(a["status"] for a in past)
    assert 7 <= _share(statuses["no_show"], len(past)) <= 13
    assert 1 <= _share(statuses["late_cancelled"], len(past)) <= 6
    assert 2 <= _share(statuses["cancelled"], len(past)) <= 10

    out = [c for c in clinic["communications"] if c["direction"] == "outbound"]
    sms = [c for c in out if c["channel"] == "sms"]
    email = [c for c in out if c["channel"] == "email"]
    phone = [c for c in out if c["channel"] == "phone"]
    # The contract's own definitions of each channel's rate.
    delivered = [c for c in sms if c["delivered_at"] or c["responded_at"]]
    assert 40 <= _share(sum(bool(c["responded_at"]) for c in delivered), len(delivered)) <= 60
    opened = [c for c in email if c["opened_at"] or c["responded_at"]]
    assert 20 <= _share(sum(bool(c["responded_at"]) for c in opened), len(opened)) <= 35
    assert 35 <= _share(len(opened), len(email)) <= 75
    assert 20 <= _share(sum(bool(c["connected_at"]) for c in phone), len(phone)) <= 35
    for channel in (sms, email, phone):
        failed = [c for c in channel if c["failed_at"]]
        assert 1 <= _share(len(failed), len(channel)) <= 10
        assert all(c["failure_reason"] for c in failed)
        assert all(c["failure_reason"] is None for c in channel if c["failed_at"] is None)


def check_outreach_never_uses_an_opted_out_or_unreachable_channel(
    clinic: dict[str, list[Row]],
) -> None:
    patients = {p["id"]: p for p in clinic["patients"]}
    opted = Counter(channel for p in patients.values() for channel in p["opt_outs"])
    assert opted["sms"] > 0 and opted["email"] > 0 and opted["phone"] > 0
    assert any(p["email"] is None for p in patients.values())
    assert any(p["phone"] is None for p in patients.values())
    for p in patients.values():
        assert not set(p["communication_preferences"]) & set(p["opt_outs"])
    outbound = [c for c in clinic["communications"] if c["direction"] == "outbound"]
    assert outbound
    for c in outbound:
        p = patients[c["patient_id"]]
        assert c["channel"] not in p["opt_outs"], c["id"]
        assert p["email" if c["channel"] == "email" else "phone"] is not None, c["id"]


def check_contact_details_are_fake_and_well_formed(clinic: dict[str, list[Row]]) -> None:
    for p in clinic["patients"]:
        assert p["phone"] is None or re.fullmatch(r"\+614\d{8}", p["phone"])
        assert p["email"] is None or re.fullmatch(r"[a-z0-9.]+@example\.(com|org|net)", p["email"])


def check_appointments_fall_in_the_clinics_local_opening_hours(
    clinic: dict[str, list[Row]],
) -> None:
    zone = ZoneInfo(TIMEZONE)
    for a in clinic["appointments"]:
        local = a["starts_at"].astimezone(zone)
        assert local.weekday() != 6, a["id"]
        assert 7 <= local.hour < 20, a["id"]
        if local.weekday() == 5:
            assert local.hour < 13, a["id"]
