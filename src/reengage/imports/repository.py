"""All SQL for import jobs, always scoped by ``org_id``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from reengage.models import ImportJob


def add(session: Session, job: ImportJob) -> None:
    session.add(job)
    session.flush()


def get(session: Session, org_id: str, job_id: str) -> ImportJob | None:
    return session.get(ImportJob, (org_id, job_id))


def set_fields(session: Session, org_id: str, job_id: str, **values: Any) -> None:
    session.execute(
        update(ImportJob).where(ImportJob.org_id == org_id, ImportJob.id == job_id).values(**values)
    )
