"""Upserting records: validate everything first, then write, so a refused batch keeps nothing.

Services never commit; the endpoint (or importer) that called them does, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reengage import clock
from reengage.analytics import state
from reengage.domain.records import communication_problems
from reengage.errors import Loc, Problem, RecordValidationError
from reengage.records import repository
from reengage.records.kinds import COMMUNICATIONS, KINDS, PATIENTS, RecordKind
from reengage.records.schemas import MAX_BATCH_RECORDS, KindCounts, Record


@dataclass
class UpsertResult:
    counts: dict[str, KindCounts]
    # Patients whose own record or any of whose events changed: what derived state must revisit.
    touched_patient_ids: set[str] = field(default_factory=set)


def upsert_one(
    session: Session, org_id: str, kind: RecordKind, record_id: str, record: Record
) -> bool:
    """Create or update one record named by the path; True when it was created."""
    if record.id is not None and record.id != record_id:
        raise RecordValidationError(
            [
                Problem(
                    ("body", "id"), f"must match the id in the path ('{record_id}')", "id_mismatch"
                )
            ]
        )
    record = record.model_copy(update={"id": record_id})
    result = upsert_records(session, org_id, {kind.name: [record]}, loc_prefix=lambda *_: ("body",))
    return result.counts[kind.name].created == 1


def upsert_batch(
    session: Session, org_id: str, records: Mapping[str, Sequence[Record]]
) -> UpsertResult:
    total = sum(len(items) for items in records.values())
    if total > MAX_BATCH_RECORDS:
        raise RecordValidationError(
            [
                Problem(
                    ("body",),
                    f"a batch holds at most {MAX_BATCH_RECORDS:,} records in all; this one has "
                    f"{total:,}: split it",
                    "too_many_records",
                )
            ]
        )
    return upsert_records(
        session, org_id, records, loc_prefix=lambda kind, index: ("body", kind, index)
    )


def upsert_records(
    session: Session,
    org_id: str,
    records: Mapping[str, Sequence[Record]],
    loc_prefix: Any,
) -> UpsertResult:
    """Validate every record against the org's data, then upsert them, patients first."""
    problems = _problems(session, org_id, records, loc_prefix)
    if problems:
        raise RecordValidationError(problems)
    now = clock.now()
    result = UpsertResult(counts={})
    for kind in KINDS:
        items = records.get(kind.name, ())
        result.counts[kind.name] = _write(session, org_id, kind, items, now, result)
    session.flush()
    state.refresh(session, org_id, result.touched_patient_ids)
    return result


def _problems(
    session: Session,
    org_id: str,
    records: Mapping[str, Sequence[Record]],
    loc_prefix: Any,
) -> list[Problem]:
    problems: list[Problem] = []

    def add(kind: str, index: int, field_: str, reason: str, type_: str) -> None:
        loc: Loc = (*loc_prefix(kind, index), field_)
        problems.append(Problem(loc, reason, type_))

    for kind in KINDS:
        seen: set[str] = set()
        for index, record in enumerate(records.get(kind.name, ())):
            if record.id is None:
                add(kind.name, index, "id", "is required in a batch", "missing")
            elif record.id in seen:
                add(
                    kind.name,
                    index,
                    "id",
                    f"appears twice in this batch's {kind.name}",
                    "duplicate",
                )
            else:
                seen.add(record.id)

    batch_patients = {p.id for p in records.get(PATIENTS.name, ()) if p.id is not None}
    referenced = {
        getattr(record, "patient_id")  # noqa: B009  (every non-patient kind has it)
        for kind in KINDS
        if kind.references_patient
        for record in records.get(kind.name, ())
    }
    unknown = referenced - batch_patients
    if unknown:
        unknown -= repository.existing_patient_ids(session, org_id, sorted(unknown))
    for kind in KINDS:
        if not kind.references_patient:
            continue
        for index, record in enumerate(records.get(kind.name, ())):
            patient_id = getattr(record, "patient_id")  # noqa: B009
            if patient_id in unknown:
                add(
                    kind.name,
                    index,
                    "patient_id",
                    f"no patient '{patient_id}' in this org (send the patient first, "
                    "or in the same batch)",
                    "unknown_patient",
                )

    for index, record in enumerate(records.get(COMMUNICATIONS.name, ())):
        values = record.model_dump()
        for field_, reason in communication_problems(
            values["channel"],
            values["direction"],
            values["sent_at"],
            values,
            values["failure_reason"],
        ):
            add(COMMUNICATIONS.name, index, field_, reason, "does_not_fit")
    return problems


def _write(
    session: Session,
    org_id: str,
    kind: RecordKind,
    items: Sequence[Record],
    now: datetime,
    result: UpsertResult,
) -> KindCounts:
    counts = KindCounts()
    if not items:
        return counts
    fields = kind.fields
    stored = repository.existing_rows(
        session, kind.model, org_id, [str(r.id) for r in items], fields
    )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for record in items:
        values = record.model_dump()
        old = stored.get(values["id"])
        if old is None:
            inserts.append({**values, "org_id": org_id, "received_at": now, "updated_at": now})
            counts.created += 1
        elif any(old[name] != values[name] for name in fields):
            updates.append({**values, "org_id": org_id, "updated_at": now})
            counts.updated += 1
            if old.get("patient_id") is not None:
                result.touched_patient_ids.add(old["patient_id"])
        else:
            counts.unchanged += 1
            continue
        result.touched_patient_ids.add(values.get("patient_id") or values["id"])
    repository.insert_rows(session, kind.model, inserts)
    repository.update_rows(session, kind.model, updates)
    return counts


def get_record(session: Session, org_id: str, kind: RecordKind, record_id: str) -> Any:
    return repository.get_row(session, kind.model, org_id, record_id)


def list_records(
    session: Session,
    org_id: str,
    kind: RecordKind,
    limit: int,
    offset: int,
    patient_id: str | None,
) -> tuple[list[Any], int]:
    return repository.page_rows(session, kind.model, org_id, limit, offset, patient_id)
