"""The analytics routes. Thin: check parameters, authorize, call the service, shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from reengage import audit
from reengage.analytics import examples, overview, performance, service, trends
from reengage.analytics.schemas import (
    ActionRequired,
    Overview,
    Performance,
    PrioritizedList,
    RiskLevelFilter,
    RiskMetrics,
    SortBy,
    Timeframe,
    TrendPeriod,
    Trends,
)
from reengage.auth.dependencies import OrgId, SessionDep, require
from reengage.auth.principal import Principal
from reengage.domain.trends import METRICS as TREND_METRICS
from reengage.errors import Problem, RecordValidationError

router = APIRouter(prefix="/api/v1/reengagement/{org_id}", tags=["analytics"])

Analyst = Annotated[Principal, Depends(require("analytics"))]
ListReader = Annotated[Principal, Depends(require("read_patients"))]
AsOf = Annotated[
    str | None,
    Query(
        description="ISO datetime with offset, or a date (the end of that day in the org's "
        "timezone); default now",
        examples=["2026-11-24", "2026-11-24T09:00:00+11:00"],
    ),
]


def seed_example(model: type[BaseModel], example: dict[str, Any]) -> dict[int | str, Any]:
    """The 200 answer documented with the frontend team's own example of it (the seed's)."""
    return {
        200: {
            "model": model,
            "content": {"application/json": {"example": example}},
            "description": "The figures; the example is the frontend team's request (the seed).",
        }
    }


SEED_EXAMPLES: dict[str, dict[str, Any]] = {
    "/risk-metrics": examples.RISK_METRICS,
    "/performance": examples.PERFORMANCE,
    "/patients/prioritized": examples.PRIORITIZED_LIST,
    "/trends": examples.TRENDS,
}


def restore_seed_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """Put the seed's examples back whole into a generated OpenAPI document: FastAPI drops
    every ``null`` from it, and with them the seed's ``"next_scheduled_appointment": null``."""
    for path, example in SEED_EXAMPLES.items():
        operation = spec["paths"][f"{router.prefix}{path}"]["get"]
        operation["responses"]["200"]["content"]["application/json"]["example"] = example
    return spec


def only_params(*allowed: str) -> Callable[[Request], None]:
    """Refuse query parameters the contract does not define (naming the allowed ones) and
    repeated ones: a misspelt or doubled filter silently ignored would show the wrong
    patients."""

    def check(request: Request) -> None:
        names = [name for name, _ in request.query_params.multi_items()]
        problems = [
            Problem(
                ("query", name),
                f"is not a parameter of this endpoint; allowed: {', '.join(allowed)}",
                "unknown_parameter",
            )
            for name in sorted(set(names) - set(allowed))
        ]
        problems += [
            Problem(("query", name), "is given more than once; give it once", "repeated")
            for name in sorted({n for n in names if names.count(n) > 1} & set(allowed))
        ]
        if problems:
            raise RecordValidationError(problems)

    return check


@router.get(
    "/risk-metrics",
    response_model=RiskMetrics,
    responses=seed_example(RiskMetrics, examples.RISK_METRICS),
    summary="How many patients are in each risk tier, and the alerts",
    dependencies=[Depends(only_params("as_of"))],
)
def get_risk_metrics(
    org_id: OrgId, session: SessionDep, _: Analyst, as_of: AsOf = None
) -> RiskMetrics:
    result = service.risk_metrics(session, service.scope(session, org_id, as_of))
    session.commit()  # the standings it brought up to date (``standing_cache``)
    return result


