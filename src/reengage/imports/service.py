"""The one import service behind ``reengage import`` and ``POST .../imports``.

A source (a CSV file read through a profile, a FHIR Bundle or Bulk Data export) yields the
records it read, one by one, with where each came from. This module checks them with the
same rules as ``POST /batch`` (each record on its own, then against the rest of the file and
the org's data), part by part so that a file of any size streams, and writes them in the
caller's one transaction: the caller commits only when ``Report.kept``. By default one
refused record keeps nothing; the derived state is brought up to date once, at the end,
for every patient the import touched (not once per part, which would redo a patient whose
appointments are spread through the file).

Services never commit.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.orm import Session

from reengage.db.locks import lock_org_writes
from reengage.errors import Problem, reason_of
from reengage.records import service as records
from reengage.records.kinds import KINDS, KINDS_BY_NAME, PATIENTS
from reengage.records.schemas import KindCounts

# Records checked and written together: the batch API's limit, so a part costs what a
# batch does.
PART = 10_000
# Problems kept in a report; the count is always complete.
MAX_REPORTED = 1_000


@dataclass(frozen=True)
class Found:
    """One problem: which file, where in it (``row 17``, ``Patient/example``), the record kind
    and field when known, and the reason in words (never the value: it may be patient data).
    ``refused`` is False for what was skipped on purpose (a resource reengage does not keep)."""

    source: str
    at: str
    kind: str | None
    field: str | None
    reason: str
    refused: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "at": self.at,
            "kind": self.kind,
            "field": self.field,
            "reason": self.reason,
            "refused": self.refused,
        }


@dataclass
class Item:
    """One record as a source read it: its values, or the problems that kept them from
    being read (``field`` names the source's column or element, for the report)."""

    kind: str
    source: str
    at: str
    values: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)
    # Our field -> the source's name for it (a column), for naming it in a problem.
    labels: dict[str, str] = field(default_factory=dict)
    # Left as it is when the org has it already (see ``profiles.KindMap.only_new``).
    only_new: bool = False


class Source(Protocol):
    """What a reader gives the service: records (and skipped things) in file order, and how
    far through its input it is, for the progress bar."""

    name: str
    total: int  # units of work (bytes of input), 0 when unknown

    @property
    def done(self) -> int: ...

    def __iter__(self) -> Iterator[Item | Found]: ...


class SourceRefused(Exception):
    """The source cannot be read at all (a missing column, not CSV, not FHIR JSON)."""

    def __init__(self, problems: list[Found]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class KindTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0

    def add(self, counts: KindCounts) -> None:
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged


@dataclass
class Report:
    dry_run: bool
    keep_valid: bool
    summary: dict[str, KindTally] = field(
        default_factory=lambda: {kind.name: KindTally() for kind in KINDS}
    )
    problems: list[Found] = field(default_factory=list)
    problem_count: int = 0
    skipped_count: int = 0
    records_read: int = 0
    seconds: float = 0.0
    # Of those, bringing the derived state up to date at the end.
    deriving_seconds: float = 0.0
    kept: bool = False

    @property
    def keeps_nothing(self) -> bool:
        """A record was refused and the valid ones are not kept: nothing will be."""
        return self.problem_count > 0 and not self.keep_valid

    def note(self, found: Found) -> None:
        if found.refused:
            self.problem_count += 1
        else:
            self.skipped_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(found)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "keep_valid": self.keep_valid,
            "kept": self.kept,
            "records_read": self.records_read,
            "seconds": round(self.seconds, 3),
            "deriving_seconds": round(self.deriving_seconds, 3),
            "summary": {name: vars(t).copy() for name, t in self.summary.items()},
            "problem_count": self.problem_count,
            "skipped_count": self.skipped_count,
            "problems": [p.as_dict() for p in self.problems],
            "problems_shown": len(self.problems),
        }


# (phase, done, total, records read so far): "reading" in source units, then "deriving"
# in patients.
Progress = Callable[[str, int, int, int], None]


