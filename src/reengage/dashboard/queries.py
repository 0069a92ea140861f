"""All SQL the dashboard reads itself: one patient's records, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reengage.models import Appointment, Communication, ConsentChange, Followup, Patient


@dataclass(frozen=True)
class PatientRecords:
    patient: Patient
    appointments: list[Appointment]
    communications: list[Communication]
    followups: list[Followup]
    # Opt-outs and opt-ins the providers reported (an SMS saying STOP), newest first.
    consent_changes: list[ConsentChange]


def patient(session: Session, org_id: str, patient_id: str) -> Patient | None:
    return session.get(Patient, (org_id, patient_id))


def patient_records(session: Session, org_id: str, patient_id: str) -> PatientRecords | None:
    found = patient(session, org_id, patient_id)
    if found is None:
        return None

    def newest_first(model: Any, column: Any) -> list[Any]:
        stmt = (
            select(model)
            .where(model.org_id == org_id, model.patient_id == patient_id)
            .order_by(column.desc(), model.id)
        )
        return list(session.scalars(stmt))

    return PatientRecords(
        patient=found,
        appointments=newest_first(Appointment, Appointment.starts_at),
        communications=newest_first(Communication, Communication.sent_at),
        followups=newest_first(Followup, Followup.due_at),
        consent_changes=newest_first(ConsentChange, ConsentChange.at),
    )


def patient_names(session: Session, org_id: str, ids: list[str]) -> dict[str, str]:
    """The names of these patients (a page of the alert inbox: at most a few hundred)."""
    if not ids:
        return {}
    stmt = select(Patient.id, Patient.name).where(Patient.org_id == org_id, Patient.id.in_(ids))
    return {pid: name for pid, name in session.execute(stmt)}
