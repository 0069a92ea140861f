"""``/api/v1/orgs/{org_id}/checkins``: campaigns (admins set them), each day's batch (staff
approve or cancel it), a dry run, and the uplift report. Thin: parse, authorize, call the
service, shape."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from sqlalchemy.orm import Session

from reengage import audit, clock
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.checkins import repository, service
from reengage.checkins.schemas import (
    BatchesOut,
    BatchOut,
    CampaignOut,
    CampaignsOut,
    GroupOut,
    MessageOut,
    UpliftOut,
    counts_of,
)
from reengage.db.session import SessionDep
from reengage.domain import checkins as rules
from reengage.errors import pattern
from reengage.models import CheckinBatch, CheckinCampaign

log = logging.getLogger("reengage.checkins")

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}/checkins", tags=["check-ins"], route_class=PermissionFirst
)
Reader = Annotated[Principal, Depends(require("read_patients"))]
Counter = Annotated[Principal, Depends(require("analytics"))]
Approver = Annotated[Principal, Depends(require("checkins"))]
Admin = Annotated[Principal, Depends(require("settings"))]

CampaignId = Annotated[
    str,
    Path(
        pattern=pattern(r"^cmp_[0-9a-f]{16}$", "must be a campaign id: cmp_ and 16 hex digits"),
        description="The campaign's id",
    ),
]
BatchId = Annotated[
    str,
    Path(
        pattern=pattern(r"^cib_[0-9a-f]{16}$", "must be a batch id: cib_ and 16 hex digits"),
        description="The batch's id",
    ),
]


def _campaign(session: Session, org_id: str, campaign_id: str) -> CheckinCampaign:
    row = repository.campaign(session, org_id, campaign_id)
    if row is None:
        raise HTTPException(404, "no such campaign")
    return row


def _batch(session: Session, org_id: str, batch_id: str) -> CheckinBatch:
    row = repository.batch(session, org_id, batch_id)
    if row is None:
        raise HTTPException(404, "no such batch")
    return row


def _campaign_out(row: CheckinCampaign) -> CampaignOut:
    return CampaignOut(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        settings=service.settings_of(row),
    )


@router.post("/campaigns", status_code=201, response_model=CampaignOut, summary="New campaign")
def create_campaign(
    org_id: OrgId,
    session: SessionDep,
    principal: Admin,
    body: Annotated[
        rules.Campaign,
        Body(
            examples=[{"booking_link": "https://example.org/book", "clinic_phone": "02 5550 1234"}]
        ),
    ],
) -> CampaignOut:
    """Every setting is optional (``GET`` shows the defaults). A new campaign is enabled,
    and waits for staff to approve each day's batch unless ``approval`` is ``automatic``."""
    row = service.create(session, org_id, body.model_dump(mode="json"))
    log.info("org %s: check-in campaign %s created by key %s", org_id, row.id, principal.key_id)
    return _campaign_out(row)


@router.get("/campaigns", response_model=CampaignsOut, summary="The org's campaigns")
def list_campaigns(org_id: OrgId, session: SessionDep, principal: Counter) -> CampaignsOut:
    return CampaignsOut(
        campaigns=[_campaign_out(row) for row in repository.campaigns(session, org_id)]
    )


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="One campaign")
def get_campaign(
    org_id: OrgId, campaign_id: CampaignId, session: SessionDep, principal: Counter
) -> CampaignOut:
    return _campaign_out(_campaign(session, org_id, campaign_id))


def _patch_schema(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema as a merge patch of it: every key optional, and null (which
    restores the default) allowed wherever an object's key is."""
    if "$ref" in schema:
        return _patch_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if schema.get("type") != "object" or "properties" not in schema:
        return schema
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {"anyOf": [_patch_schema(value, defs), {"type": "null"}]}
            for name, value in schema["properties"].items()
        },
    }


_CAMPAIGN_SCHEMA = rules.Campaign.model_json_schema()
PATCH_SCHEMA = _patch_schema(_CAMPAIGN_SCHEMA, _CAMPAIGN_SCHEMA.get("$defs", {}))


@router.patch(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    summary="Change a campaign (JSON merge patch; null restores a default)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": PATCH_SCHEMA}}}},
)
def patch_campaign(
    org_id: OrgId,
    campaign_id: CampaignId,
    session: SessionDep,
    principal: Admin,
    patch: Annotated[dict[str, Any], Body(examples=[{"enabled": False}])],
) -> CampaignOut:
    row = _campaign(session, org_id, campaign_id)
    service.update(session, row, patch)
    log.info("org %s: check-in campaign %s changed by key %s", org_id, row.id, principal.key_id)
    return _campaign_out(row)


def _message_out(plan: service.Plan | None, decision: rules.Decision, **sent: Any) -> MessageOut:
    words = plan.message(decision) if plan is not None and decision.outcome == "send" else None
    return MessageOut(
        patient_id=decision.patient_id,
        outcome=decision.outcome,
        reason=decision.reason,
        channel=decision.channel,
        subject=words.subject if words else None,
        text=words.text if words else None,
        **sent,
    )


@router.get(
    "/campaigns/{campaign_id}/preview",
    response_model=BatchOut,
    summary="Dry run: today's batch as it would be prepared now, nothing sent or kept",
)
def preview(
    org_id: OrgId,
    campaign_id: CampaignId,
    session: SessionDep,
    request: Request,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=5000, description="Patients shown")] = 500,
) -> BatchOut:
    """Every patient the audience includes, most urgent first: messaged (with the exact
    message), held out, or skipped with the reason. The counts cover them all."""
    row = _campaign(session, org_id, campaign_id)
    now = clock.now()
    found = service.plan(session, org_id, row, now)
    shown = found.decisions[:limit]
    audit.record_access(session, request, principal, "read", (d.patient_id for d in shown))
    return BatchOut(
        id=None,
        campaign_id=row.id,
        day=service.local_day(session, org_id, now),
        state="dry_run",
        prepared_at=now,
        counts=counts_of([d.outcome for d in found.decisions]),
        messages=[_message_out(found, d) for d in shown],
    )


