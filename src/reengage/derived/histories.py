"""The records read as the domain's ``PatientHistory`` values, always scoped by ``org_id``.

Whole histories are what the derived rows are computed from, what a patient the caches
cannot answer for is read as, and what the references (``reengage.reference``) compute
every figure from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, func, select, type_coerce
from sqlalchemy.orm import Session

from reengage.db.types import UTCDateTime
from reengage.domain import history as domain
from reengage.models import Appointment, Communication, Followup, Patient

CHUNK = 500


IdRange = tuple[str, str]


def patient_selections(
    column: Any, patient_ids: Sequence[str] | None, id_range: IdRange | None
) -> list[list[Any]]:
    """WHERE clauses that pick the patients, one list per query to run: all of them, an
    inclusive id range (ids sort byte-wise on both databases), or chunks of named ids."""
    if id_range is not None:
        return [[column.between(*id_range)]]
    if patient_ids is None:
        return [[]]
    return [[column.in_(chunk)] for chunk in id_chunks(patient_ids)]


def id_chunks(patient_ids: Sequence[str]) -> list[Sequence[str]]:
    """The ids in lists short enough for one ``IN``."""
    return [patient_ids[i : i + CHUNK] for i in range(0, len(patient_ids), CHUNK)]


# What a history is made of: the domain records' fields, in their order. The records' other
# columns (bookkeeping, free text) are not read: a page of long histories spent a third of
# its time converting them.
HISTORY_COLUMNS: dict[Any, tuple[str, ...]] = {
    model: tuple(f.name for f in fields(record))
    for model, record in (
        (Appointment, domain.Appointment),
        (Communication, domain.Communication),
        (Followup, domain.Followup),
    )
}


def utc_instant(column: Any) -> Any:
    """An instant column read as PostgreSQL's ``timestamptz`` (stored naive UTC), which the
    driver turns into an aware UTC datetime itself (the session's time zone is UTC), instead
    of a naive one that ``UTCDateTime`` labels in Python: a page of long histories spent a
    fifth of its time there. Other columns as they are."""
    if not isinstance(column.type, UTCDateTime):
        return column
    return type_coerce(func.timezone("UTC", column), DateTime(timezone=True)).label(column.name)


def _same(column: Any) -> Any:
    return column


def _by_patient(
    session: Session,
    model: Any,
    org_id: str,
    patient_ids: Sequence[str] | None,
    id_range: IdRange | None,
) -> dict[str, list[Any]]:
    """Each patient's records of the model, as the domain record's field values."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    table = model.__table__
    read = utc_instant if session.get_bind().dialect.name == "postgresql" else _same
    columns = [read(table.c[name]) for name in HISTORY_COLUMNS[model]]
    for where in patient_selections(table.c.patient_id, patient_ids, id_range):
        stmt = select(table.c.patient_id, *columns).where(table.c.org_id == org_id, *where)
        # ``all()`` fetches in one call; iterating the result fetches row by row.
        for patient_id, *values in session.execute(stmt).all():
            grouped[patient_id].append(values)
    return grouped


def load_patients(
    session: Session,
    org_id: str,
    patient_ids: Sequence[str] | None = None,
    id_range: IdRange | None = None,
) -> list[Patient]:
    found: list[Patient] = []
    for where in patient_selections(Patient.id, patient_ids, id_range):
        found += session.scalars(select(Patient).where(Patient.org_id == org_id, *where))
    return sorted(found, key=lambda p: p.id)


# A history in plain values: ``PatientHistory``'s fields in order, each record as the values
# of ``HISTORY_COLUMNS``. Cheap to send to another process (a fifth of the dataclasses' cost
# to pickle), and the one form both the database and the demo generator produce.
PackedHistory = tuple[Any, ...]
# The patient's columns a history is made from (phone and email only as present or not).
PATIENT_COLUMNS = (
    "id",
    "status",
    "received_at",
    "registered_at",
    "phone",
    "email",
    "communication_preferences",
    "opt_outs",
)


def pack(
    patient: Sequence[Any],
    appointments: Sequence[Sequence[Any]],
    communications: Sequence[Sequence[Any]],
    followups: Sequence[Sequence[Any]],
) -> PackedHistory:
    """A history from the values of ``PATIENT_COLUMNS`` and of each record's
    ``HISTORY_COLUMNS``. The records are kept as given: ``unpack`` makes the domain's values
    of them once, and a copy here would double that work on every page of the list."""
    pid, status, received_at, registered_at, phone, email, preferences, opt_outs = patient
    return (
        pid,
        status,
        received_at,
        registered_at,
        phone is not None,
        email is not None,
        tuple(preferences or ()),
        tuple(opt_outs or ()),
        appointments,
        communications,
        followups,
    )


def unpack(packed: PackedHistory) -> domain.PatientHistory:
    pid, status, received, registered, phone, email, preferences, opt_outs = packed[:8]
    appointments, communications, followups = packed[8:]
    return domain.PatientHistory(
        id=pid,
        status=status,
        received_at=received,
        registered_at=registered,
        has_phone=phone,
        has_email=email,
        communication_preferences=preferences,
        opt_outs=opt_outs,
        appointments=tuple(domain.Appointment(*a) for a in appointments),
        communications=tuple(domain.Communication(*c) for c in communications),
        followups=tuple(domain.Followup(*f) for f in followups),
    )


def _records(
    session: Session, org_id: str, patient_ids: Sequence[str] | None, id_range: IdRange | None
) -> list[dict[str, list[Any]]]:
    return [
        _by_patient(session, model, org_id, patient_ids, id_range)
        for model in (Appointment, Communication, Followup)
    ]


def load_histories(
    session: Session,
    org_id: str,
    patient_ids: Sequence[str] | None = None,
    id_range: IdRange | None = None,
) -> list[tuple[Patient, domain.PatientHistory]]:
    """Each patient (all of the org's, those named, or those in an id range) with their
    whole history."""
    patients = load_patients(session, org_id, patient_ids, id_range)
    appointments, communications, followups = _records(session, org_id, patient_ids, id_range)
    return [
        (
            p,
            unpack(
                pack(
                    [getattr(p, name) for name in PATIENT_COLUMNS],
                    appointments.get(p.id, ()),
                    communications.get(p.id, ()),
                    followups.get(p.id, ()),
                )
            ),
        )
        for p in patients
    ]


def load_packed_histories(session: Session, org_id: str, id_range: IdRange) -> list[PackedHistory]:
    """The histories of the patients in an id range, packed, without loading the patients
    as ORM objects (a rebuild reads every patient of the org this way)."""
    table: Any = Patient.__table__
    stmt = (
        select(*(table.c[name] for name in PATIENT_COLUMNS))
        .where(table.c.org_id == org_id, table.c.id.between(*id_range))
        .order_by(table.c.id)
    )
    patients = session.execute(stmt).all()
    appointments, communications, followups = _records(session, org_id, None, id_range)
    return [
        pack(
            p,
            appointments.get(p[0], ()),
            communications.get(p[0], ()),
            followups.get(p[0], ()),
        )
        for p in patients
    ]


def patient_ids(session: Session, org_id: str) -> list[str]:
    stmt = select(Patient.id).where(Patient.org_id == org_id).order_by(Patient.id)
    return list(session.scalars(stmt))


def patient_count(session: Session, org_id: str) -> int:
    return int(session.scalar(select(func.count()).where(Patient.org_id == org_id)) or 0)


def patients_with_attempts_between(
    session: Session, org_id: str, since: datetime, until: datetime
) -> list[str]:
    """Patients of any status with an outreach attempt sent in [since, until]."""
    c = Communication
    stmt = (
        select(c.patient_id)
        .where(
            c.org_id == org_id,
            c.direction == "outbound",
            c.sent_at >= since,
            c.sent_at <= until,
        )
        .distinct()
        .order_by(c.patient_id)
    )
    return list(session.scalars(stmt))


def active_patient_ids(session: Session, org_id: str) -> list[str]:
    stmt = (
        select(Patient.id)
        .where(Patient.org_id == org_id, Patient.status == "active")
        .order_by(Patient.id)
    )
    return list(session.scalars(stmt))
