"""The risk routes: how many patients are in each tier (with the alerts), and the
prioritized list. Thin: check parameters, authorize, call the service, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from reengage import audit, seed_examples
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.query_params import PREFIX, AsOf, only_params
from reengage.risk import service, week_target
from reengage.risk.schemas import (
    ActionRequired,
    PrioritizedList,
    RiskLevelFilter,
    RiskMetrics,
    SortBy,
    TargetFilter,
)
from reengage.seed_examples import seed_example

router = APIRouter(prefix=PREFIX, tags=["analytics"], route_class=PermissionFirst)

Analyst = Annotated[Principal, Depends(require("analytics"))]
ListReader = Annotated[Principal, Depends(require("read_patients"))]


@router.get(
    "/risk-metrics",
    response_model=RiskMetrics,
    responses=seed_example(RiskMetrics, seed_examples.RISK_METRICS),
    summary="How many patients are in each risk tier, and the alerts",
    dependencies=[Depends(only_params("as_of"))],
)
def get_risk_metrics(
    org_id: OrgId, session: SessionDep, _: Analyst, as_of: AsOf = None
) -> RiskMetrics:
    return service.risk_metrics(session, service.scope(session, org_id, as_of))


@router.get(
    "/patients/prioritized",
    response_model=PrioritizedList,
    responses=seed_example(PrioritizedList, seed_examples.PRIORITIZED_LIST),
    summary="Whom to contact first, how, and why",
    dependencies=[
        Depends(
            only_params(
                "as_of",
                "risk_level",
                "action_required",
                "action_priority",
                "target",
                "sort_by",
                "limit",
                "offset",
            )
        )
    ],
)
def get_prioritized(
    org_id: OrgId,
    request: Request,
    session: SessionDep,
    principal: ListReader,
    as_of: AsOf = None,
    risk_level: Annotated[
        RiskLevelFilter,
        Query(description="One tier, at_risk (medium, high and critical), or all"),
    ] = "all",
    action_required: Annotated[
        ActionRequired | None, Query(description="Only the patients with this flag")
    ] = None,
    action_priority: Annotated[
        int | None,
        Query(
            ge=1,
            le=5,
            description="Only the patients at this action_priority (1 to 4; 5 "
            "has patients only in this week's target)",
        ),
    ] = None,
    target: Annotated[
        TargetFilter | None,
        Query(
            description="this_week: only this week's target (the patients the team means to "
            "contact this week, contacted ones included; see `week_target`)"
        ),
    ] = None,
    sort_by: Annotated[
        SortBy,
        Query(
            description="risk_score (highest first), days_since_contact (most first) or "
            "next_action_date (soonest first); ties by patient id"
        ),
    ] = "risk_score",
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000_000, description="Position of the page's first patient")
    ] = 0,
) -> PrioritizedList:
    where = service.scope(session, org_id, as_of)
    ask = (risk_level, action_required, sort_by, limit, offset, action_priority)
    if target == "this_week":
        result = week_target.listed(session, where, *ask)
    else:
        result = service.prioritized(session, where, *ask)
    audit.record_access(session, request, principal, "read", [p.id for p in result.patients])
    return result
