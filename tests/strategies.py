"""Hypothesis strategies, in one home: random clinics for the property tests of the read
paths (``clinics``), and the domain's random histories (``scenario``). Test modules import
them from here, never from each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from reengage.domain.history import Appointment, Communication, PatientHistory
from reengage.domain.settings import OrgSettings
from tests.domain.builders import AS_OF, appt, call, email, inbound, patient, sms, thresholds

BASE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


ZONES = ["UTC", "Australia/Sydney", "America/New_York"]


offsets = st.integers(min_value=-120 * 24, max_value=30 * 24).map(lambda h: timedelta(hours=h))


# The late as_of of ``_check_agreement``, after every record: the stored standings answer
# there (as at test_stored_standings' START, 41 days after BASE).
LATE = timedelta(days=60)


def _first_of_90_days(after_base: timedelta) -> timedelta:
    """Where the first of the last 90 days of BASE + ``after_base`` begins in UTC (the date
    is the same in every zone of ZONES: 12:00Z is 22:00 in Sydney, 08:00 in New York)."""
    day = (BASE + after_base).date() - timedelta(days=89)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - BASE


# Within 36 hours of it: either side of that day's start in every zone of ZONES.
near_the_edges = st.sampled_from(
    [_first_of_90_days(LATE), _first_of_90_days(timedelta(days=41))]
).flatmap(lambda edge: st.integers(-36, 36).map(lambda h: edge + timedelta(hours=h)))


def _at(delta: timedelta) -> str:
    return (BASE + delta).isoformat()


ALL_STATUSES = ["scheduled", "completed", "no_show", "late_cancelled", "cancelled"]


MISSED = ["no_show", "late_cancelled"]


def _appointment(
    draw: st.DrawFn,
    aid: str,
    pid: str,
    starts_in: st.SearchStrategy[timedelta],
    statuses: list[str],
) -> dict[str, Any]:
    """A visit starting at a drawn offset, booked up to 40 days before it (or a day after:
    a late import), or with no booking time."""
    starts = draw(starts_in)
    booked = draw(st.one_of(st.none(), st.integers(-40 * 24, 24).map(lambda h: timedelta(hours=h))))
    return {
        "id": aid,
        "patient_id": pid,
        "starts_at": _at(starts),
        "status": draw(st.sampled_from(statuses)),
        "booked_at": None if booked is None else _at(starts + booked),
    }


@st.composite
def clinics(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    n = draw(st.integers(min_value=1, max_value=6))
    batch: dict[str, list[dict[str, Any]]] = {
        "patients": [],
        "appointments": [],
        "communications": [],
        "followups": [],
    }
    for i in range(n):
        pid = f"p{i}"
        batch["patients"].append(
            {
                "id": pid,
                "name": f"Fake Person {i}",
                "status": draw(st.sampled_from(["active", "active", "active", "discharged"])),
                "phone": draw(st.sampled_from([None, "+61400000000"])),
                "email": draw(st.sampled_from([None, "x@example.org"])),
                "registered_at": draw(st.one_of(st.none(), offsets.map(_at))),
                "opt_outs": draw(st.lists(st.sampled_from(["sms", "email", "phone"]), unique=True)),
            }
        )
        for j in range(draw(st.integers(0, 4))):
            batch["appointments"].append(
                _appointment(draw, f"a{i}-{j}", pid, offsets, ALL_STATUSES)
            )
        # A run of missed visits, some near the start of the 90 days the list counts them
        # over at the late as_ofs: more than the score's 3, and either side of the window's
        # first instant, so that the list's uncapped count is compared where it matters.
        for j in range(draw(st.sampled_from([0, 0, 1, 4, 5]))):
            batch["appointments"].append(
                _appointment(draw, f"a{i}-m{j}", pid, st.one_of(offsets, near_the_edges), MISSED)
            )
        for j in range(draw(st.integers(0, 4))):
            sent = draw(offsets)
            channel = draw(st.sampled_from(["sms", "email", "phone"]))
            direction = draw(st.sampled_from(["outbound", "outbound", "inbound"]))
            record: dict[str, Any] = {
                "id": f"c{i}-{j}",
                "patient_id": pid,
                "channel": channel,
                "direction": direction,
                "sent_at": _at(sent),
            }
            if direction == "outbound":
                later = sent + timedelta(hours=draw(st.integers(0, 72)))
                outcome = draw(st.sampled_from(["none", "success", "failed"]))
                if outcome == "success":
                    record["connected_at" if channel == "phone" else "responded_at"] = _at(later)
                elif outcome == "failed":
                    record["failed_at"] = _at(later)
            batch["communications"].append(record)
        for j in range(draw(st.integers(0, 2))):
            due = draw(offsets)
            done = draw(st.one_of(st.none(), st.integers(-240, 240)))
            batch["followups"].append(
                {
                    "id": f"f{i}-{j}",
                    "patient_id": pid,
                    "due_at": _at(due),
                    "completed_at": None if done is None else _at(due + timedelta(hours=done)),
                }
            )
    return batch


# as_of around June (no clock changes) and across Sydney's and Santiago's changes.
SPELL_BASES = st.sampled_from(
    [
        AS_OF,
        datetime(2024, 10, 20, 3, 30, tzinfo=UTC),  # Sydney went to +11 on 6 October
        datetime(2024, 4, 20, 23, 10, tzinfo=UTC),  # Sydney and Santiago went back on 7 April
        datetime(2024, 9, 20, 4, 0, tzinfo=UTC),  # Santiago went forward on 8 September
    ]
)


SPELL_ZONES = st.sampled_from(["UTC", "Australia/Sydney", "America/Santiago", "Pacific/Kiritimati"])


SPELL_THRESHOLDS = st.sampled_from([(7, 14, 30, 45), (2, 4, 6, 8), (1, 3, 20, 21), (3, 9, 10, 40)])


@st.composite
def scenario(draw: st.DrawFn) -> tuple[PatientHistory, datetime, OrgSettings]:
    as_of = draw(SPELL_BASES)
    # Instants from 60 days before as_of to 5 days after, to the minute.
    instant = st.integers(-5 * 24 * 60, 60 * 24 * 60).map(lambda m: as_of - timedelta(minutes=m))
    later = st.one_of(st.none(), st.integers(0, 6 * 24 * 60))

    def after(t: datetime, minutes: int | None) -> datetime | None:
        return None if minutes is None else t + timedelta(minutes=minutes)

    records: list[Appointment | Communication] = []
    for _ in range(draw(st.integers(0, 4))):
        status = draw(
            st.sampled_from(["scheduled", "completed", "no_show", "late_cancelled", "cancelled"])
        )
        records.append(appt(draw(instant), status, draw(st.one_of(st.none(), instant))))
    for _ in range(draw(st.integers(0, 5))):
        sent = draw(instant)
        channel = draw(st.sampled_from(["sms", "email", "phone"]))
        answered = after(sent, draw(later))
        if draw(st.booleans()):
            records.append(inbound(sent, channel))
        elif channel == "phone":
            records.append(call(sent, connected_at=answered))
        elif channel == "sms":
            records.append(sms(sent, responded_at=answered))
        else:
            records.append(email(sent, responded_at=answered))
    history = patient(
        *records,
        registered_at=draw(st.one_of(st.none(), instant)),
        received_at=draw(instant),
        status=draw(st.sampled_from(["active", "active", "active", "discharged"])),
    )
    s = OrgSettings(
        timezone=draw(SPELL_ZONES),
        tier_thresholds=thresholds(*draw(SPELL_THRESHOLDS)),
        booked_patients_are_engaged=draw(st.booleans()),
    )
    return history, as_of, s


days_before = st.integers(min_value=0, max_value=75 * 24).map(lambda h: -timedelta(hours=h))


@st.composite
def drifting_clinics(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Each patient: a last visit up to 75 days before BASE, then outreach attempts, some
    answered, some followed by a booking."""
    batch: dict[str, list[dict[str, Any]]] = {
        "patients": [],
        "appointments": [],
        "communications": [],
    }
    for i in range(draw(st.integers(1, 6))):
        pid = f"p{i}"
        batch["patients"].append(
            {
                "id": pid,
                "name": f"Fake Person {i}",
                "status": draw(st.sampled_from(["active", "active", "active", "discharged"])),
                "phone": "+61400000000",
                "registered_at": _at(-timedelta(days=200)),
            }
        )
        visit = draw(days_before)
        batch["appointments"].append(
            {"id": f"a{i}", "patient_id": pid, "starts_at": _at(visit), "status": "completed"}
        )
        for j in range(draw(st.integers(0, 4))):
            sent = draw(days_before)
            channel = draw(st.sampled_from(["sms", "phone", "email"]))
            answer = draw(st.one_of(st.none(), st.integers(1, 72)))
            record: dict[str, Any] = {
                "id": f"c{i}-{j}",
                "patient_id": pid,
                "channel": channel,
                "direction": "outbound",
                "sent_at": _at(sent),
            }
            if answer is not None:
                field = "connected_at" if channel == "phone" else "responded_at"
                record[field] = _at(sent + timedelta(hours=answer))
                if draw(st.booleans()):
                    batch["appointments"].append(
                        {
                            "id": f"b{i}-{j}",
                            "patient_id": pid,
                            "starts_at": _at(sent + timedelta(days=draw(st.integers(2, 30)))),
                            "booked_at": _at(sent + timedelta(hours=answer + 1)),
                            "status": "scheduled",
                        }
                    )
            batch["communications"].append(record)
    return batch