def _batch_out(session: Session, org_id: str, batch: CheckinBatch, detail: bool) -> BatchOut:
    rows = repository.messages(session, org_id, batch.id)
    messages = None
    if detail:
        campaign = repository.campaign(session, org_id, batch.campaign_id)
        plan = service.words_for(session, org_id, campaign, [m.patient_id for m in rows])
        messages = [
            _message_out(
                plan if m.state in ("pending", "sending", "sent") else None,
                rules.Decision(m.patient_id, m.outcome, m.channel, m.reason),  # type: ignore[arg-type]
                state=m.state,
                attempts=m.attempts,
                sent_at=m.sent_at,
                provider_message_id=m.provider_message_id,
                error=m.error,
            )
            for m in rows
        ]
    return BatchOut(
        id=batch.id,
        campaign_id=batch.campaign_id,
        day=batch.day,
        state=batch.state,
        prepared_at=batch.prepared_at,
        approved_at=batch.approved_at,
        approved_by=batch.approved_by,
        finished_at=batch.finished_at,
        counts=counts_of([m.outcome for m in rows]),
        messages=messages,
    )


@router.get(
    "/campaigns/{campaign_id}/batches",
    response_model=BatchesOut,
    summary="The campaign's daily batches, newest first (counts only)",
)
def list_batches(
    org_id: OrgId,
    campaign_id: CampaignId,
    session: SessionDep,
    principal: Counter,
    limit: Annotated[int, Query(ge=1, le=365)] = 30,
) -> BatchesOut:
    _campaign(session, org_id, campaign_id)
    found = repository.batches(session, org_id, campaign_id, limit)
    return BatchesOut(batches=[_batch_out(session, org_id, b, detail=False) for b in found])


@router.get("/batches/{batch_id}", response_model=BatchOut, summary="One batch, every patient")
def get_batch(
    org_id: OrgId, batch_id: BatchId, session: SessionDep, request: Request, principal: Reader
) -> BatchOut:
    out = _batch_out(session, org_id, _batch(session, org_id, batch_id), detail=True)
    audit.record_access(
        session, request, principal, "read", (m.patient_id for m in out.messages or ())
    )
    return out


def _changed(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    batch: CheckinBatch,
    change: Any,
) -> BatchOut:
    try:
        change()
    except service.CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
    session.flush()
    rows = repository.messages(session, principal.org_id, batch.id)
    audit.record_access(
        session, request, principal, action, (m.patient_id for m in rows if m.outcome == "send")
    )
    log.info(
        "org %s: check-in batch %s: %s by key %s", batch.org_id, batch.id, action, principal.key_id
    )
    return _batch_out(session, principal.org_id, batch, detail=False)


@router.post(
    "/batches/{batch_id}/approve", response_model=BatchOut, summary="Approve a day's batch"
)
def approve(
    org_id: OrgId, batch_id: BatchId, session: SessionDep, request: Request, principal: Approver
) -> BatchOut:
    """Its messages go out inside that day's sending hours (409 once they are over)."""
    batch = _batch(session, org_id, batch_id)
    return _changed(
        session,
        request,
        principal,
        "approve_checkins",
        batch,
        lambda: service.approve(session, org_id, batch, principal.key_id),
    )


@router.post("/batches/{batch_id}/cancel", response_model=BatchOut, summary="Cancel a batch")
def cancel(
    org_id: OrgId, batch_id: BatchId, session: SessionDep, request: Request, principal: Approver
) -> BatchOut:
    """What is not sent yet is not sent (each such patient is kept as skipped, cancelled)."""
    batch = _batch(session, org_id, batch_id)
    return _changed(
        session,
        request,
        principal,
        "cancel_checkins",
        batch,
        lambda: service.cancel(session, org_id, batch),
    )


def _group(group: rules.Group, waiting: int) -> GroupOut:
    rate = group.rate
    return GroupOut(
        patients=group.patients,
        booked=group.booked,
        booking_rate=round(rate * 100, 1) if rate is not None else None,
        waiting=waiting,
    )


@router.get(
    "/campaigns/{campaign_id}/uplift",
    response_model=UpliftOut,
    summary="Bookings of the messaged patients against the held-out ones",
)
def uplift(
    org_id: OrgId, campaign_id: CampaignId, session: SessionDep, principal: Counter
) -> UpliftOut:
    """Each patient counts from when the campaign first selected them, once their
    attribution window (the org's ``attribution_window_days``) is over: booked or not
    within it. The difference has a 95% confidence interval; with fewer than 30 patients
    in either group, ``enough_data`` is false and the figures are null."""
    _campaign(session, org_id, campaign_id)
    now = clock.now()
    found = service.report(session, org_id, campaign_id, now)
    u = found.uplift
    return UpliftOut(
        campaign_id=campaign_id,
        as_of=now,
        attribution_window_days=found.window_days,
        messaged=_group(u.messaged, found.waiting["messaged"]),
        holdout=_group(u.holdout, found.waiting["holdout"]),
        enough_data=u.enough,
        message=rules.uplift_message(u),
        difference_points=u.difference,
        ci95_low=u.low,
        ci95_high=u.high,
        relative_pct=u.relative_pct,
        sending=found.states,
    )
