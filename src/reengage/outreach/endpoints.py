"""The outreach routes: performance, trends and the dashboard's overview. Thin: check
parameters, authorize, call the service, shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from reengage import seed_examples
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.domain.trends import METRICS as TREND_METRICS
from reengage.errors import Problem, RecordValidationError
from reengage.outreach import kpis, service
from reengage.outreach.schemas import (
    Kpis,
    Overview,
    Performance,
    Timeframe,
    TrendPeriod,
    Trends,
)
from reengage.query_params import PREFIX, AsOf, only_params
from reengage.risk.service import scope
from reengage.seed_examples import seed_example

router = APIRouter(prefix=PREFIX, tags=["analytics"], route_class=PermissionFirst)

Analyst = Annotated[Principal, Depends(require("analytics"))]
# The document's form of ``metrics``: one or more of the names, comma separated (spaces
# and empty items are forgiven by the parsing, and left out of the document).
_METRIC = f"({'|'.join(TREND_METRICS)})"
METRICS_PATTERN = f"^{_METRIC}(,{_METRIC})*$"


@router.get(
    "/overview",
    response_model=Overview,
    summary="The dashboard's cards: who needs action now, this week's target, success rate",
    description="Not in the seed: reengage's own summary, what the staff dashboard shows. "
    "`this_weeks_target` is this week's target: the week's contacted at-risk patients, then "
    "the most urgent still waiting, up to the `weekly_contact_target` setting (its list: "
    "`/patients/prioritized?target=this_week`); `reengagement_success_rate` is, of the "
    "patients who got an outreach attempt in the last 30 days while at risk, the share "
    "whose at-risk spell has ended in reengagement; `previous_success_rate` is the same "
    "for the 30 days before.",
    dependencies=[Depends(only_params("as_of"))],
)
def get_overview(org_id: OrgId, session: SessionDep, _: Analyst, as_of: AsOf = None) -> Overview:
    return service.overview(session, scope(session, org_id, as_of))


@router.get(
    "/kpis",
    response_model=Kpis,
    summary="The seed's four success metrics, against their targets",
    description="Not in the seed's JSON: its success metrics (staff efficiency, reengagement "
    "rate, patient retention, revenue impact), each measured over the last `kpis.period_days` "
    "days against the baseline period and the targets in the org's `kpis` settings. "
    "Definitions: docs/decisions.md.",
    dependencies=[Depends(only_params("as_of"))],
)
def get_kpis(org_id: OrgId, session: SessionDep, _: Analyst, as_of: AsOf = None) -> Kpis:
    return kpis.kpis(session, scope(session, org_id, as_of))


@router.get(
    "/performance",
    response_model=Performance,
    responses=seed_example(Performance, seed_examples.PERFORMANCE),
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
    return service.performance(session, scope(session, org_id, as_of), timeframe)


@router.get(
    "/trends",
    response_model=None,
    responses=seed_example(Trends, seed_examples.TRENDS),
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
        Query(
            description="Comma list of risk_levels, success_rates, channel_performance",
            json_schema_extra={"pattern": METRICS_PATTERN},
        ),
    ] = None,
) -> JSONResponse:
    asked = _metrics(metrics)
    result = service.trends(session, scope(session, org_id, as_of), period, asked)
    # What was not asked for is left out, not sent as null. Already in JSON's types, so
    # sent as it is: FastAPI's encoder would walk it again (a year's 365 days: 25 ms).
    return JSONResponse(result.model_dump(mode="json", exclude_none=True) | _nullable_parts(result))


def _metrics(raw: str | None) -> list[str]:
    """The metrics asked for, in the contract's order; spaces and empty items ignored."""
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
