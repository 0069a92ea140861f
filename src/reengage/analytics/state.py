"""Keeping the derived rows in step with the records.

Three tables: ``patient_state`` (what the risk rules need), ``attempt_outcomes`` (what the
success-rate prediction and the outreach funnels sum) and ``risk_spans`` (the at-risk tiers
each patient went through, day by day: what trends count); and two per org:
``daily_rollups`` (their sums per day) and ``derived_status`` (whether all of it is
complete, and up to when). Every write of records refreshes them for the patients it
touched, in the same transaction; a change of the settings they depend on, a bulk load, or
an operator (``reengage state rebuild``) rebuilds a whole org. They are a cache: the
straight computation from events is the reference, and the tests hold the two together.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reengage.analytics import queries, rollup_queries, rollups, standing_queries
from reengage.analytics.queries import DerivedRows, PackedHistory
from reengage.analytics.rollup_queries import Sums
from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.prediction import attempt_outcomes
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import risk_spans, settled
from reengage.domain.state import PatientState, summarize
from reengage.domain.tier_timeline import TierTimeline
from reengage.orgs import service as orgs_service

REBUILD_CHUNK = 2000


def refresh(session: Session, org_id: str, patient_ids: Iterable[str]) -> None:
    """Recompute the derived rows of these patients from their records, and move the
    roll-ups by the difference between their new rows and their old ones."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    rollup_queries.lock_states(session, org_id, ids)
    old = rollups.measure_sums(
        rollup_queries.outcome_rows(session, org_id, ids),
        rollup_queries.span_rows(session, org_id, ids),
    )
    settings = orgs_service.get_settings(session, org_id)
    histories = [history for _, history in queries.load_histories(session, org_id, ids)]
    rows, written = derive(org_id, settings, histories)
    queries.replace_derived(session, org_id, ids, rows)
    rollup_queries.add(session, org_id, rollups.difference(written.sums, old))
    rollup_queries.extend_status(session, org_id, written.latest_at)
    # Last: it may wait for a read bringing the standings up to date (see ``invalidate``).
    standing_queries.invalidate(session, org_id, ids)


def rebuild(
    session: Session,
    org_id: str,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = 0,
) -> int:
    """Recompute the derived rows of every patient of the org, their roll-ups and the org's
    derived status; returns how many patients.

    The old rows go in one statement, and patients are read in id ranges, not id lists:
    a rebuild is what a bulk load and a settings change wait for. ``workers``: processes to
    compute rows in (``OrgBuild``); None picks by the org's size and the machine.
    """
    ids = queries.patient_ids(session, org_id)
    with OrgBuild(session, org_id, len(ids), progress, workers) as build:
        for start in range(0, len(ids), REBUILD_CHUNK):
            chunk = ids[start : start + REBUILD_CHUNK]
            build.add(queries.load_packed_histories(session, org_id, (chunk[0], chunk[-1])))
    return len(ids)


