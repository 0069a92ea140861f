"""``/api/v1/orgs/{org_id}/alerts`` and what carries them: the inbox (staff and admins;
a viewer sees the counts), the rules, the webhook endpoints, the deliveries and the jobs
(admins). Thin: parse, authorize, call the service, shape."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from pydantic import ValidationError

from reengage import audit, clock
from reengage.alerts import repository, service, webhooks
from reengage.alerts.events import alert_fields
from reengage.alerts.schemas import (
    AlertCounts,
    AlertOut,
    AlertPage,
    AttemptOut,
    DeliveriesOut,
    DeliveryOut,
    EndpointChange,
    EndpointIn,
    EndpointOut,
    EndpointWithSecret,
    RuleName,
    RulesOut,
    State,
    TestOut,
    rules_out,
)
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.errors import pattern, problem_dict, problems_from_pydantic
from reengage.models import Delivery
from reengage.orgs import service as orgs_service
from reengage.orgs.endpoints import ALERTS_PATCH_SCHEMA
from reengage.records.schemas import ID_PATTERN

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["alerts"], route_class=PermissionFirst)

Reader = Annotated[Principal, Depends(require("read_patients"))]
Actor = Annotated[Principal, Depends(require("alerts"))]
Counter = Annotated[Principal, Depends(require("analytics"))]
Admin = Annotated[Principal, Depends(require("settings"))]

ALERT_ID = pattern(r"^alr_[0-9a-f]{16}$", "must be an alert id: alr_ and 16 hexadecimal digits")
ENDPOINT_ID = pattern(
    r"^whe_[0-9a-f]{16}$", "must be an endpoint id: whe_ and 16 hexadecimal digits"
)
TARGET = pattern(r"^(digest|whe_[0-9a-f]{16})$", "must be an endpoint id (whe_...) or 'digest'")
AlertId = Annotated[str, Path(pattern=ALERT_ID, description="The alert's id")]
EndpointId = Annotated[str, Path(pattern=ENDPOINT_ID, description="The endpoint's id")]


def _alert_out(session: Any, org_id: str, alert: Any) -> AlertOut:
    return AlertOut(**alert_fields(alert, orgs_service.get_settings(session, org_id)))


@router.get("/alerts", response_model=AlertPage, summary="The alert inbox, newest first")
def list_alerts(
    org_id: OrgId,
    session: SessionDep,
    request: Request,
    principal: Reader,
    state: Annotated[
        list[State] | None, Query(description="Repeat for several; default open and acknowledged")
    ] = None,
    rule: Annotated[
        list[RuleName] | None, Query(description="Repeat for several; default all")
    ] = None,
    patient_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPage:
    states: list[str] = list(state) if state else list(repository.OPEN_STATES)
    total, rows = repository.listed(
        session,
        org_id,
        states=states,
        rules=rule,
        patient_id=patient_id,
        limit=limit,
        offset=offset,
    )
    settings = orgs_service.get_settings(session, org_id)
    alerts = [AlertOut(**alert_fields(row, settings)) for row in rows]
    audit.record_access(
        session, request, principal, "read", (a.patient_id for a in alerts if a.patient_id)
    )
    return AlertPage(organization_id=org_id, total=total, limit=limit, offset=offset, alerts=alerts)


@router.get(
    "/alerts/summary", response_model=AlertCounts, summary="Open alerts per rule (any role)"
)
def alert_counts(org_id: OrgId, session: SessionDep, _: Counter) -> AlertCounts:
    found = service.counts(session, org_id)
    total = sum(found["open"].values()) + sum(found["acknowledged"].values())
    return AlertCounts(
        organization_id=org_id,
        open=found["open"],
        acknowledged=found["acknowledged"],
        total_open=total,
    )


@router.get("/alerts/rules", response_model=RulesOut, summary="The alert rules and their settings")
def get_rules(org_id: OrgId, session: SessionDep, _: Counter) -> RulesOut:
    return rules_out(org_id, orgs_service.get_settings(session, org_id))


@router.patch(
    "/alerts/rules",
    response_model=RulesOut,
    summary="Change the rules (a JSON merge patch of the settings' `alerts`)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": ALERTS_PATCH_SCHEMA}}}
    },
)
def patch_rules(
    org_id: OrgId,
    patch: Annotated[
        dict[str, Any],
        Body(
            examples=[{"critical_share": {"above_pct": 8}, "turned_critical": {"enabled": False}}]
        ),
    ],
    session: SessionDep,
    _: Admin,
) -> RulesOut:
    try:
        updated = orgs_service.patch_settings(session, org_id, {"alerts": patch})
    except ValidationError as exc:
        # Named as this body names them, not as the settings' (``alerts.``) do.
        errors = [{**e, "loc": tuple(e["loc"])[1:] or ("body",)} for e in exc.errors()]
        raise HTTPException(422, problems_from_pydantic(errors, ("body",))) from None
    return rules_out(org_id, updated)


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert")
def get_alert(
    org_id: OrgId, alert_id: AlertId, session: SessionDep, request: Request, principal: Reader
) -> AlertOut:
    alert = repository.get(session, org_id, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert '{alert_id}' in this org")
    audit.record_access(
        session, request, principal, "read", [alert.patient_id] if alert.patient_id else []
    )
    return _alert_out(session, org_id, alert)


def _act(
    action: str, org_id: str, alert_id: str, session: Any, request: Request, principal: Principal
) -> AlertOut:
    do = service.acknowledge if action == "ack" else service.resolve
    try:
        alert = do(session, org_id, alert_id, principal.key_id, clock.now())
    except LookupError:
        raise HTTPException(404, f"no alert '{alert_id}' in this org") from None
    except service.AlertStateError as exc:
        raise HTTPException(409, str(exc)) from None
    audit.record_access(
        session,
        request,
        principal,
        f"alert_{action}",
        [alert.patient_id] if alert.patient_id else [],
    )
    return _alert_out(session, org_id, alert)


@router.post(
    "/alerts/{alert_id}/acknowledge", response_model=AlertOut, summary="Acknowledge an alert"
)
def acknowledge(
    org_id: OrgId, alert_id: AlertId, session: SessionDep, request: Request, principal: Actor
) -> AlertOut:
    return _act("ack", org_id, alert_id, session, request, principal)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    summary="Resolve an alert (it is raised again only after its rule stops holding)",
)
def resolve(
    org_id: OrgId, alert_id: AlertId, session: SessionDep, request: Request, principal: Actor
) -> AlertOut:
    return _act("resolve", org_id, alert_id, session, request, principal)


# --- webhook endpoints ------------------------------------------------------------------------


@contextlib.contextmanager
def _endpoint_refusals(endpoint_id: str) -> Iterator[None]:
    """What the endpoint service refuses, as answers: 404 for an endpoint this org does not
    have, 422 or 409 for a change the rules refuse."""
    try:
        yield
    except LookupError:
        raise HTTPException(404, f"no webhook endpoint '{endpoint_id}' in this org") from None
    except webhooks.EndpointError as exc:
        raise _endpoint_error(exc) from None


def _endpoint_error(exc: webhooks.EndpointError) -> HTTPException:
    if exc.status == 422:
        return HTTPException(
            422, [problem_dict(("body", *exc.field.split(".")), exc.reason, "invalid")]
        )
    return HTTPException(exc.status, exc.reason)


@router.get("/webhook-endpoints", response_model=list[EndpointOut], summary="Outgoing webhooks")
def list_endpoints(org_id: OrgId, session: SessionDep, _: Admin) -> list[Any]:
    return list(repository.endpoints(session, org_id))


@router.post(
    "/webhook-endpoints",
    response_model=EndpointWithSecret,
    status_code=201,
    summary="Register an outgoing webhook (its signing secret is shown once)",
)
def create_endpoint(
    org_id: OrgId, body: EndpointIn, session: SessionDep, request: Request, _: Admin
) -> EndpointWithSecret:
    try:
        made = webhooks.create(
            session,
            org_id,
            request.app.state.secret_key,
            url=body.url,
            rules=list(body.rules),
            description=body.description,
        )
    except webhooks.EndpointError as exc:
        raise _endpoint_error(exc) from None
    return EndpointWithSecret(
        **EndpointOut.model_validate(made.endpoint).model_dump(), secret=made.secret
    )


@router.get("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="One endpoint")
def get_endpoint(org_id: OrgId, endpoint_id: EndpointId, session: SessionDep, _: Admin) -> Any:
    with _endpoint_refusals(endpoint_id):
        return webhooks.get(session, org_id, endpoint_id)


@router.patch(
    "/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="Change an endpoint"
)
def change_endpoint(
    org_id: OrgId, endpoint_id: EndpointId, body: EndpointChange, session: SessionDep, _: Admin
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    with _endpoint_refusals(endpoint_id):
        return webhooks.change(session, org_id, endpoint_id, changes)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    summary="A new signing secret (shown once; the old one stops at once)",
)
def rotate_secret(
    org_id: OrgId, endpoint_id: EndpointId, session: SessionDep, request: Request, _: Admin
) -> EndpointWithSecret:
    with _endpoint_refusals(endpoint_id):
        made = webhooks.rotate(session, org_id, endpoint_id, request.app.state.secret_key)
    return EndpointWithSecret(
        **EndpointOut.model_validate(made.endpoint).model_dump(), secret=made.secret
    )


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, summary="Remove an endpoint")
def delete_endpoint(org_id: OrgId, endpoint_id: EndpointId, session: SessionDep, _: Admin) -> None:
    with _endpoint_refusals(endpoint_id):
        webhooks.remove(session, org_id, endpoint_id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response_model=TestOut,
    summary="Send a signed webhook.test message now, and say what came back",
)
def test_endpoint(
    org_id: OrgId, endpoint_id: EndpointId, session: SessionDep, request: Request, _: Admin
) -> TestOut:
    with _endpoint_refusals(endpoint_id):
        tested = webhooks.test_send(session, org_id, endpoint_id, request.app.state.outbound)
    return TestOut(
        delivered=tested.attempt.ok, delivery=_delivery_out(tested.delivery, [tested.attempt])
    )


@router.post(
    "/digest/test",
    response_model=TestOut,
    summary="Send the daily digest now, to the configured recipients",
)
def test_digest(org_id: OrgId, session: SessionDep, request: Request, _: Admin) -> TestOut:
    try:
        tested = webhooks.test_digest(
            session, org_id, request.app.state.base_url, request.app.state.outbound
        )
    except webhooks.EndpointError as exc:
        raise _endpoint_error(exc) from None
    return TestOut(
        delivered=tested.attempt.ok, delivery=_delivery_out(tested.delivery, [tested.attempt])
    )


def _delivery_out(row: Delivery, attempts: list[Any]) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        channel=row.channel,
        target=row.target,
        event=row.event,
        state=row.state,
        attempts=[AttemptOut.model_validate(a) for a in attempts],
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
    )


@router.get(
    "/deliveries",
    response_model=DeliveriesOut,
    summary="Webhook messages and digests sent (or trying), newest first, every attempt",
)
def list_deliveries(
    org_id: OrgId,
    session: SessionDep,
    _: Admin,
    target: Annotated[
        str | None, Query(pattern=TARGET, description="An endpoint id, or 'digest'")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveriesOut:
    rows = repository.deliveries(session, org_id, target=target, limit=limit)
    attempts: dict[str, list[Any]] = {}
    for attempt in repository.attempts_of(session, org_id, [r.id for r in rows]):
        attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return DeliveriesOut(
        organization_id=org_id,
        deliveries=[_delivery_out(r, attempts.get(r.id, [])) for r in rows],
    )
