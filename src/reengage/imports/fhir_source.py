"""FHIR R4 in: a Bundle (collection, transaction, batch, searchset) or one resource as JSON,
or a Bulk Data export (NDJSON files, one resource type per file, or a folder of them).

Each resource is parsed by ``fhir.resources`` through its R4B models (its default R5
models refuse R4 Appointments and Encounters), then mapped field by field as
``docs/imports.md`` lists. What cannot be mapped is reported with the resource and the
reason and left out, never guessed; a resource that is not valid FHIR R4 is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from reengage.domain import phones
from reengage.imports.service import Found, Item

# Patients first (the others name them), appointments before the encounters that may
# duplicate them.
ORDER = ("Patient", "Appointment", "Encounter", "Communication", "CommunicationRequest", "Task")
KEPT = ", ".join(ORDER)
APPOINTMENT_STATUS = {
    "proposed": "scheduled",
    "pending": "scheduled",
    "booked": "scheduled",
    "arrived": "completed",
    "checked-in": "completed",
    "fulfilled": "completed",
    "noshow": "no_show",
    "cancelled": "cancelled",
}
PHONE_MODES = {"PHONE", "VERBAL", "VIDEOCONF"}
EMAIL_MODES = {"EMAILWRIT"}
SMS_MODES = {"SMSWRIT"}


class _Skip(Exception):
    """A resource reengage cannot represent: reported with the reason, left out."""


def _order(resource_type: str) -> int:
    return ORDER.index(resource_type) if resource_type in ORDER else len(ORDER)


class FhirSource:
    """Resources from a JSON file (a Bundle or one resource), NDJSON files, or a folder."""

    def __init__(self, path: Path, zone: tzinfo, phone_region: str | None = None) -> None:
        self.path = path
        self.zone = zone
        self.region = phone_region
        self.name = path.name
        self.files = self._files(path)
        self.total = sum(f.stat().st_size for f in self.files)
        self._done = 0
        self.appointment_ids: set[str] = set()
        self.full_urls: dict[str, str] = {}

    @property
    def done(self) -> int:
        return self._done

    @staticmethod
    def _files(path: Path) -> list[Path]:
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix in (".json", ".ndjson") and p.is_file()
            )
        else:
            found = [path]

        def key(p: Path) -> tuple[int, str]:
            # Bulk Data names its files by type: Patient.ndjson, Appointment.000.ndjson.
            return _order(p.name.split(".")[0]), p.name

        return sorted(found, key=key)

    def __iter__(self) -> Iterator[Item | Found]:
        for file in self.files:
            if file.suffix == ".ndjson":
                yield from self._ndjson(file)
            else:
                yield from self._json(file)
            self._done += file.stat().st_size

    def _ndjson(self, file: Path) -> Iterator[Item | Found]:
        with file.open(encoding="utf-8-sig") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield Found(file.name, f"line {number}", None, None, f"is not JSON: {exc.msg}")
                    continue
                yield from self._resource(file.name, f"line {number}", data)

    def _json(self, file: Path) -> Iterator[Item | Found]:
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield Found(file.name, "file", None, None, f"is not JSON: {exc}")
            return
        if not isinstance(data, dict) or "resourceType" not in data:
            yield Found(file.name, "file", None, None, "is not a FHIR resource (no resourceType)")
            return
        if data["resourceType"] != "Bundle":
            yield from self._resource(file.name, None, data)
            return
        entries = data.get("entry") or []
        if not isinstance(entries, list):
            yield Found(file.name, "Bundle", None, "entry", "must be a list")
            return
        resources: list[tuple[int, dict[str, Any]]] = []
        for number, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                yield Found(file.name, f"entry[{number}]", None, None, "has no resource")
                continue
            method = (entry.get("request") or {}).get("method")
            resource = entry["resource"]
            if method == "DELETE":
                yield Found(
                    file.name, f"entry[{number}]", None, None, "a delete is not imported", False
                )
                continue
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and resource.get("resourceType") == "Patient":
                self.full_urls[full_url] = resource.get("id") or full_url.rsplit(":", 1)[-1]
            if resource.get("resourceType") == "Appointment" and resource.get("id"):
                self.appointment_ids.add(str(resource["id"]))
            resources.append((number, resource))
        resources.sort(key=lambda pair: _order(str(pair[1].get("resourceType"))))
        for number, resource in resources:
            yield from self._resource(file.name, f"entry[{number}]", resource)

    def _resource(self, source: str, where: str | None, data: Any) -> Iterator[Item | Found]:
        if not isinstance(data, dict):
            yield Found(source, where or "file", None, None, "is not a FHIR resource")
            return
        kind = str(data.get("resourceType"))
        at = f"{kind}/{data.get('id')}" if data.get("id") else (where or kind)
        if where and data.get("id") and source != self.name:
            at = f"{at} ({where})"
        if kind not in ORDER:
            yield Found(source, at, None, None, f"reengage keeps {KEPT}; not {kind}", False)
            return
        try:
            resource = get_fhir_model_class(kind).model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False)[:20]:
                loc = ".".join(str(part) for part in error["loc"])
                yield Found(source, at, None, loc or None, f"is not valid FHIR R4: {error['msg']}")
            return
        if not data.get("id"):
            yield Found(source, at, None, "id", "has no id to keep it by", False)
            return
        mapper = getattr(self, f"_{kind.lower()}")
        notes: list[Found] = []
        try:
            item = mapper(resource, source, at, notes)
        except _Skip as skip:
            yield Found(source, at, None, None, str(skip), False)
            return
        yield from notes
        yield item

    # -- the mappings, one per resource type -------------------------------------------

    def _patient(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        values: dict[str, Any] = {"id": r.id, "status": _patient_status(r)}
        name = _human_name(r.name or [])
        if not name:
            raise _Skip("has no name (given, family or text): staff could not tell who to call")
        values["name"] = name
        phones = [t for t in r.telecom or [] if t.system == "phone" and t.value]
        phones.sort(key=lambda t: (t.use != "mobile", t.rank or 99))
        for telecom in phones:
            number = self._phone(telecom.value)
            if number:
                values["phone"] = number
                break
        if phones and "phone" not in values:
            notes.append(
                Found(
                    source,
                    at,
                    "patients",
                    "telecom",
                    "no phone number can be read as E.164 (give --phone-region for local "
                    "numbers); the patient is kept without one",
                    False,
                )
            )
        emails = [t.value for t in r.telecom or [] if t.system == "email" and t.value]
        if emails:
            values["email"] = emails[0]
        return Item("patients", source, at, values, labels=_PATIENT_LABELS)

    def _appointment(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        status = APPOINTMENT_STATUS.get(r.status)
        if status is None:
            raise _Skip(f"an appointment '{r.status}' is not a visit, kept or missed")
        patients = [self._patient_id(p.actor) for p in r.participant or [] if p.actor]
        patients = [p for p in patients if p]
        if len(patients) != 1:
            raise _Skip(
                f"names {len(patients)} patients: reengage keeps one patient per appointment"
            )
        if r.start is None:
            raise _Skip("has no start: a proposal, not an appointment at a time")
        self.appointment_ids.add(r.id)
        values = {
            "id": r.id,
            "patient_id": patients[0],
            "starts_at": self._instant(r.start),
            "status": status,
            "booked_at": self._instant(r.created),
            "type": _concept(r.appointmentType) or _concept(_first(r.serviceType)),
            "practitioner": _practitioner([p.actor for p in r.participant or []]),
        }
        return Item("appointments", source, at, _present(values), labels=_APPOINTMENT_LABELS)

    def _encounter(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        if r.status != "finished":
            raise _Skip(f"an encounter '{r.status}' is not a finished visit")
        booked = [_ref_id(a.reference, "Appointment") for a in r.appointment or []]
        if any(a in self.appointment_ids for a in booked if a):
            raise _Skip("its Appointment, imported too, carries the visit")
        patient = self._patient_id(r.subject)
        if not patient:
            raise _Skip("has no subject Patient")
        start = r.period.start if r.period else None
        if start is None:
            raise _Skip("has no period.start: the visit's time is unknown")
        values = {
            "id": f"encounter-{r.id}",
            "patient_id": patient,
            "starts_at": self._instant(start),
            "status": "completed",
            "type": _concept(_first(r.type)) or (r.class_fhir.display if r.class_fhir else None),
            "practitioner": _practitioner([p.individual for p in r.participant or []]),
        }
        return Item("appointments", source, at, _present(values), labels=_APPOINTMENT_LABELS)

    def _communication(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        if r.status != "completed":
            raise _Skip(f"a communication '{r.status}' was not made")
        channel = _channel(r.medium or [])
        if channel is None:
            raise _Skip("its medium says neither SMS, email nor phone")
        sender = self._patient_id(r.sender)
        recipients = [self._patient_id(x) for x in r.recipient or []]
        if sender:
            direction, patient = "inbound", sender
        elif any(recipients):
            direction, patient = "outbound", next(p for p in recipients if p)
        else:
            raise _Skip("neither its sender nor a recipient is a Patient")
        if r.sent is None:
            raise _Skip("has no sent time")
        values: dict[str, Any] = {
            "id": r.id,
            "patient_id": patient,
            "channel": channel,
            "direction": direction,
            "sent_at": self._instant(r.sent),
        }
        if direction == "outbound" and r.received is not None:
            values["connected_at" if channel == "phone" else "delivered_at"] = self._instant(
                r.received
            )
        return Item("communications", source, at, values, labels=_COMMUNICATION_LABELS)

    def _communicationrequest(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        if r.status not in ("active", "on-hold", "draft"):
            raise _Skip(f"a request '{r.status}' is no follow-up to do")
        patient = self._patient_id(r.subject)
        if not patient:
            raise _Skip("has no subject Patient")
        due = r.occurrenceDateTime or (r.occurrencePeriod.start if r.occurrencePeriod else None)
        due = due or r.authoredOn
        if due is None:
            raise _Skip("has no occurrence or authoredOn to be due at")
        values = {
            "id": f"request-{r.id}",
            "patient_id": patient,
            "due_at": self._instant(due),
            "reason": _concept(_first(r.reasonCode)) or _concept(_first(r.category)),
        }
        return Item("followups", source, at, _present(values), labels=_FOLLOWUP_LABELS)

    def _task(self, r: Any, source: str, at: str, notes: list[Found]) -> Item:
        if r.status in ("cancelled", "rejected", "entered-in-error", "failed"):
            raise _Skip(f"a task '{r.status}' is no follow-up")
        patient = self._patient_id(r.for_fhir)
        if not patient:
            raise _Skip("is not for a Patient")
        period = r.restriction.period if r.restriction else None
        due = (period.end if period else None) or (
            r.executionPeriod.end if r.executionPeriod else None
        )
        due = due or r.authoredOn
        if due is None:
            raise _Skip("has no restriction.period.end, executionPeriod.end or authoredOn")
        values = {
            "id": f"task-{r.id}",
            "patient_id": patient,
            "due_at": self._instant(due),
            "completed_at": self._instant(r.lastModified) if r.status == "completed" else None,
            "reason": r.description or _concept(r.code),
        }
        return Item("followups", source, at, _present(values), labels=_FOLLOWUP_LABELS)

    # -- helpers -------------------------------------------------------------------------

    def _patient_id(self, reference: Any) -> str | None:
        if reference is None or not reference.reference:
            return None
        ref = str(reference.reference)
        if ref in self.full_urls:
            return self.full_urls[ref]
        return _ref_id(ref, "Patient")

    def _instant(self, value: Any) -> datetime | None:
        """A FHIR dateTime or instant; a date alone is its midnight in the org's zone."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.zone)
        if isinstance(value, date):
            return datetime.combine(value, time(0), tzinfo=self.zone)
        return None

    def _phone(self, value: str) -> str | None:
        return phones.e164(value, self.region)


