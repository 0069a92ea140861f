"""``GET /api/v1/orgs/{org_id}/jobs``: what the scheduler last ran for the org (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from reengage.alerts.schemas import JobRunOut, JobRunsOut
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.errors import pattern
from reengage.jobs import repository

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["alerts"], route_class=PermissionFirst)
JOB_NAME = pattern(r"^[a-z][a-z0-9-]{0,39}$", "must be a job's name, such as alerts-evaluate")
Admin = Annotated[Principal, Depends(require("settings"))]


@router.get("/jobs", response_model=JobRunsOut, summary="The scheduler's latest runs for this org")
def list_runs(
    org_id: OrgId,
    session: SessionDep,
    _: Admin,
    job: Annotated[str | None, Query(pattern=JOB_NAME)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobRunsOut:
    rows = repository.runs(session, org_id, job, limit)
    return JobRunsOut(organization_id=org_id, runs=[JobRunOut.model_validate(r) for r in rows])
