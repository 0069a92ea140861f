"""Named jobs, each run once per slot, by whichever process gets there first.

A *slotted* job has slots: every few minutes (``every``), or a local time of day in the
org's timezone (``daily``). Only a job's latest slot is ever due: after downtime, the slot
missed last is run once when the scheduler is back, and the ones before it never (a digest
of three mornings ago helps nobody, and one evaluation stands for all those missed). An
*unslotted* job runs on every tick when it has work (the queues: written patients, due
deliveries, a stale org).

Exactly once, per org and slot:

1. a lock on the slot's name: on PostgreSQL, a session advisory lock (``pg_try_advisory_
   lock``) held on the scheduler's own connection, so a worker that dies, however it dies,
   lets it go as its connection closes; on SQLite, one scheduler per database file (an
   ``flock`` the operating system drops with the process), the database itself allowing
   one writer;
2. under it, the slot's ``job_runs`` row is looked up: there, the slot is done;
3. the job runs in a transaction that ends by writing that row, and commits: the slot is
   done with everything the job wrote, or not at all. A worker killed mid-slot leaves no
   row, and the next one runs the slot. The row's primary key is the last guard.

A job that must read before it writes may commit what reading wrote (the stored standings
bring themselves up to date that way); such jobs are written so that running an unfinished
slot again is harmless.

Why not a job-queue library (``procrastinate``, which is PostgreSQL-only, or APScheduler):
the one-machine default runs on SQLite, and the same few dozen lines serve both databases
(``docs/decisions.md``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from reengage import clock
from reengage.alerts.deliveries import Outbound
from reengage.checkins.service import SendingConfig
from reengage.domain.settings import OrgSettings
from reengage.jobs import repository
from reengage.orgs import service as orgs_service

log = logging.getLogger("reengage.jobs")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Context:
    """What jobs need from the process running them."""

    sessions: sessionmaker[Session]
    outbound: Outbound
    base_url: str
    # Processes a rebuild may compute in (``upkeep.rebuild``): 0 inside the server, whose
    # threads must not be forked; None (by size) in ``reengage worker``.
    rebuild_workers: int | None = 0
    sending: SendingConfig = field(default_factory=SendingConfig)
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


Run = Callable[[Context, Session, str, datetime], object]


@dataclass(frozen=True)
class Job:
    """``run(context, session, org_id, now)``: commit is the scheduler's, after it."""

    name: str
    run: Run
    every: timedelta | None = None
    daily: Callable[[OrgSettings], tuple[int, int] | None] | None = None
    # An unslotted job's cheap test for work, so an idle tick takes no lock.
    has_work: Callable[[Session, str], bool] | None = None

    @property
    def slotted(self) -> bool:
        return self.every is not None or self.daily is not None

    def slot(self, now: datetime, settings: OrgSettings) -> datetime | None:
        """The job's latest slot at ``now``, or None (not slotted, or off for the org)."""
        if self.every is not None:
            step = self.every.total_seconds()
            return EPOCH + timedelta(seconds=(now - EPOCH).total_seconds() // step * step)
        if self.daily is not None:
            at = self.daily(settings)
            if at is None:
                return None
            zone = settings.zone()
            today = now.astimezone(zone).date()
            for day in (today, today - timedelta(days=1)):
                # That wall-clock time on that day (zoneinfo's reading of a skipped or
                # repeated time: the first).
                instant = datetime.combine(day, dt_time(at[0], at[1]), tzinfo=zone).astimezone(UTC)
                if instant <= now:
                    return instant
        return None


def slot_key(slot: datetime | None) -> str:
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if slot is not None else ""


# --- locks ------------------------------------------------------------------------------------


class Locks:
    """Who may run a slot (see the module's docstring)."""

    def leader(self) -> bool:
        """Whether this process may run jobs at all (always, on PostgreSQL)."""
        return True

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        yield True

    def close(self) -> None:
        pass


class PostgresLocks(Locks):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def _connection(self) -> Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = self.engine.connect()
            # Autocommit: the lock is the session's, not a transaction's.
            self.conn = self.conn.execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        conn = self._connection()
        key = {"key": f"reengage.job:{name}"}
        got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), key))
        try:
            yield got
        finally:
            if got:
                with contextlib.suppress(Exception):
                    conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), key)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


