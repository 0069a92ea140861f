"""The four record kinds, described once so that routes, batch and queries share one table."""

from __future__ import annotations

from dataclasses import dataclass

from reengage.db.base import Base
from reengage.models import Appointment, Communication, Followup, Patient
from reengage.records.schemas import (
    AppointmentIn,
    AppointmentOut,
    CommunicationIn,
    CommunicationOut,
    FollowupIn,
    FollowupOut,
    PatientIn,
    PatientOut,
    Record,
)


@dataclass(frozen=True)
class RecordKind:
    name: str  # plural, as in paths and batch keys
    singular: str
    model: type[Base]
    schema: type[Record]
    out: type[Record]

    @property
    def fields(self) -> tuple[str, ...]:
        """The client-owned columns, in the schema's order (``id`` first)."""
        return tuple(self.schema.model_fields)

    @property
    def references_patient(self) -> bool:
        return "patient_id" in self.schema.model_fields


PATIENTS = RecordKind("patients", "patient", Patient, PatientIn, PatientOut)
APPOINTMENTS = RecordKind("appointments", "appointment", Appointment, AppointmentIn, AppointmentOut)
COMMUNICATIONS = RecordKind(
    "communications", "communication", Communication, CommunicationIn, CommunicationOut
)
FOLLOWUPS = RecordKind("followups", "followup", Followup, FollowupIn, FollowupOut)

# Patients first: the others name them.
KINDS: tuple[RecordKind, ...] = (PATIENTS, APPOINTMENTS, COMMUNICATIONS, FOLLOWUPS)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
