"""SQL of the scheduler's record of slots run (``job_runs``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reengage.models import JobRun


def done(session: Session, org_id: str, job: str, slot: str) -> bool:
    r = JobRun
    found = session.scalar(select(r.slot).where(r.org_id == org_id, r.job == job, r.slot == slot))
    return found is not None


def mark_done(
    session: Session, org_id: str, job: str, slot: str, at: datetime, seconds: float, worker: str
) -> None:
    session.add(
        JobRun(org_id=org_id, job=job, slot=slot, finished_at=at, seconds=seconds, worker=worker)
    )
    session.flush()


def runs(session: Session, org_id: str, job: str | None = None, limit: int = 50) -> list[JobRun]:
    r = JobRun
    where = [r.org_id == org_id]
    if job is not None:
        where.append(r.job == job)
    stmt = select(r).where(*where).order_by(r.finished_at.desc(), r.job).limit(limit)
    return list(session.scalars(stmt))


def prune(session: Session, org_id: str, before: datetime) -> None:
    session.execute(delete(JobRun).where(JobRun.org_id == org_id, JobRun.finished_at < before))