_PATIENT_LABELS = {"name": "name", "phone": "telecom", "email": "telecom", "status": "active"}
_APPOINTMENT_LABELS = {"patient_id": "participant", "starts_at": "start", "booked_at": "created"}
_COMMUNICATION_LABELS = {"patient_id": "subject", "sent_at": "sent", "delivered_at": "received"}
_FOLLOWUP_LABELS = {"patient_id": "for", "due_at": "authoredOn", "completed_at": "lastModified"}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _first(items: Any) -> Any:
    return items[0] if items else None


def _ref_id(reference: str | None, resource_type: str) -> str | None:
    """``Patient/x``, ``https://host/fhir/Patient/x`` or ``Patient/x/_history/2`` -> ``x``."""
    if not reference:
        return None
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    return None


def _patient_status(r: Any) -> str:
    if r.deceasedBoolean or r.deceasedDateTime is not None:
        return "deceased"
    if r.active is False:
        return "inactive"
    return "active"


def _human_name(names: list[Any]) -> str | None:
    ranked = sorted(names, key=lambda n: {"official": 0, "usual": 1}.get(n.use or "", 2))
    for name in ranked:
        if name.use in ("old", "maiden"):
            continue
        if name.text:
            return str(name.text).strip() or None
        parts = [*(name.given or []), *([name.family] if name.family else [])]
        if parts:
            return " ".join(str(p) for p in parts)
    return None


def _concept(concept: Any) -> str | None:
    if concept is None:
        return None
    if getattr(concept, "text", None):
        return str(concept.text)
    for coding in getattr(concept, "coding", None) or []:
        if coding.display or coding.code:
            return str(coding.display or coding.code)
    return None


def _practitioner(actors: list[Any]) -> str | None:
    for actor in actors:
        if actor is None or not actor.reference:
            continue
        if "Practitioner/" in actor.reference:
            return str(actor.display or _ref_id(actor.reference, "Practitioner"))
    return None


def _channel(media: list[Any]) -> str | None:
    for medium in media:
        codes = {str(c.code).upper() for c in medium.coding or [] if c.code}
        words = " ".join(
            [str(medium.text or "")] + [str(c.display or "") for c in medium.coding or []]
        )
        if codes & SMS_MODES or "sms" in words.lower():
            return "sms"
        if codes & EMAIL_MODES or "email" in words.lower():
            return "email"
        if codes & PHONE_MODES:
            return "phone"
    return None
