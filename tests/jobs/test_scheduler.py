"""The scheduler runs each slot exactly once: raced by two workers, after downtime, and
after a worker dies in the middle of one. On both databases (a worker process on SQLite
is the one holding the database file's scheduler lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from reengage import clock
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.domain.settings import Digest, OrgSettings
from reengage.jobs.catalog import JOBS
from reengage.jobs.scheduler import EPOCH, Job
from reengage.models import JobRun
from tests.factories import OrgFixture
from tests.jobs.helpers import counting_job, runs_counted, scheduler_of

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 9, 2, 30, tzinfo=UTC)


def slots_done(engine: Engine, org_id: str, job: str = "test-count") -> list[str]:
    with make_sessionmaker(engine)() as session:
        stmt = select(JobRun.slot).where(JobRun.org_id == org_id, JobRun.job == job)
        return sorted(session.scalars(stmt))


def test_two_workers_racing_run_a_slot_once(engine: Engine, org: OrgFixture) -> None:
    job = counting_job(hold_seconds=0.5)
    workers = [scheduler_of(make_engine(str(engine.url)), org.id, job) for _ in range(2)]
    start = threading.Barrier(len(workers))
    outcomes: list[str] = []

    def race(index: int) -> None:
        start.wait()
        outcomes.extend(r.outcome for r in workers[index].run_once())

    with clock.frozen_at(NOW):
        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(workers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # The loser, coming back after the winner committed, finds the slot done.
        again = [r.outcome for w in workers for r in w.run_once()]
    for w in workers:
        w.locks.close()
    if engine.dialect.name == "postgresql":
        assert sorted(outcomes) == ["busy", "ran"]
        assert again == ["done", "done"]
    else:
        # One scheduler per SQLite file: the other process (here, the other scheduler) waits.
        assert outcomes == ["ran"]
    assert runs_counted(engine, org.id) == 1
    assert slots_done(engine, org.id) == ["2026-12-07T09:00:00Z"]


def test_after_downtime_the_missed_slot_runs_once(engine: Engine, org: OrgFixture) -> None:
    job = counting_job()
    worker = scheduler_of(engine, org.id, job)
    try:
        with clock.frozen_at(NOW):
            assert [r.outcome for r in worker.run_once()] == ["ran"]
        # Down for an hour: the slots missed meanwhile are one slot, run once when back.
        with clock.frozen_at(NOW + timedelta(hours=1)):
            assert [r.outcome for r in worker.run_once()] == ["ran"]
            assert [r.outcome for r in worker.run_once()] == ["done"]
    finally:
        worker.locks.close()
    assert runs_counted(engine, org.id) == 2
    assert slots_done(engine, org.id) == ["2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z"]


def test_a_worker_killed_mid_slot_leaves_it_to_the_next(
    engine: Engine, org: OrgFixture, tmp_path: Path
) -> None:
    marker = tmp_path / "in-slot"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.jobs.helpers",
            engine.url.render_as_string(hide_password=False),
            org.id,
            str(marker),
            NOW.isoformat(),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, "the worker ended before the slot"
            assert time.monotonic() < deadline, "the worker never reached the slot"
            time.sleep(0.05)
        # Its row is written, uncommitted, and it holds the slot: a second worker now waits.
        worker = scheduler_of(engine, org.id, counting_job())
        with clock.frozen_at(NOW):
            assert [r.outcome for r in worker.run_once()] in (["busy"], [])
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        with clock.frozen_at(NOW):
            assert [r.outcome for r in worker.run_once()] == ["ran"]
            assert [r.outcome for r in worker.run_once()] == ["done"]
        worker.locks.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The killed worker's write went with it; the slot ran once, by the next worker.
    assert runs_counted(engine, org.id) == 1
    assert slots_done(engine, org.id) == ["2026-12-07T09:00:00Z"]


def test_a_failing_job_leaves_the_slot_to_run_again(engine: Engine, org: OrgFixture) -> None:
    calls: list[datetime] = []

    def run(*args: object) -> None:
        calls.append(clock.now())
        raise RuntimeError("the job broke")

    worker = scheduler_of(engine, org.id, Job("test-broken", run, every=timedelta(minutes=5)))
    with clock.frozen_at(NOW):
        assert [r.outcome for r in worker.run_once()] == ["failed"]
        assert [r.outcome for r in worker.run_once()] == ["failed"]
    worker.locks.close()
    assert len(calls) == 2 and slots_done(engine, org.id, "test-broken") == []


@given(
    now=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(["UTC", "Australia/Sydney", "America/New_York", "Asia/Kolkata"]),
    minutes=st.sampled_from([1, 5, 15, 60]),
)
def test_the_latest_slot_is_the_last_one_due(
    now: datetime, hour: int, minute: int, zone: str, minutes: int
) -> None:
    settings = OrgSettings(timezone=zone, digest=Digest(at=f"{hour:02d}:{minute:02d}"))
    every = Job("every", lambda *a: None, every=timedelta(minutes=minutes)).slot(now, settings)
    assert every is not None
    assert every <= now < every + timedelta(minutes=minutes)
    assert (every - EPOCH).total_seconds() % (minutes * 60) == 0
    daily = Job("daily", lambda *a: None, daily=lambda s: s.digest.clock()).slot(now, settings)
    assert daily is not None
    # Due, no more than a day (and a daylight-saving hour) ago, at the wall-clock time asked.
    assert daily <= now < daily + timedelta(hours=25)
    local = daily.astimezone(ZoneInfo(zone))
    skipped = (local.hour, local.minute) != (hour, minute)
    assert not skipped or zone in ("Australia/Sydney", "America/New_York")


def test_a_daily_slot_is_off_when_the_org_says_so() -> None:
    job = Job(
        "daily", lambda *a: None, daily=lambda s: s.digest.clock() if s.digest.recipients else None
    )
    assert job.slot(NOW, OrgSettings()) is None
    on = OrgSettings(digest=Digest(recipients=["manager@example-clinic.test"], at="07:30"))
    sydney = OrgSettings(timezone="Australia/Sydney", digest=on.digest)
    # 09:02 UTC is 20:02 in Sydney (daylight time, +11): today's 07:30 there is 20:30 UTC
    # yesterday; in UTC, today's 07:30.
    assert job.slot(NOW, on) == datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    assert job.slot(NOW, sydney) == datetime(2026, 12, 6, 20, 30, tzinfo=UTC)


def test_the_worker_stops_cleanly_on_sigterm(
    database_url: str, org: OrgFixture, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "REENGAGE_DATABASE_URL": database_url,
        "REENGAGE_SCHEDULER_TICK_SECONDS": "0.5",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "reengage.cli", "worker", "--org", org.id],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith(f"reengage worker: {len(JOBS)} jobs"), first
        time.sleep(1.0)  # a pass or two over the orgs
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert out.strip().endswith("reengage worker: stopped")


def test_job_runs_are_listed_for_admins(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    worker = scheduler_of(engine, org.id, counting_job())
    with clock.frozen_at(NOW):
        worker.run_once()
    worker.locks.close()
    r = client.get(org.url("/jobs"), headers=org.headers())
    assert r.status_code == 200
    assert [(run["job"], run["slot"]) for run in r.json()["runs"]] == [
        ("test-count", "2026-12-07T09:00:00Z")
    ]
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).where(JobRun.org_id == org.id)) == 1
