"""Imports sent over HTTP: a job row per upload, run after the answer in a thread of the
server, its progress readable while it runs.

The import itself is one transaction (all or nothing), so its progress cannot be written
to the database as it goes (on SQLite the import holds the only write lock): it is kept in
this process's memory while the job runs, and the row says ``running``. The row is written
when the job starts and when it ends, each in a short transaction of its own.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from reengage import clock
from reengage.imports import repository, service, sources
from reengage.models import ImportJob

log = logging.getLogger("reengage.imports")

_progress: dict[tuple[str, str], dict[str, Any]] = {}
_lock = threading.Lock()


def create(
    session: Session,
    org_id: str,
    key_id: str,
    *,
    format_: str,
    profile: str | None,
    dry_run: bool,
    keep_valid: bool,
    file_bytes: int,
) -> ImportJob:
    job = ImportJob(
        org_id=org_id,
        id=f"imp_{secrets.token_hex(8)}",
        status="queued",
        format=format_,
        profile=profile,
        dry_run=dry_run,
        keep_valid=keep_valid,
        file_bytes=file_bytes,
        key_id=key_id,
        created_at=clock.now(),
    )
    repository.add(session, job)
    return job


def run(
    sessions: sessionmaker[Session],
    org_id: str,
    job_id: str,
    path: Path,
    *,
    phone_region: str | None = None,
) -> None:
    """Run a queued job to its end, whatever happens: the row ends ``done``, ``refused``
    or ``failed``, and the uploaded file is removed."""
    key = (org_id, job_id)
    try:
        with sessions() as session:
            job = repository.get(session, org_id, job_id)
            assert job is not None
            format_, profile = job.format, job.profile
            dry_run, keep_valid = job.dry_run, job.keep_valid
            repository.set_fields(session, org_id, job_id, status="running", started_at=clock.now())
            session.commit()

        def step(phase: str, done: int, total: int, records: int) -> None:
            with _lock:
                _progress[key] = {
                    "phase": phase,
                    "done": done,
                    "total": total,
                    "records_read": records,
                }

        with sessions() as session:
            source = sources.open_source(
                session,
                org_id,
                format_,
                path,
                profile=profile,
                phone_region=phone_region,
                name=path.name,
            )
            report = service.run(
                session, org_id, source, dry_run=dry_run, keep_valid=keep_valid, progress=step
            )
            if report.kept:
                session.commit()
            else:
                session.rollback()
        status = "refused" if report.problem_count and not report.kept else "done"
        with sessions() as session:
            repository.set_fields(
                session,
                org_id,
                job_id,
                status=status,
                finished_at=clock.now(),
                report=report.as_dict(),
            )
            session.commit()
        log.info("import %s of org %s: %s", job_id, org_id, status)
    except Exception as exc:
        # The reason's class only: a message may quote the file's content.
        log.exception("import %s of org %s failed", job_id, org_id)
        with sessions() as session:
            repository.set_fields(
                session,
                org_id,
                job_id,
                status="failed",
                finished_at=clock.now(),
                error=f"the import stopped on an unexpected error ({type(exc).__name__}); "
                "nothing was kept",
            )
            session.commit()
    finally:
        with _lock:
            _progress.pop(key, None)
        shutil.rmtree(path.parent, ignore_errors=True)


def describe(job: ImportJob) -> dict[str, Any]:
    """The job as ``GET .../imports/{id}`` answers it."""
    with _lock:
        progress = dict(_progress.get((job.org_id, job.id), {}))
    return {
        "id": job.id,
        "status": job.status,
        "format": job.format,
        "profile": job.profile,
        "dry_run": job.dry_run,
        "keep_valid": job.keep_valid,
        "file_bytes": job.file_bytes,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": progress or None,
        "report": job.report,
        "error": job.error,
    }
