"""``POST /imports`` (a file, run as a background job) and ``GET /imports/{id}``. Thin:
parse, authorize, check what can be checked at once, queue, shape."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Request,
    UploadFile,
)
from fastapi import Path as PathParam

from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.errors import Problem, RecordValidationError, pattern
from reengage.imports import jobs, repository, sources
from reengage.imports.profiles import ProfileError

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["imports"], route_class=PermissionFirst)
Importer = Annotated[Principal, Depends(require("import"))]
JOB_ID = pattern(r"^imp_[0-9a-f]{16}$", "must be an import id such as imp_0123456789abcdef")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _refuse(field: str, reason: str) -> RecordValidationError:
    # A value the document allows that does not fit the rest (a CSV needs a profile; the
    # profile must exist): the records' "does_not_fit".
    return RecordValidationError([Problem(("body", field), reason, "does_not_fit")])


def _file_name(upload: UploadFile, format_: str) -> str:
    name = SAFE_NAME.sub("_", Path(upload.filename or "").name)[-100:].lstrip(".")
    suffix = Path(name).suffix.lower()
    allowed = (".csv", ".txt") if format_ == "csv" else (".json", ".ndjson")
    if suffix not in allowed:
        name = f"upload{'.csv' if format_ == 'csv' else '.json'}"
    return name


@router.post("/imports", status_code=202)
def create_import(
    org_id: OrgId,
    request: Request,
    session: SessionDep,
    principal: Importer,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="The CSV export, or FHIR JSON or NDJSON")],
    format: Annotated[Literal["csv", "fhir"], Form(description="csv | fhir")],
    profile: Annotated[str | None, Form(description="A built-in CSV profile")] = None,
    phone_region: Annotated[str | None, Form(description="FHIR: region of local numbers")] = None,
    dry_run: Annotated[bool, Form()] = False,
    keep_valid: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Queue an import of the uploaded file; answers 202 with the job to poll."""
    if format not in sources.FORMATS:
        raise _refuse("format", f"must be one of {', '.join(sources.FORMATS)}")
    if profile is not None and ("/" in profile or "\\" in profile):
        raise _refuse("profile", "names a built-in profile (see 'reengage import profiles')")
    folder = Path(tempfile.mkdtemp(prefix="reengage-import-"))
    path = folder / _file_name(file, format)
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1 << 20)
        try:
            sources.open_source(
                session, org_id, format, path, profile=profile, phone_region=phone_region
            )
        except ProfileError as exc:
            raise _refuse("profile", str(exc)) from None
        except ValueError as exc:
            field = "phone_region" if "phone region" in str(exc) else "profile"
            raise _refuse(field, str(exc)) from None
        job = jobs.create(
            session,
            org_id,
            principal.key_id,
            format_=format,
            profile=profile,
            dry_run=dry_run,
            keep_valid=keep_valid,
            file_bytes=path.stat().st_size,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    background.add_task(
        jobs.run, request.app.state.sessions, org_id, job.id, path, phone_region=phone_region
    )
    return jobs.describe(job)


@router.get("/imports/{job_id}")
def get_import(
    org_id: OrgId,
    job_id: Annotated[str, PathParam(pattern=JOB_ID)],
    session: SessionDep,
    principal: Importer,
) -> dict[str, Any]:
    """Where an import stands: its status, its progress while running, then its report."""
    job = repository.get(session, org_id, job_id)
    if job is None:
        raise HTTPException(404, f"no import '{job_id}' in this org")
    return jobs.describe(job)
