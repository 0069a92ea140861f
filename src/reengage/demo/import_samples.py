"""Sample files for the built-in CSV profiles: generated fake people, written the way each
practice system exports them, with the records the same data makes through ``POST /batch``.

``python -m reengage.demo.import_samples docs/imports/samples`` writes them; a test checks
that the shipped files are what this writes, and that importing each gives the same figures
as sending its records through the batch API.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

TIMEZONE = "Australia/Sydney"
ZONE = ZoneInfo(TIMEZONE)
FIRST = ["Ava", "Noah", "Mia", "Leo", "Isla", "Jack", "Zoe", "Eli", "Ruby", "Finn", "Ivy", "Max"]
LAST = ["Testwood", "Samplesby", "Fakeham", "Demoson", "Placeford", "Mockridge", "Nullbury"]
# Every visit is long past or far ahead, so a profile's "past" rule answers the same on any
# day the test runs.
PAST_START = datetime(2025, 3, 3, 8, 0, tzinfo=ZONE)
FUTURE_START = datetime(2031, 3, 3, 8, 0, tzinfo=ZONE)


@dataclass
class Sample:
    profile: str
    text: str  # the CSV file, as the system writes it
    patients: list[dict[str, Any]]  # the same data as records for POST /batch
    appointments: list[dict[str, Any]]
    # Records the org must have before the file is imported (an appointments-only export
    # names patients a patients export brought in).
    prior_patients: list[dict[str, Any]]
    communications: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)


def _people(rng: random.Random, count: int) -> list[dict[str, Any]]:
    people = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append(
            {
                "n": n,
                "first": first,
                "last": last,
                "mobile": f"0412{rng.randrange(100_000, 999_999)}" if rng.random() < 0.8 else "",
                "email": f"{first.lower()}.{last.lower()}{n}@example.com"
                if rng.random() < 0.7
                else "",
                "registered": PAST_START - timedelta(days=rng.randrange(30, 900)),
                "archived": rng.random() < 0.1,
                "sms_ok": rng.random() < 0.85,
                "email_ok": rng.random() < 0.6,
            }
        )
    return people


def _visits(rng: random.Random, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    visits = []
    number = 0
    for person in people:
        for _ in range(rng.randrange(1, 6)):
            number += 1
            future = rng.random() < 0.15
            base = FUTURE_START if future else PAST_START
            starts = base + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(0, 9))
            outcome = (
                "scheduled" if future else rng.choice(["completed"] * 6 + ["no_show", "cancelled"])
            )
            if future and rng.random() < 0.1:
                outcome = "cancelled"
            visits.append(
                {
                    "n": number,
                    "person": person,
                    "starts": starts,
                    "booked": starts - timedelta(days=rng.randrange(1, 40), hours=3),
                    "status": outcome,
                    "type": rng.choice(["Initial consult", "Follow-up", "Review"]),
                    "practitioner": rng.choice(["Dr Sample", "Dr Example"]),
                }
            )
    return visits


def _csv(header: list[str], rows: list[list[str]], delimiter: str = ",", crlf: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _patient_record(p: dict[str, Any], pid: str, full: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": pid,
        "name": f"{p['first']} {p['last']}",
        "status": "inactive" if p["archived"] and full else "active",
    }
    if full:
        if p["mobile"]:
            record["phone"] = "+61" + p["mobile"][1:]
        if p["email"]:
            record["email"] = p["email"]
        record["registered_at"] = _iso(p["registered"])
    return record


def cliniko_patients(rng: random.Random) -> Sample:
    people = _people(rng, 40)
    header = [
        "Patient ID", "First Name", "Last Name", "Mobile", "Home Phone", "Email", "Created At",
        "Referral Source", "Archived At", "Accepted SMS Marketing", "Accepted Email Marketing",
    ]  # fmt: skip
    rows, records = [], []
    for p in people:
        pid = f"{100200 + p['n']:08d}"
        mobile = p["mobile"]
        rows.append(
            [
                f'="{pid}"',
                p["first"],
                p["last"],
                f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}" if mobile else "",
                "",
                p["email"],
                p["registered"].strftime("%d/%m/%Y %I:%M %p"),
                "GP referral" if p["n"] % 3 == 0 else "",
                "01/02/2026 10:00 AM" if p["archived"] else "",
                "Yes" if p["sms_ok"] else "No",
                "Yes" if p["email_ok"] else "No",
            ]
        )
        record = _patient_record(p, pid)
        opt_outs = [c for c, ok in (("sms", p["sms_ok"]), ("email", p["email_ok"])) if not ok]
        if opt_outs:
            record["opt_outs"] = opt_outs
        if p["n"] % 3 == 0:
            record["referral_source"] = "GP referral"
        records.append(record)
    # Excel's "CSV UTF-8": a byte-order mark and Windows line ends.
    text = "\ufeff" + _csv(header, rows, crlf=True)
    return Sample("cliniko-patients", text, records, [], [])


def cliniko_appointments(rng: random.Random) -> Sample:
    people = _people(rng, 30)
    visits = _visits(rng, people)
    header = [
        "Appointment ID", "Patient ID", "Patient", "Appointment Start", "Created At",
        "Appointment Type", "Practitioner", "Cancelled At", "Did Not Arrive", "Patient Arrived",
    ]  # fmt: skip
    rows, appointments = [], []
    patients: dict[str, dict[str, Any]] = {}
    for v in visits:
        p, pid = v["person"], f"{5000 + v['person']['n']}"
        patients.setdefault(pid, _patient_record(p, pid, full=False))
        status = v["status"]
        past = v["starts"] < FUTURE_START
        rows.append(
            [
                str(90000 + v["n"]),
                pid,
                f"{p['first']} {p['last']}",
                v["starts"].strftime("%d/%m/%Y %H:%M"),
                v["booked"].strftime("%d/%m/%Y"),
                v["type"],
                v["practitioner"],
                v["booked"].strftime("%d/%m/%Y %H:%M") if status == "cancelled" else "",
                "Yes" if status == "no_show" else "No",
                "Yes" if status == "completed" and v["n"] % 2 else "No",
            ]
        )
        assert past or status in ("scheduled", "cancelled")
        appointments.append(
            {
                "id": str(90000 + v["n"]),
                "patient_id": pid,
                "starts_at": _iso(v["starts"]),
                "status": status,
                "booked_at": _iso(_day(v["booked"])),
                "type": v["type"],
                "practitioner": v["practitioner"],
            }
        )
    # A European Excel's CSV: ';' between cells.
    text = _csv(header, rows, delimiter=";")
    return Sample("cliniko-appointments", text, list(patients.values()), appointments, [])


def d4w_patients(rng: random.Random) -> Sample:
    people = _people(rng, 30)
    header = ["patient_id", "first_name", "surname", "mobile", "email", "created_date",
              "is_deleted"]  # fmt: skip
    rows, records = [], []
    for p in people:
        pid = str(700 + p["n"])
        rows.append(
            [
                pid,
                p["first"],
                p["last"],
                p["mobile"],
                p["email"],
                p["registered"].strftime("%Y-%m-%d %H:%M:%S"),
                "1" if p["archived"] else "0",
            ]
        )
        records.append(_patient_record(p, pid))
    return Sample("d4w-patients", _csv(header, rows), records, [], [])


def d4w_appointments(rng: random.Random) -> Sample:
    people = _people(rng, 25)
    visits = _visits(rng, people)
    header = ["appointment_id", "appointment_status", "cancelled", "failed", "attended",
              "appointment_type", "start_time", "patient_id", "practitioner_id",
              "created_date"]  # fmt: skip
    rows, appointments = [], []
    prior = {str(800 + p["n"]): _patient_record(p, str(800 + p["n"])) for p in people}
    for v in visits:
        pid = str(800 + v["person"]["n"])
        status = v["status"]
        rows.append(
            [
                str(v["n"]),
                {"completed": "Completed", "no_show": "Failed", "cancelled": "Cancelled"}.get(
                    status, "Booked"
                ),
                "1" if status == "cancelled" else "0",
                "1" if status == "no_show" else "0",
                "1" if status == "completed" else "0",
                v["type"],
                v["starts"].strftime("%Y-%m-%d %H:%M:%S"),
                pid,
                "12" if v["practitioner"] == "Dr Sample" else "14",
                v["booked"].strftime("%Y-%m-%d %H:%M:%S"),
            ]
        )
        appointments.append(
            {
                "id": str(v["n"]),
                "patient_id": pid,
                "starts_at": _iso(v["starts"]),
                "status": status,
                "booked_at": _iso(v["booked"]),
                "type": v["type"],
                "practitioner": "12" if v["practitioner"] == "Dr Sample" else "14",
            }
        )
    return Sample("d4w-appointments", _csv(header, rows), [], appointments, list(prior.values()))


def reengage_patients(rng: random.Random) -> Sample:
    people = _people(rng, 20)
    header = ["id", "name", "phone", "email", "status", "registered_at",
              "communication_preferences", "opt_outs", "health_conditions", "referral_source",
              "last_treatment_outcome"]  # fmt: skip
    rows, records = [], []
    for p in people:
        record = _patient_record(p, f"p{p['n']}")
        prefs = ["sms", "phone"] if p["sms_ok"] else ["email"]
        record["communication_preferences"] = prefs
        record["health_conditions"] = ["low back pain"] if p["n"] % 2 else []
        rows.append(
            [
                record["id"],
                record["name"],
                record.get("phone", ""),
                record.get("email", ""),
                record["status"],
                record["registered_at"],
                ",".join(prefs),
                "",
                ",".join(record["health_conditions"]),
                "",
                "",
            ]
        )
        records.append(record)
    return Sample("reengage-patients", _csv(header, rows), records, [], [])


def reengage_appointments(rng: random.Random) -> Sample:
    people = _people(rng, 20)
    visits = _visits(rng, people)
    prior = [_patient_record(p, f"rp{p['n']}") for p in people]
    header = ["id", "patient_id", "starts_at", "status", "booked_at", "type", "practitioner"]
    rows, appointments = [], []
    for v in visits:
        record = {
            "id": f"ra{v['n']}",
            "patient_id": f"rp{v['person']['n']}",
            "starts_at": _iso(v["starts"]),
            "status": v["status"],
            "booked_at": _iso(v["booked"]),
            "type": v["type"],
            "practitioner": v["practitioner"],
        }
        rows.append([str(record[h]) for h in header])
        appointments.append(record)
    return Sample("reengage-appointments", _csv(header, rows), [], appointments, prior)


def reengage_communications(rng: random.Random) -> Sample:
    people = _people(rng, 15)
    prior = [_patient_record(p, f"cp{p['n']}") for p in people]
    header = ["id", "patient_id", "channel", "direction", "sent_at", "delivered_at",
              "opened_at", "responded_at", "connected_at", "failed_at", "failure_reason",
              "provider_message_id"]  # fmt: skip
    rows, communications = [], []
    for number in range(45):
        person = rng.choice(people)
        sent = PAST_START + timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(0, 600))
        channel = rng.choice(["sms", "email", "phone"])
        record: dict[str, Any] = {
            "id": f"rc{number}",
            "patient_id": f"cp{person['n']}",
            "channel": channel,
            "direction": "inbound" if rng.random() < 0.2 else "outbound",
            "sent_at": _iso(sent),
        }
        if record["direction"] == "outbound":
            later = _iso(sent + timedelta(minutes=rng.randrange(1, 240)))
            outcome = rng.random()
            if outcome < 0.15:
                record["failed_at"] = later
                record["failure_reason"] = (
                    "number not in service" if channel != "email" else ("mailbox full")
                )
            elif channel == "phone":
                if outcome < 0.6:
                    record["connected_at"] = later
            else:
                record["delivered_at"] = later
                if channel == "email" and outcome < 0.5:
                    record["opened_at"] = later
                if outcome < 0.35:
                    record["responded_at"] = _iso(sent + timedelta(hours=6))
            if channel == "sms":
                record["provider_message_id"] = f"SM{number:032x}"
        rows.append([str(record.get(h, "")) for h in header])
        communications.append(record)
    sample = Sample("reengage-communications", _csv(header, rows), [], [], prior)
    sample.communications = communications
    return sample


def reengage_followups(rng: random.Random) -> Sample:
    people = _people(rng, 15)
    prior = [_patient_record(p, f"fp{p['n']}") for p in people]
    header = ["id", "patient_id", "due_at", "completed_at", "reason"]
    rows, followups = [], []
    for number in range(25):
        person = rng.choice(people)
        due = PAST_START + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(0, 9))
        record: dict[str, Any] = {
            "id": f"rf{number}",
            "patient_id": f"fp{person['n']}",
            "due_at": _iso(due),
            "reason": rng.choice(
                ["missed appointment: call to rebook", "check in after discharge"]
            ),
        }
        if rng.random() < 0.6:
            record["completed_at"] = _iso(due + timedelta(hours=rng.randrange(1, 48)))
        rows.append([str(record.get(h, "")) for h in header])
        followups.append(record)
    sample = Sample("reengage-followups", _csv(header, rows), [], [], prior)
    sample.followups = followups
    return sample


WRITERS: dict[str, Callable[[random.Random], Sample]] = {
    "cliniko-patients": cliniko_patients,
    "cliniko-appointments": cliniko_appointments,
    "d4w-patients": d4w_patients,
    "d4w-appointments": d4w_appointments,
    "reengage-patients": reengage_patients,
    "reengage-appointments": reengage_appointments,
    "reengage-communications": reengage_communications,
    "reengage-followups": reengage_followups,
}


def sample(profile: str) -> Sample:
    return WRITERS[profile](random.Random(f"reengage-sample-{profile}"))


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for profile in WRITERS:
        path = folder / f"{profile}.csv"
        path.write_bytes(sample(profile).text.encode("utf-8"))
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/imports/samples")):
        print(path)