@router.get(
    "/overview",
    response_model=Overview,
    summary="The dashboard's cards: who needs action now, this week's target, success rate",
    description="Not in the seed: reengage's own summary, what the staff dashboard shows. "
    "`this_weeks_target` counts at-risk patients with no outreach attempt in the last 7 "
    "days; `reengagement_success_rate` is, of the patients who got an outreach attempt in "
    "the last 30 days while at risk, the share whose at-risk spell has ended in "
    "reengagement; `previous_success_rate` is the same for the 30 days before.",
    dependencies=[Depends(only_params("as_of"))],
)
def get_overview(org_id: OrgId, session: SessionDep, _: Analyst, as_of: AsOf = None) -> Overview:
    result = overview.overview(session, service.scope(session, org_id, as_of))
    session.commit()  # the standings it brought up to date (``standing_cache``)
    return result


@router.get(
    "/performance",
    response_model=Performance,
    responses=seed_example(Performance, examples.PERFORMANCE),
    summary="Whether outreach works: attempts, contacts, conversions, per channel",
    dependencies=[Depends(only_params("as_of", "timeframe"))],
)
def get_performance(
    org_id: OrgId,
    session: SessionDep,
    _: Analyst,
    as_of: AsOf = None,
    timeframe: Annotated[
        Timeframe, Query(description="The window: the last 7, 30 or 90 calendar days")
    ] = "last_30_days",
) -> Performance:
    return performance.performance(session, service.scope(session, org_id, as_of), timeframe)


@router.get(
    "/trends",
    response_model=None,
    responses=seed_example(Trends, examples.TRENDS),
    summary="Daily movement, channel trends and risk distribution over a period",
    dependencies=[Depends(only_params("as_of", "period", "metrics"))],
)
def get_trends(
    org_id: OrgId,
    session: SessionDep,
    _: Analyst,
    as_of: AsOf = None,
    period: Annotated[
        TrendPeriod,
        Query(description="The last 7, 30 or 90 days, 6 months (182 days) or a year (365)"),
    ] = "30d",
    metrics: Annotated[
        str | None,
        Query(description="Comma list of risk_levels, success_rates, channel_performance"),
    ] = None,
) -> Any:
    asked = _metrics(metrics)
    result = trends.trends(session, service.scope(session, org_id, as_of), period, asked)
    # What was not asked for is left out, not sent as null.
    return result.model_dump(mode="json", exclude_none=True) | _nullable_parts(result)


def _metrics(raw: str | None) -> list[str]:
    if raw is None:
        return list(TREND_METRICS)
    asked = [m.strip() for m in raw.split(",") if m.strip()]
    unknown = [m for m in asked if m not in TREND_METRICS]
    if unknown or not asked:
        raise RecordValidationError(
            [
                Problem(
                    ("query", "metrics"),
                    f"must be a comma list of {', '.join(TREND_METRICS)}"
                    + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                    "metrics",
                )
            ]
        )
    return [m for m in TREND_METRICS if m in asked]


def _nullable_parts(result: Trends) -> dict[str, Any]:
    """Keep the nulls that carry meaning (a missing rate) inside the parts that were asked."""
    out: dict[str, Any] = {}
    if result.channel_performance_trends is not None:
        out["channel_performance_trends"] = result.channel_performance_trends.model_dump(
            mode="json"
        )
    return out


@router.get(
    "/patients/prioritized",
    response_model=PrioritizedList,
    responses=seed_example(PrioritizedList, examples.PRIORITIZED_LIST),
    summary="Whom to contact first, how, and why",
    dependencies=[
        Depends(only_params("as_of", "risk_level", "action_required", "sort_by", "limit", "offset"))
    ],
)
def get_prioritized(
    org_id: OrgId,
    request: Request,
    session: SessionDep,
    principal: ListReader,
    as_of: AsOf = None,
    risk_level: Annotated[RiskLevelFilter, Query(description="One tier, or all")] = "all",
    action_required: Annotated[
        ActionRequired | None, Query(description="Only the patients with this flag")
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
    result = service.prioritized(
        session, where, risk_level, action_required, sort_by, limit, offset
    )
    audit.record_access(session, request, principal, "read", [p.id for p in result.patients])
    session.commit()
    return result
