"""All SQL the analytics read, always scoped by ``org_id``.

This is the straight path: every record of the org's patients, turned into the domain's
``PatientHistory`` values. It is the reference any faster path is tested against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from reengage.domain import history as domain
from reengage.models import (
    Appointment,
    AttemptOutcome,
    Communication,
    Followup,
    Patient,
    PatientState,
)

CHUNK = 500


def _by_patient(
    session: Session, model: Any, org_id: str, patient_ids: Sequence[str] | None
) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    table = model.__table__
    if patient_ids is None:
        chunks: list[Sequence[str] | None] = [None]
    else:
        chunks = [patient_ids[i : i + CHUNK] for i in range(0, len(patient_ids), CHUNK)]
    for chunk in chunks:
        stmt = select(table).where(table.c.org_id == org_id)
        if chunk is not None:
            stmt = stmt.where(table.c.patient_id.in_(chunk))
        for row in session.execute(stmt):
            grouped[row.patient_id].append(row)
    return grouped


def load_patients(
    session: Session, org_id: str, patient_ids: Sequence[str] | None = None
) -> list[Patient]:
    stmt = select(Patient).where(Patient.org_id == org_id)
    if patient_ids is None:
        return list(session.scalars(stmt.order_by(Patient.id)))
    found: list[Patient] = []
    for i in range(0, len(patient_ids), CHUNK):
        found += session.scalars(stmt.where(Patient.id.in_(patient_ids[i : i + CHUNK])))
    return sorted(found, key=lambda p: p.id)


def load_histories(
    session: Session, org_id: str, patient_ids: Sequence[str] | None = None
) -> list[tuple[Patient, domain.PatientHistory]]:
    """Each patient (all of the org's, or those named) with their whole history."""
    patients = load_patients(session, org_id, patient_ids)
    appointments = _by_patient(session, Appointment, org_id, patient_ids)
    communications = _by_patient(session, Communication, org_id, patient_ids)
    followups = _by_patient(session, Followup, org_id, patient_ids)
    return [
        (
            p,
            domain.PatientHistory(
                id=p.id,
                status=p.status,
                received_at=p.received_at,
                registered_at=p.registered_at,
                has_phone=p.phone is not None,
                has_email=p.email is not None,
                communication_preferences=tuple(p.communication_preferences or ()),
                opt_outs=tuple(p.opt_outs or ()),
                appointments=tuple(
                    domain.Appointment(a.id, a.starts_at, a.status, a.booked_at)
                    for a in appointments.get(p.id, ())
                ),
                communications=tuple(
                    domain.Communication(
                        c.id,
                        c.channel,
                        c.direction,
                        c.sent_at,
                        c.delivered_at,
                        c.opened_at,
                        c.responded_at,
                        c.connected_at,
                        c.failed_at,
                    )
                    for c in communications.get(p.id, ())
                ),
                followups=tuple(
                    domain.Followup(f.id, f.due_at, f.completed_at) for f in followups.get(p.id, ())
                ),
            ),
        )
        for p in patients
    ]


def patient_ids(session: Session, org_id: str) -> list[str]:
    stmt = select(Patient.id).where(Patient.org_id == org_id).order_by(Patient.id)
    return list(session.scalars(stmt))


def replace_derived(
    session: Session,
    org_id: str,
    ids: Sequence[str],
    states: list[dict[str, Any]],
    outcomes: list[dict[str, Any]],
) -> None:
    """Swap the derived rows of these patients for new ones."""
    for model, rows in ((PatientState, states), (AttemptOutcome, outcomes)):
        table: Any = model.__table__
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            session.execute(
                delete(table).where(table.c.org_id == org_id, table.c.patient_id.in_(chunk))
            )
        if rows:
            session.execute(insert(table), rows)
