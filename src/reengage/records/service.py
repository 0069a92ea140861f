"""Upserting records: check everything first, then write, so a refused batch keeps nothing;
and refuse it naming every problem of every record at once.

Services never commit; the endpoint (or importer) that called them does, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from reengage import clock
from reengage.db import statistics
from reengage.db.locks import lock_org_writes
from reengage.derived import upkeep
from reengage.domain import provider_events
from reengage.domain.records import communication_problems
from reengage.errors import Loc, Problem, RecordValidationError, reason_of
from reengage.orgs import service as orgs_service
from reengage.records import repository
from reengage.records.kinds import COMMUNICATIONS, KINDS, PATIENTS, RecordKind
from reengage.records.schemas import MAX_BATCH_RECORDS, BatchIn, KindCounts, Record

# Where each kind's problems go in a refusal: as they would be written, patients first.
KIND_ORDER = {kind.name: position for position, kind in enumerate(KINDS)}


@dataclass
class UpsertResult:
    counts: dict[str, KindCounts]
    # Patients whose own record or any of whose events changed: what derived state must revisit.
    touched_patient_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Sent:
    """One record as sent: its id (if it gave a string), and the record if it passed its own
    checks. A batch patient that failed them still counts as sent, so the appointments that
    name it are not also refused as naming an unknown patient."""

    id: str | None
    record: Record | None


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
    result = upsert_records(
        session, org_id, {kind.name: [Sent(record_id, record)]}, loc_prefix=lambda *_: ("body",)
    )
    return result.counts[kind.name].created == 1


def upsert_batch(session: Session, org_id: str, batch: BatchIn) -> UpsertResult:
    """Check every item of the batch, on its own and against the org's data, and refuse it
    with every problem at once; or write all of it."""
    sent = {kind.name: getattr(batch, kind.name) for kind in KINDS}
    total = sum(len(items) for items in sent.values())
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
    records: dict[str, list[Sent]] = {}
    problems = [
        Problem(
            ("body", name),
            f"is not part of a batch, which holds {', '.join(KIND_ORDER)}",
            "extra_forbidden",
        )
        for name in sorted(batch.model_extra or {})
    ]
    for kind in KINDS:
        records[kind.name] = []
        for index, item in enumerate(sent[kind.name]):
            at: Loc = ("body", kind.name, index)
            raw_id = item.get("id") if isinstance(item, dict) else None
            try:
                record: Record | None = kind.schema.model_validate(item)
            except ValidationError as exc:
                record = None
                errors = exc.errors(include_url=False, include_input=False)
                problems += [Problem(at + tuple(e["loc"]), reason_of(e), e["type"]) for e in errors]
            if isinstance(item, dict) and raw_id is None:
                problems.append(Problem((*at, "id"), "is required in a batch", "missing"))
            records[kind.name].append(Sent(raw_id if isinstance(raw_id, str) else None, record))
    return upsert_records(
        session,
        org_id,
        records,
        loc_prefix=lambda kind, index: ("body", kind, index),
        problems=problems,
    )


def upsert_records(
    session: Session,
    org_id: str,
    records: Mapping[str, Sequence[Sent]],
    loc_prefix: Any,
    problems: Sequence[Problem] = (),
) -> UpsertResult:
    """Check the records against the org's data (adding to ``problems``, those they had on
    their own), then upsert them, patients first; or refuse them all, naming every problem.

    The org's write lock comes first: what is checked against is what is written over."""
    lock_org_writes(session, org_id)
    found = [*problems, *check_records(session, org_id, records, loc_prefix)]
    if found:
        raise RecordValidationError(sorted(found, key=_record_order))
    planned = plan_writes(session, org_id, records)
    apply_writes(session, planned)
    refresh_derived(session, org_id, planned.result.touched_patient_ids)
    return planned.result


@dataclass
class Planned:
    """What writing some checked records would do: the rows to insert and to update per kind,
    and the counts and touched patients they come to."""

    result: UpsertResult
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    org_id: str = ""
    # Providers' status events that waited for these communications, now folded in.
    applied_events: list[str] = field(default_factory=list)


