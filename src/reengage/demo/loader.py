"""Writing a generated clinic into the database fast, and all at once or not at all.

The records API validates and upserts one batch at a time, which is right for a clinic's
data and far too slow for 100,000 generated patients. The generator's rows already obey the
contract (the tests check them through the API's own schemas), so they go straight in: Core
``executemany`` on SQLite, ``COPY`` on PostgreSQL, in one transaction, so that a failure
part-way leaves the org as empty as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.orm import Session

from reengage.db import bulk, statistics
from reengage.demo.generator import DEFAULT_OPTIONS, Options, PatientHistory, Row, generate
from reengage.derived import upkeep
from reengage.derived.histories import HISTORY_COLUMNS, PATIENT_COLUMNS, PackedHistory, pack
from reengage.models import Appointment, Communication, Followup, Org, Patient
from reengage.orgs import service as orgs_service

Progress = Callable[[str, int, int], None]

# Patients per flush: about 13,000 rows, enough to amortise each statement, small in memory.
CHUNK_PATIENTS = 1000
# Patients first: the other tables' foreign keys name them.
TABLES: tuple[Table, ...] = tuple(
    model.__table__  # type: ignore[misc]
    for model in (Patient, Appointment, Communication, Followup)
)


class DemoError(ValueError):
    """The demo cannot be loaded as asked; the message is fit to show the operator."""


@dataclass(frozen=True)
class DemoSummary:
    """What a load wrote, per kind, and how long it took (generation included)."""

    patients: int
    appointments: int
    communications: int
    followups: int
    seconds: float

    @property
    def rows(self) -> int:
        return self.patients + self.appointments + self.communications + self.followups


def load_demo(
    engine: Engine,
    org_id: str,
    patients: int,
    seed: int,
    as_of: datetime,
    progress: Progress | None = None,
    options: Options = DEFAULT_OPTIONS,
    workers: int | None = None,
) -> DemoSummary:
    """Generate a demo clinic of ``patients`` patients and write it into an empty org.

    The org must exist (its timezone sets the clinic's hours) and have no patients:
    a demo mixed into real or earlier data would make both meaningless.
    ``progress(stage, done, total)`` is called after every chunk. ``options`` make another
    clinic than the demo (the benchmark's longer, busier histories). ``workers``: processes
    to build the derived state in (``upkeep.OrgBuild``); None picks by size and machine.
    """
    if patients < 1:
        raise DemoError("the demo needs at least one patient")
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise DemoError("as_of needs a UTC offset")
    started = time.perf_counter()
    counts = dict.fromkeys((table.name for table in TABLES), 0)
    with engine.begin() as conn, Session(bind=conn) as session:
        timezone = _empty_org_timezone(conn, org_id)
        chunk: list[PatientHistory] = []

        def state_progress(done: int, total: int) -> None:
            if progress is not None:
                progress("patient state", done, total)

        # The derived state is built from the generated histories as they are written (in
        # worker processes for a big clinic), in the same transaction: the demo appears
        # complete or not at all.
        write = bulk.writer(conn)
        unanalysed = dict.fromkeys(counts, 0)
        settings = orgs_service.get_settings(session, org_id)
        with upkeep.OrgBuild(session, org_id, settings, patients, state_progress, workers) as build:
            for done, history in enumerate(
                generate(org_id, patients, seed, as_of, timezone, options), 1
            ):
                chunk.append(history)
                if done % CHUNK_PATIENTS == 0 or done == patients:
                    for table in TABLES:
                        rows = [row for h in chunk for row in _rows_of(h, table.name)]
                        write(table, rows)
                        counts[table.name] += len(rows)
                        unanalysed[table.name] += len(rows)
                    # The foreign keys' checks are planned once per connection, from the
                    # statistics of the patients written so far: a scan of a table
                    # believed tiny, which becomes quadratic as the org grows (100,000
                    # patients took an hour). ANALYZE as the tables grow replans them.
                    for name in statistics.keep_fresh(session, unanalysed):
                        unanalysed[name] = 0
                    if progress is not None:
                        progress("patients", done, patients)
                    build.add([_packed(h) for h in chunk])
                    chunk.clear()
        session.flush()
        # Planner statistics for tables that just grew (cheap: sampled). Without them the
        # planner takes the derived tables for tiny and scans an org's whole index instead of
        # looking patients up by key.
        grown = unanalysed | dict.fromkeys(upkeep.DERIVED_TABLES, counts["patients"])
        statistics.keep_fresh(session, grown)
    return DemoSummary(
        patients=counts["patients"],
        appointments=counts["appointments"],
        communications=counts["communications"],
        followups=counts["followups"],
        seconds=time.perf_counter() - started,
    )


def _empty_org_timezone(conn: Connection, org_id: str) -> str:
    """The org's timezone, after checking it exists and holds no patients.

    On PostgreSQL the org row stays locked until commit, so two loads into one org cannot
    both see it empty.
    """
    settings = conn.execute(
        select(Org.settings).where(Org.id == org_id).with_for_update()
    ).scalar_one_or_none()
    if settings is None:
        raise DemoError(f"no org '{org_id}': create it first (reengage orgs create)")
    has_patients = conn.execute(select(Patient.id).where(Patient.org_id == org_id).limit(1)).first()
    if has_patients is not None:
        raise DemoError(
            f"org '{org_id}' already has patients: the demo loads only into an empty org "
            "(use a new org id)"
        )
    return str(settings.get("timezone") or "UTC")


def _rows_of(history: PatientHistory, table: str) -> list[Row]:
    if table == "patients":
        return [history.patient]
    rows: list[Row] = getattr(history, table)
    return rows


def _packed(history: PatientHistory) -> PackedHistory:
    """The generated history as the derived state's build takes it (no database read)."""
    return pack(
        [history.patient[name] for name in PATIENT_COLUMNS],
        *(
            [[row[name] for name in HISTORY_COLUMNS[model]] for row in rows]
            for model, rows in (
                (Appointment, history.appointments),
                (Communication, history.communications),
                (Followup, history.followups),
            )
        ),
    )
