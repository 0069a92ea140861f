"""Keeping the derived rows in step with the records.

The per-patient rows (``rows``), the org's daily roll-ups (``rollups``), its derived
status (``status``) and its stored standings (``stored_standings``). Every write of records
refreshes them for the patients it touched, in the same transaction; a change of the
settings they depend on, a bulk load, or an operator (``reengage state rebuild``) rebuilds a
whole org. They are a cache: the straight computation from the records is the reference
(``reengage.reference``), and the tests hold the two together.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor

from sqlalchemy.orm import Session

from reengage.derived import (
    alert_checks,
    histories,
    rollup_table,
    rollups,
    status,
    stored_standings,
)
from reengage.derived.histories import PackedHistory
from reengage.derived.rows import DerivedRows, Written, derive, derive_packed, insert_derived
from reengage.derived.rows import replace as replace_rows
from reengage.domain.settings import OrgSettings
from reengage.metrics import observe_derived

REBUILD_CHUNK = 2000
# The tables the derived state lives in (per patient, and the org's roll-ups and standings).
DERIVED_TABLES = ("patient_state", "attempt_outcomes", "risk_spans", "daily_rollups", "standings")


def refresh(
    session: Session, org_id: str, settings: OrgSettings, patient_ids: Iterable[str]
) -> None:
    """Recompute the derived rows of these patients from their records, and move the
    roll-ups by the difference between their new rows and their old ones."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    started = time.perf_counter()
    rollup_table.lock_states(session, org_id, ids)
    old = rollups.measure_sums(
        rollup_table.outcome_rows(session, org_id, ids),
        rollup_table.span_rows(session, org_id, ids),
    )
    found = [history for _, history in histories.load_histories(session, org_id, ids)]
    rows, written = derive(org_id, settings, found)
    replace_rows(session, org_id, ids, rows)
    rollup_table.add(session, org_id, rollups.difference(written.sums, old))
    status.extend(session, org_id, written.latest_at)
    alert_checks.mark(session, org_id, ids)
    # Last: it may wait for a read bringing the standings up to date (see ``invalidate``).
    stored_standings.invalidate(session, org_id, ids)
    observe_derived("refresh", len(ids), time.perf_counter() - started)


def rebuild(
    session: Session,
    org_id: str,
    settings: OrgSettings,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = 0,
) -> int:
    """Recompute the derived rows of every patient of the org, their roll-ups and the org's
    derived status; returns how many patients.

    The old rows go in one statement, and patients are read in id ranges, not id lists:
    a rebuild is what a bulk load and a settings change wait for. ``workers``: processes to
    compute rows in (``OrgBuild``); None picks by the org's size and the machine.
    """
    ids = histories.patient_ids(session, org_id)
    with OrgBuild(session, org_id, settings, len(ids), progress, workers) as build:
        for start in range(0, len(ids), REBUILD_CHUNK):
            chunk = ids[start : start + REBUILD_CHUNK]
            build.add(histories.load_packed_histories(session, org_id, (chunk[0], chunk[-1])))
    return len(ids)


# Below this many patients a build is computed in place: starting worker processes takes
# about a second, more than they would save.
PARALLEL_MIN_PATIENTS = 5000
# Chunks sent ahead per worker: enough to keep every worker busy while this process writes,
# few enough that memory holds a handful of chunks whatever the org's size.
AHEAD_PER_WORKER = 2
# Forked where the platform can: a worker starts at once and needs nothing from the caller's
# main module (a spawned one re-imports it, which fails for a script without a
# ``__main__`` guard). The copies of the caller's open connections are never used: workers
# only compute, and end with ``os._exit``, which closes nothing.
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def workers_for(patients: int, workers: int | None) -> int:
    """``workers`` when given; else one per CPU this process may run on, for a build of at
    least ``PARALLEL_MIN_PATIENTS`` on a machine with more than one."""
    if workers is not None:
        return max(0, workers)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus if cpus and cpus > 1 and patients >= PARALLEL_MIN_PATIENTS else 0


class OrgBuild:
    """A whole org's derived rows built anew: the old ones cleared on entry, chunks of
    patients' histories added, and on a clean exit the roll-ups and the derived status
    written.

    Computing the rows is most of a bulk load's time, in pure Python on one core. Patients
    are independent, so with workers each chunk is computed in a worker process while the
    caller reads or generates the next, and this process writes the rows as they come back,
    in the order the chunks were sent, in the caller's one transaction: workers never touch
    the database, and the result is the same with any number of them. On an error nothing
    more is written, the workers are stopped, and the caller's transaction rolls back.
    """

    def __init__(
        self,
        session: Session,
        org_id: str,
        settings: OrgSettings,
        patients: int,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
    ) -> None:
        self.session = session
        self.org_id = org_id
        self.settings = settings
        self.patients = patients
        self.progress = progress
        self.done = 0
        self.total = Written()
        self.workers = workers_for(patients, workers)
        # Workers convert rows for PostgreSQL's COPY themselves; SQLite's inserts take dicts.
        self.prepared = session.get_bind().dialect.name == "postgresql"
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[tuple[int, Future[tuple[DerivedRows, Written]]]] = deque()
        self.started = time.perf_counter()

    def __enter__(self) -> OrgBuild:
        if self.workers:
            context = multiprocessing.get_context(START_METHOD)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context)
        replace_rows(self.session, self.org_id, None, DerivedRows())
        rollup_table.clear(self.session, self.org_id)
        status.clear(self.session, self.org_id)
        stored_standings.clear(self.session, self.org_id)
        return self

    def add(self, packed: list[PackedHistory]) -> None:
        """Compute these patients' rows (here, or in a worker) and write any that are done."""
        if not packed:
            return
        if self.pool is None:
            self._store(len(packed), derive_packed(self.org_id, self.settings, packed, False))
            return
        future = self.pool.submit(derive_packed, self.org_id, self.settings, packed, self.prepared)
        self.pending.append((len(packed), future))
        while self.pending and (
            self.pending[0][1].done() or len(self.pending) > AHEAD_PER_WORKER * self.workers
        ):
            self._store_next()

    def _store_next(self) -> None:
        count, future = self.pending.popleft()
        self._store(count, future.result())

    def _store(self, count: int, result: tuple[DerivedRows, Written]) -> None:
        rows, written = result
        insert_derived(self.session, rows)
        self.total.add(written)
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.patients)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if error is None:
                while self.pending:
                    self._store_next()
                rollup_table.insert(self.session, self.org_id, self.total.sums)
                key = self.settings.derivation_key()
                status.put(self.session, self.org_id, key, self.total.latest_at)
                observe_derived("rebuild", self.done, time.perf_counter() - self.started)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