def plan_writes(session: Session, org_id: str, records: Mapping[str, Sequence[Sent]]) -> Planned:
    """Compare checked records with the stored ones: nothing is written yet (a dry run of an
    import stops here)."""
    now = clock.now()
    planned = Planned(UpsertResult(counts={}), org_id=org_id)
    for kind in KINDS:
        items = [s.record for s in records.get(kind.name, ()) if s.record is not None]
        if kind is COMMUNICATIONS:
            items = _with_waiting_events(session, org_id, items, planned)
        planned.result.counts[kind.name] = _plan(session, org_id, kind, items, now, planned)
    return planned


def apply_writes(session: Session, planned: Planned) -> None:
    """Write what ``plan_writes`` found, patients first, and tell PostgreSQL's planner how
    much the tables grew (the derived refresh that follows looks the new rows up by id)."""
    for kind in KINDS:
        repository.insert_rows(session, kind.model, planned.inserts.get(kind.name, []))
        repository.update_rows(session, kind.model, planned.updates.get(kind.name, []))
    if planned.applied_events:
        repository.mark_events_applied(session, planned.org_id, planned.applied_events, clock.now())
    session.flush()
    counts = planned.result.counts
    written = {
        kind.model.__tablename__: counts[kind.name].created + counts[kind.name].updated
        for kind in KINDS
    }
    statistics.keep_fresh(session, written | dict.fromkeys(upkeep.DERIVED_TABLES, 0))


# Patients whose derived rows are recomputed at once (their histories are held together).
REFRESH_PART = 5_000
# A write that touched at least this many patients, and this share of the org's, rebuilds
# the org's derived state instead: one delete and reads by id range (and, where the caller
# allows, worker processes) cost less per patient than refreshing that many by id, and a
# first import into an empty org touches every patient. The result is the same either way.
REBUILD_MIN = 2_000
REBUILD_SHARE = 0.5