def run(
    session: Session,
    org_id: str,
    source: Source,
    *,
    dry_run: bool = False,
    keep_valid: bool = False,
    progress: Progress | None = None,
    workers: int | None = 0,
) -> Report:
    """Read, check and (unless a dry run) write every record of ``source``; the caller
    commits when ``report.kept`` and rolls back otherwise. ``workers``: processes the derived
    state may be computed in (``records.refresh_derived``)."""
    started = time.perf_counter()
    report = Report(dry_run=dry_run, keep_valid=keep_valid)
    if not dry_run:
        lock_org_writes(session, org_id)
    state = _State(session=session, org_id=org_id, report=report, write=not dry_run)
    try:
        for entry in source:
            if isinstance(entry, Found):
                report.note(entry)
                continue
            state.take(entry)
            if state.size >= PART:
                state.flush()
                if progress:
                    progress("reading", source.done, source.total, report.records_read)
        state.flush()
    except SourceRefused as exc:
        for found in exc.problems:
            report.note(found)
        state.failed = True
    if progress:
        progress("reading", source.total, source.total, report.records_read)
    failed = state.failed or report.keeps_nothing
    if not failed and not dry_run:

        def deriving(done: int, total: int) -> None:
            if progress:
                progress("deriving", done, total, report.records_read)

        deriving_from = time.perf_counter()
        records.refresh_derived(session, org_id, state.touched, workers=workers, progress=deriving)
        report.deriving_seconds = time.perf_counter() - deriving_from
        report.kept = True
    if failed:
        # Nothing is kept: what would have been written is not part of the summary.
        for tally in report.summary.values():
            tally.created = tally.updated = tally.unchanged = 0
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _State:
    session: Session
    org_id: str
    report: Report
    write: bool
    failed: bool = False
    pending: dict[str, list[tuple[Item, records.Sent]]] = field(
        default_factory=lambda: {kind.name: [] for kind in KINDS}
    )
    size: int = 0
    # Every record read so far, by kind and id: where it was and a digest of its values. A
    # repeat with the same values (a patient on each row of a wide appointments report) is
    # folded into the first; one with other values is refused.
    seen: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    # Patients read in earlier parts (checked then): later parts may name them.
    known_patients: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)

    def take(self, item: Item) -> None:
        kind = KINDS_BY_NAME[item.kind]
        self.report.records_read += 1
        problems = [Found(item.source, item.at, item.kind, f, r) for f, r in item.problems]
        record = None
        if not problems:
            try:
                record = kind.schema.model_validate(item.values)
            except ValidationError as exc:
                for error in exc.errors(include_url=False, include_input=False):
                    name = str(error["loc"][0]) if error["loc"] else "record"
                    label = item.labels.get(name, name)
                    problems.append(Found(item.source, item.at, item.kind, label, reason_of(error)))
        record_id = item.values.get("id")
        if isinstance(record_id, str):
            digest = hashlib.blake2b(repr(sorted(item.values.items())).encode(), digest_size=16)
            first = self.seen.get((item.kind, record_id))
            if first is not None:
                if first[1] == digest.digest() and not problems:
                    return
                problems.append(
                    Found(
                        item.source,
                        item.at,
                        item.kind,
                        item.labels.get("id", "id"),
                        f"{kind.singular} '{record_id}' is also at {first[0]}, with other values",
                    )
                )
            else:
                self.seen[(item.kind, record_id)] = (item.at, digest.digest())
        if problems:
            self._refuse(item, problems)
            return
        assert record is not None
        self.pending[item.kind].append((item, records.Sent(record.id, record)))
        self.size += 1

    def _refuse(self, item: Item, problems: list[Found]) -> None:
        self.report.summary[item.kind].refused += 1
        for found in problems:
            self.report.note(found)
        # A refused patient counts as sent (its appointments are not also refused as naming
        # nobody), unless the valid records are kept: then they name a patient not there.
        patient_id = item.values.get("id")
        if (
            item.kind == PATIENTS.name
            and isinstance(patient_id, str)
            and not self.report.keep_valid
        ):
            self.known_patients.add(patient_id)

    def flush(self) -> None:
        if not self.size:
            return
        if self.report.keeps_nothing:
            # A record was refused on its own: nothing will be kept, so nothing more is
            # written (what names the refused patient would break its foreign key), but every
            # record is still checked, for the report.
            self.failed = True
        pending = self.pending
        self.pending = {kind.name: [] for kind in KINDS}
        self.size = 0
        while True:
            sent = {name: [s for _, s in entries] for name, entries in pending.items()}
            problems = records.check_records(
                self.session,
                self.org_id,
                sent,
                loc_prefix=lambda kind, index: (kind, index),
                known_patient_ids=self.known_patients,
            )
            if not problems:
                break
            bad = self._problems(pending, problems)
            if not self.report.keep_valid:
                self.failed = True
                break
            # Keep the others; a record that named a refused patient is refused in turn.
            pending = {
                name: [e for i, e in enumerate(entries) if (name, i) not in bad]
                for name, entries in pending.items()
            }
        self.known_patients.update(s.id for _, s in pending[PATIENTS.name] if s.id)
        if self.failed:
            return
        sent = self._without_stored(sent, pending)
        planned = records.plan_writes(self.session, self.org_id, sent)
        for name, counts in planned.result.counts.items():
            self.report.summary[name].add(counts)
        if self.write:
            records.apply_writes(self.session, planned)
            self.touched |= planned.result.touched_patient_ids

    def _without_stored(
        self,
        sent: dict[str, list[records.Sent]],
        pending: dict[str, list[tuple[Item, records.Sent]]],
    ) -> dict[str, list[records.Sent]]:
        """The records to write, less those marked ``only_new`` that the org already has
        (counted unchanged)."""
        for kind in KINDS:
            ids = [s.id for item, s in pending[kind.name] if item.only_new and s.id]
            if not ids:
                continue
            stored = records.stored_ids(self.session, self.org_id, kind, ids)
            self.report.summary[kind.name].unchanged += len(stored)
            sent[kind.name] = [s for s in sent[kind.name] if s.id not in stored]
        return sent

    def _problems(
        self, pending: dict[str, list[tuple[Item, records.Sent]]], problems: Iterable[Problem]
    ) -> set[tuple[str, int]]:
        bad: set[tuple[str, int]] = set()
        for problem in problems:
            kind, index, *rest = problem.loc
            assert isinstance(kind, str) and isinstance(index, int)
            item = pending[kind][index][0]
            name = str(rest[0]) if rest else None
            label = item.labels.get(name, name) if name else None
            if (kind, index) not in bad:
                self.report.summary[kind].refused += 1
            bad.add((kind, index))
            self.report.note(Found(item.source, item.at, kind, label, problem.reason))
        return bad