@dataclass
class Written:
    """What a write of derived rows adds to the roll-ups, and its latest timestamp."""

    sums: Sums = field(default_factory=Counter)
    latest_at: datetime | None = None

    def add(self, other: Written) -> None:
        self.sums.update(other.sums)
        self.latest_at = _later(self.latest_at, other.latest_at)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def derive(
    org_id: str, settings: OrgSettings, histories: Iterable[PatientHistory]
) -> tuple[DerivedRows, Written]:
    """The derived rows of these histories, and what they add to the roll-ups. Pure: it
    runs in worker processes too (``OrgBuild``)."""
    zone = settings.zone()
    key = settings.derivation_key()
    rows = DerivedRows()
    latest: datetime | None = None
    for history in histories:
        state = summarize(history, zone)
        rows.states.append(_row(org_id, state, key))
        latest = _later(latest, state.horizon_at)
        shared = {"horizon_at": state.horizon_at, "settings_key": key}
        comms = {c.id: c for c in history.communications}
        timeline = TierTimeline(history, settings)
        for o in attempt_outcomes(history, settings, timeline):
            comm = comms[o.communication_id]
            for at in (comm.delivered_at, comm.opened_at, comm.responded_at, o.converted_at):
                latest = _later(latest, at)
            rows.outcomes.append(
                {
                    "org_id": org_id,
                    "communication_id": o.communication_id,
                    "patient_id": history.id,
                    "sent_at": o.sent_at,
                    "sent_day": _day(o.sent_at, zone),
                    "tier_before": o.tier_before,
                    "contacted": int(o.contacted),
                    "converted_at": o.converted_at,
                    "converted_day": _day(o.converted_at, zone) if o.converted_at else None,
                    "channel": comm.channel,
                    "delivered_at": comm.delivered_at,
                    "opened_at": comm.opened_at,
                    "responded_at": comm.responded_at,
                    "connected_at": comm.connected_at,
                    **shared,
                }
            )
        rows.spans += (
            {"org_id": org_id, "patient_id": history.id, **rollups.span_values(span), **shared}
            for span in risk_spans(history, settled(history, settings), settings, timeline)
        )
    return rows, Written(rollups.measure_sums(rows.outcomes, rows.spans), latest)


def derive_packed(
    org_id: str, settings: OrgSettings, packed: list[PackedHistory], prepared: bool
) -> tuple[DerivedRows, Written]:
    """``derive`` of packed histories, the rows ``prepared`` for COPY when asked: what a
    worker process is sent."""
    rows, written = derive(org_id, settings, map(queries.unpack, packed))
    return (rows.prepared() if prepared else rows), written


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
        patients: int,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
    ) -> None:
        self.session = session
        self.org_id = org_id
        self.settings = orgs_service.get_settings(session, org_id)
        self.patients = patients
        self.progress = progress
        self.done = 0
        self.total = Written()
        self.workers = workers_for(patients, workers)
        # Workers convert rows for PostgreSQL's COPY themselves; SQLite's inserts take dicts.
        self.prepared = session.get_bind().dialect.name == "postgresql"
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[tuple[int, Future[tuple[DerivedRows, Written]]]] = deque()

    def __enter__(self) -> OrgBuild:
        if self.workers:
            context = multiprocessing.get_context(START_METHOD)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context)
        queries.replace_derived(self.session, self.org_id, None, DerivedRows())
        rollup_queries.clear(self.session, self.org_id)
        standing_queries.clear(self.session, self.org_id)
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
        queries.insert_derived(self.session, rows)
        self.total.add(written)
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.patients)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if error is None:
                while self.pending:
                    self._store_next()
                rollup_queries.insert(self.session, self.org_id, self.total.sums)
                key = self.settings.derivation_key()
                rollup_queries.set_status(self.session, self.org_id, key, self.total.latest_at)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)


def _day(at: datetime, zone: ZoneInfo) -> int:
    return local_date(at, zone).toordinal()


def _row(org_id: str, state: PatientState, settings_key: str) -> dict[str, Any]:
    missed = state.missed_days + (None,) * (3 - len(state.missed_days))
    return {
        "org_id": org_id,
        "patient_id": state.patient_id,
        "status": state.status,
        "start_at": state.start_at,
        "horizon_at": state.horizon_at,
        "last_contact_at": state.last_contact_at,
        "contact_day": state.contact_day,
        "future_until": state.future_until,
        "missed_day_1": missed[0],
        "missed_day_2": missed[1],
        "missed_day_3": missed[2],
        "failed_sent_at": state.failed_sent_at,
        "failed_day": state.failed_day,
        "last_attempt_day": state.last_attempt_day,
        "followup_due_at": state.followup_due_at,
        "followup_due_day": state.followup_due_day,
        "completed": state.completed,
        "last_completed_at": state.last_completed_at,
        "attempts": state.attempts,
        "successes_morning": state.successes[0],
        "successes_afternoon": state.successes[1],
        "successes_evening": state.successes[2],
        "recent_from": state.recent_from,
        "settings_key": settings_key,
    }