def refresh_derived(
    session: Session,
    org_id: str,
    patient_ids: Set[str],
    *,
    workers: int | None = 0,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Bring the derived rows of these patients up to date with what was written.

    ``workers``: processes a rebuild may compute in (None: by size and machine); 0 inside a
    server, whose threads a fork would copy mid-flight. ``progress(done, total)`` in
    patients."""
    settings = orgs_service.get_settings(session, org_id)
    if len(patient_ids) >= REBUILD_MIN and len(patient_ids) >= REBUILD_SHARE * (
        repository.count_patients(session, org_id)
    ):
        done = upkeep.rebuild(session, org_id, settings, progress, workers)
        statistics.keep_fresh(session, dict.fromkeys(upkeep.DERIVED_TABLES, done))
        return
    ordered = sorted(patient_ids)
    for start in range(0, len(ordered), REFRESH_PART):
        part = ordered[start : start + REFRESH_PART]
        upkeep.refresh(session, org_id, settings, part)
        # About a row per touched patient in each derived table: the next request's plans.
        statistics.keep_fresh(session, dict.fromkeys(upkeep.DERIVED_TABLES, len(part)))
        if progress is not None:
            progress(start + len(part), len(ordered))


def _record_order(problem: Problem) -> tuple[int, int]:
    """A batch's problems record by record, in the order sent (each record's own first)."""
    loc = problem.loc
    if len(loc) >= 3 and isinstance(loc[1], str) and isinstance(loc[2], int):
        return KIND_ORDER.get(loc[1], len(KINDS)), loc[2]
    return -1, 0


def check_records(
    session: Session,
    org_id: str,
    records: Mapping[str, Sequence[Sent]],
    loc_prefix: Any,
    known_patient_ids: Set[str] = frozenset(),
) -> list[Problem]:
    """The rules that need the rest of the batch or the org's data, for the records that
    passed their own checks. ``known_patient_ids``: patients an import has already read (and
    checked) in earlier parts of its file, which count as sent."""
    problems: list[Problem] = []

    def add(kind: str, index: int, field_: str, reason: str, type_: str) -> None:
        loc: Loc = (*loc_prefix(kind, index), field_)
        problems.append(Problem(loc, reason, type_))

    for kind in KINDS:
        seen: set[str] = set()
        for index, item in enumerate(records.get(kind.name, ())):
            if item.id is None:
                continue
            if item.id in seen:
                add(
                    kind.name,
                    index,
                    "id",
                    f"appears twice in this batch's {kind.name}",
                    "duplicate",
                )
            seen.add(item.id)

    batch_patients = {s.id for s in records.get(PATIENTS.name, ()) if s.id is not None}
    referenced = {
        getattr(s.record, "patient_id")  # noqa: B009  (every non-patient kind has it)
        for kind in KINDS
        if kind.references_patient
        for s in records.get(kind.name, ())
        if s.record is not None
    }
    unknown = referenced - batch_patients - known_patient_ids
    if unknown:
        unknown -= repository.existing_patient_ids(session, org_id, sorted(unknown))
    for kind in KINDS:
        if not kind.references_patient:
            continue
        for index, s in enumerate(records.get(kind.name, ())):
            patient_id = getattr(s.record, "patient_id", None)
            if patient_id in unknown:
                add(
                    kind.name,
                    index,
                    "patient_id",
                    f"no patient '{patient_id}' in this org (send the patient first, "
                    "or in the same batch)",
                    "unknown_patient",
                )

    for index, s in enumerate(records.get(COMMUNICATIONS.name, ())):
        if s.record is None:
            continue
        values = s.record.model_dump()
        for field_, reason in communication_problems(
            values["channel"],
            values["direction"],
            values["sent_at"],
            values,
            values["failure_reason"],
        ):
            add(COMMUNICATIONS.name, index, field_, reason, "does_not_fit")
    return problems


def _plan(
    session: Session,
    org_id: str,
    kind: RecordKind,
    items: Sequence[Record],
    now: datetime,
    planned: Planned,
) -> KindCounts:
    counts = KindCounts()
    if not items:
        return counts
    fields = kind.fields
    stored = repository.existing_rows(
        session, kind.model, org_id, [str(r.id) for r in items], fields
    )
    inserts = planned.inserts.setdefault(kind.name, [])
    updates = planned.updates.setdefault(kind.name, [])
    touched = planned.result.touched_patient_ids
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
                touched.add(old["patient_id"])
        else:
            counts.unchanged += 1
            continue
        touched.add(values.get("patient_id") or values["id"])
    return counts


def _with_waiting_events(
    session: Session, org_id: str, items: Sequence[Record], planned: Planned
) -> list[Record]:
    """Communications with the provider's status events that arrived before them (a
    delivery report for a message the clinic's system had not sent us yet) folded in,
    oldest first, by the same rules as when the communication is there first."""
    ids: list[str | None] = [getattr(item, "provider_message_id", None) for item in items]
    wanted = sorted({message_id for message_id in ids if message_id})
    if not wanted:
        return list(items)
    waiting = repository.waiting_events(session, org_id, wanted)
    if not waiting:
        return list(items)
    out: list[Record] = []
    for item, message_id in zip(items, ids, strict=True):
        events = [e for e in waiting.get(message_id or "", []) if e.detail.get("field")]
        if not events:
            out.append(item)
            continue
        values = item.model_dump()
        for event in events:
            step = provider_events.Step(event.detail["field"], event.detail.get("reason"))
            values.update(provider_events.advanced(values, step, event.occurred_at) or {})
            planned.applied_events.append(event.key)
        out.append(COMMUNICATIONS.schema.model_validate(values))
    return out


def stored_ids(session: Session, org_id: str, kind: RecordKind, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` the org has records of this kind for."""
    return set(repository.existing_rows(session, kind.model, org_id, ids, ("id",)))


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