class SqliteLocks(Locks):
    """One scheduler per database file: the process holding the file's lock."""

    def __init__(self, database: str | None) -> None:
        self.path = Path(f"{database}.scheduler-lock") if database else None
        self.file: IO[str] | None = None

    def leader(self) -> bool:
        if self.path is None or self.file is not None:
            return True
        handle = self.path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.file = handle
        return True

    def close(self) -> None:
        if self.file is not None:
            self.file.close()  # releases the lock
            self.file = None


def locks_for(engine: Engine) -> Locks:
    if engine.dialect.name == "postgresql":
        return PostgresLocks(engine)
    database = make_url(str(engine.url)).database
    return SqliteLocks(database if database and database != ":memory:" else None)


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """One job for one org on one tick: what happened."""

    job: str
    org_id: str
    slot: str
    outcome: str  # ran | done | busy | idle | off | failed
    seconds: float = 0.0


class Scheduler:
    def __init__(
        self,
        context: Context,
        engine: Engine,
        jobs: tuple[Job, ...],
        tick: float = 10.0,
        orgs: Sequence[str] | None = None,
    ):
        """``orgs``: only these (``reengage worker --org``); None: every org."""
        self.context = context
        self.only = list(orgs) if orgs is not None else None
        self.jobs = jobs
        self.tick = tick
        self.locks = locks_for(engine)
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # One pass over every org and job. Between two jobs it stops if asked: the job in hand
    # is always finished first.
    def run_once(self) -> list[Ran]:
        if not self.locks.leader():
            return []
        with self.context.sessions() as session:
            orgs = self.only if self.only is not None else orgs_service.org_ids(session)
        done: list[Ran] = []
        for org_id in orgs:
            for job in self.jobs:
                if self.stopping.is_set():
                    return done
                done.append(self.run_job(job, org_id))
        return done

    def run_job(self, job: Job, org_id: str) -> Ran:
        now = clock.now()
        try:
            with self.context.sessions() as session:
                settings = orgs_service.get_settings(session, org_id)
                slot = job.slot(now, settings)
                key = slot_key(slot)
                if job.slotted and slot is None:
                    return Ran(job.name, org_id, key, "off")
                if job.slotted and repository.done(session, org_id, job.name, key):
                    return Ran(job.name, org_id, key, "done")
                if job.has_work is not None and not job.has_work(session, org_id):
                    return Ran(job.name, org_id, key, "idle")
            with self.locks.hold(f"{job.name}:{org_id}:{key}") as got:
                if not got:
                    return Ran(job.name, org_id, key, "busy")
                return self._run_held(job, org_id, key, now)
        except LookupError:
            return Ran(job.name, org_id, "", "off")  # the org went away meanwhile
        except Exception as exc:
            # The class only: a message may quote data.
            log.error("job %s for org %s failed: %s", job.name, org_id, type(exc).__name__)
            log.debug("job failure", exc_info=True)
            return Ran(job.name, org_id, "", "failed")

    def _run_held(self, job: Job, org_id: str, key: str, now: datetime) -> Ran:
        started = time.perf_counter()
        with self.context.sessions() as session:
            if job.slotted and repository.done(session, org_id, job.name, key):
                return Ran(job.name, org_id, key, "done")
            job.run(self.context, session, org_id, now)
            seconds = time.perf_counter() - started
            if job.slotted:
                repository.mark_done(
                    session, org_id, job.name, key, clock.now(), seconds, self.context.worker
                )
            session.commit()
        if job.slotted or seconds > 1:
            log.info("job %s for org %s ran in %.2f s", job.name, org_id, seconds)
        return Ran(job.name, org_id, key, "ran", seconds)

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            self.run_once()
            self.stopping.wait(self.tick)
        self.locks.close()
        log.info("scheduler stopped")

    # In a thread of ``reengage serve``.
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name="reengage-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def as_payload(ran: list[Ran]) -> list[dict[str, Any]]:
    return [r.__dict__ for r in ran if r.outcome in ("ran", "failed")]
