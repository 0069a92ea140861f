"""The providers' webhooks (``/hooks/v1/orgs/{org_id}/...``: signed by the provider, not
called with an API key) and the admins' credential settings (``/api/v1/orgs/{org_id}/
providers``). Thin: verify, parse, hand to ``providers.service``.

A request whose signature does not verify (or whose org has no credential or does not
exist, or whose SendGrid timestamp is stale) gets 403 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from reengage import clock
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.domain import provider_events as rules
from reengage.domain.settings import is_email_address
from reengage.errors import pattern, problem_dict
from reengage.orgs import service as orgs_service
from reengage.providers import repository, secrets, service
from reengage.providers.service import ConsentEvent, StatusEvent

log = logging.getLogger(__name__)

hooks = APIRouter(prefix="/hooks/v1/orgs/{org_id}", include_in_schema=False)
settings_router = APIRouter(
    prefix="/api/v1/orgs/{org_id}", tags=["settings and keys"], route_class=PermissionFirst
)
SettingsAdmin = Annotated[Principal, Depends(require("settings"))]
# A SendGrid request signed longer ago than this (or this far ahead) is refused as a replay.
SENDGRID_TOLERANCE_SECONDS = 300


def _secret(request: Request, session: Session, org_id: str, provider: str) -> str:
    # An org that does not exist answers as one without the credential: the caller has not
    # proved who it is, and must not learn which org ids exist.
    row = repository.credential(session, org_id, provider)
    if row is None or not orgs_service.org_exists(session, org_id):
        raise HTTPException(403, f"no {provider} credential is set for this org")
    try:
        return secrets.unseal(request.app.state.secret_key, row.sealed)
    except secrets.SecretsUnavailable as exc:
        log.error("org %s: %s credential cannot be opened: %s", org_id, provider, exc)
        raise HTTPException(403, f"this org's {provider} credential cannot be used") from None


def _called_url(request: Request) -> str:
    """The URL the provider called, as it signed it (behind a proxy: REENGAGE_PUBLIC_URL)."""
    public = str(request.app.state.public_url).rstrip("/")
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


async def _twilio_form(request: Request, session: Session, org_id: str) -> dict[str, str]:
    token = await run_in_threadpool(_secret, request, session, org_id, "twilio")
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(token).validate(
        _called_url(request), params, signature
    ):
        raise HTTPException(403, "X-Twilio-Signature does not match this request")
    return params


def _refused(loc: tuple[str | int, ...], reason: str, type_: str = "value_error") -> HTTPException:
    """A 422 in the API's problem shape, naming the field and the reason."""
    return HTTPException(422, [problem_dict(loc, reason, type_)])


async def _receive(
    session: Session,
    org_id: str,
    statuses: list[StatusEvent],
    consents: list[ConsentEvent] | None = None,
) -> dict[str, Any]:
    """The webhooks are ``async`` to read the raw form or body (a signature covers exactly
    what was sent); the database work runs in the thread pool, as a plain endpoint's does,
    so a batch of 1,000 events does not hold up the event loop."""
    received = await run_in_threadpool(service.receive, session, org_id, statuses, consents or [])
    return received.as_dict()


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise _refused(("form", name), "is required", "missing")
    return value[:200]


@hooks.post("/twilio/messages")
async def twilio_message_status(
    org_id: OrgId, request: Request, session: SessionDep
) -> dict[str, Any]:
    """A Twilio Messaging status callback (the message's StatusCallback URL)."""
    params = await _twilio_form(request, session, org_id)
    sid = _required(params, "MessageSid")
    status = _required(params, "MessageStatus").lower()
    step = rules.twilio_message_step(status, params.get("ErrorCode") or None)
    event = StatusEvent(f"twilio:{sid}:{status}", "twilio", sid, status, clock.now(), step)
    return await _receive(session, org_id, [event])


@hooks.post("/twilio/inbound")
async def twilio_inbound(org_id: OrgId, request: Request, session: SessionDep) -> dict[str, Any]:
    """An SMS to the clinic's Twilio number (the number's "A message comes in" webhook)."""
    params = await _twilio_form(request, session, org_id)
    sid = _required(params, "MessageSid")
    sender = _required(params, "From")
    received = await run_in_threadpool(
        service.receive_inbound_sms, session, org_id, sid, sender, params.get("Body", ""),
        clock.now(),
    )  # fmt: skip
    return received.as_dict()


@hooks.post("/twilio/calls")
async def twilio_call_status(
    org_id: OrgId, request: Request, session: SessionDep
) -> dict[str, Any]:
    """A Twilio Voice status callback (completed, busy, no-answer, failed...)."""
    params = await _twilio_form(request, session, org_id)
    sid = _required(params, "CallSid")
    status = _required(params, "CallStatus").lower()
    duration = params.get("CallDuration", "")
    seconds = int(duration) if duration.isdigit() else None
    at = clock.now()
    stamp = params.get("Timestamp")
    if stamp:
        try:
            at = parsedate_to_datetime(stamp).astimezone(UTC)
        except (TypeError, ValueError):
            raise _refused(("form", "Timestamp"), "is not an RFC 2822 date") from None
    step = rules.twilio_call_step(status, seconds)
    if step is not None and step.field == "connected_at" and seconds:
        # Twilio stamps the end of the call; it connected ``CallDuration`` seconds before.
        at = datetime.fromtimestamp(at.timestamp() - seconds, UTC)
    event = StatusEvent(f"twilio:{sid}:{status}", "twilio", sid, status, at, step)
    return await _receive(session, org_id, [event])


@hooks.post("/sendgrid")
async def sendgrid_events(org_id: OrgId, request: Request, session: SessionDep) -> dict[str, Any]:
    """SendGrid's Event Webhook: a JSON array of events, signed (ECDSA P-256, SHA-256) over
    the timestamp header and the raw body."""
    key = await run_in_threadpool(_secret, request, session, org_id, "sendgrid")
    body = await request.body()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    stamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > SENDGRID_TOLERANCE_SECONDS:
        raise HTTPException(403, "X-Twilio-Email-Event-Webhook-Timestamp is missing or stale")
    try:
        verifier = EventWebhook(key)
        valid = bool(signature) and verifier.verify_signature(
            body.decode("utf-8"), signature, stamp
        )
    except (ValueError, UnicodeDecodeError, TypeError):
        valid = False
    if not valid:
        raise HTTPException(403, "the Event Webhook signature does not match this request")
    try:
        events = json.loads(body)
    except json.JSONDecodeError:
        raise _refused(("body",), "is not JSON (SendGrid sends an array of events)") from None
    if not isinstance(events, list):
        raise _refused(("body",), "must be an array of events")
    statuses, consents = _sendgrid(events)
    return await _receive(session, org_id, statuses, consents)


def _sendgrid(events: list[Any]) -> tuple[list[StatusEvent], list[ConsentEvent]]:
    statuses: list[StatusEvent] = []
    consents: list[ConsentEvent] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _refused(("body", index), "must be an object")
        kind = str(event.get("event", ""))
        event_id = str(event.get("sg_event_id", ""))[:160]
        stamp = event.get("timestamp")
        if not event_id or not kind or not isinstance(stamp, int | float):
            raise _refused(("body", index), "needs event, sg_event_id and a numeric timestamp")
        at = datetime.fromtimestamp(stamp, UTC)
        key = f"sendgrid:{event_id}"
        if kind in rules.EMAIL_OPT_OUT_EVENTS or kind in rules.EMAIL_OPT_IN_EVENTS:
            address = str(event.get("email", "")).strip()
            change: rules.Consent = (
                "opted_out" if kind in rules.EMAIL_OPT_OUT_EVENTS else "opted_in"
            )
            consents.append(
                ConsentEvent(key, "sendgrid", "email", address, change, at, f"sendgrid {kind}")
            )
            continue
        # SendGrid's message id is X-Message-Id, then a filter suffix after the first dot.
        message_id = str(event.get("sg_message_id", "")).split(".")[0][:200]
        code = event.get("status")
        step = rules.sendgrid_step(kind, str(code) if code else None)
        statuses.append(StatusEvent(key, "sendgrid", message_id, kind, at, step))
    return statuses, consents


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4000,
            pattern=pattern(r"\S", "must not be blank"),
            description="Twilio: the account's auth token. SendGrid: the Event Webhook's "
            "verification key (the base64 public key).",
        ),
    ]


@settings_router.put("/providers/{provider}")
def put_credential(
    org_id: OrgId,
    provider: Literal["twilio", "sendgrid"],
    principal: SettingsAdmin,
    session: SessionDep,
    request: Request,
    body: Annotated[CredentialIn, Body()],
) -> dict[str, Any]:
    """Set the org's Twilio auth token or SendGrid verification key (admins only). Stored
    encrypted; never shown again."""
    secret = body.secret.strip()
    if provider == "sendgrid":
        try:
            EventWebhook(secret)
        except ValueError:
            raise _refused(
                ("body", "secret"), "is not a SendGrid verification key (a base64 public key)"
            ) from None
    try:
        sealed = secrets.seal(request.app.state.secret_key, secret)
    except secrets.SecretsUnavailable as exc:
        raise HTTPException(409, str(exc)) from None
    repository.put_credential(session, org_id, provider, sealed, clock.now())
    log.info("org %s: %s credential set by key %s", org_id, provider, principal.key_id)
    return {"provider": provider, "configured": True}


class TwilioSendingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_sid: Annotated[
        str,
        Field(
            pattern=pattern(r"^AC[0-9a-fA-F]{32}$", "must be a Twilio Account SID: AC and 32 hex"),
            description="The account the messages are sent from (its auth token is the "
            "twilio credential, set with PUT .../providers/twilio)",
        ),
    ]
    sender: Annotated[
        str,
        Field(
            pattern=pattern(
                r"^(\+[1-9][0-9]{6,14}|MG[0-9a-fA-F]{32})$",
                "must be a phone number in E.164 (+61...) or a Messaging Service SID (MG...)",
            ),
            description="The From number, or a Messaging Service",
        ),
    ]


class SendGridSendingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Annotated[
        str,
        Field(
            min_length=20,
            max_length=200,
            pattern=pattern(r"^SG\.[\w-]+\.[\w-]+$", "must be a SendGrid API key (SG.xxx.yyy)"),
            description="An API key with Mail Send access",
        ),
    ]
    from_email: Annotated[str, Field(max_length=254, description="A verified sender address")]
    from_name: Annotated[str, Field(max_length=100)] = ""

    @field_validator("from_email")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_email_address(value):
            raise ValueError("is not an email address (name@example.org)")
        return value


def _put_sending(
    session: Session, request: Request, org_id: str, provider: str, values: dict[str, Any]
) -> dict[str, Any]:
    try:
        service.put_sending(session, org_id, provider, values, request.app.state.secret_key)
    except secrets.SecretsUnavailable as exc:
        raise HTTPException(409, str(exc)) from None
    log.info("org %s: %s sending settings set", org_id, provider)
    return {"provider": provider, "sending_configured": True}


@settings_router.put("/providers/twilio/sending")
def put_twilio_sending(
    org_id: OrgId,
    principal: SettingsAdmin,
    session: SessionDep,
    request: Request,
    body: Annotated[TwilioSendingIn, Body()],
) -> dict[str, Any]:
    """What the check-ins send SMS with (admins only): the Twilio account and its sender.
    The auth token is the ``twilio`` credential. Stored encrypted; never shown again."""
    return _put_sending(session, request, org_id, "twilio", body.model_dump())


@settings_router.put("/providers/sendgrid/sending")
def put_sendgrid_sending(
    org_id: OrgId,
    principal: SettingsAdmin,
    session: SessionDep,
    request: Request,
    body: Annotated[SendGridSendingIn, Body()],
) -> dict[str, Any]:
    """What the check-ins send email with (admins only): a SendGrid API key with Mail Send
    access and a verified From address. Stored encrypted; never shown again."""
    return _put_sending(session, request, org_id, "sendgrid", body.model_dump())


@settings_router.get("/providers")
def get_credentials(org_id: OrgId, principal: SettingsAdmin, session: SessionDep) -> dict[str, Any]:
    """Which providers the org has credentials for, and since when (never the secrets)."""
    rows = {row.provider: row for row in repository.credentials(session, org_id)}
    return {
        "providers": [
            {
                "provider": name,
                "configured": name in rows,
                "updated_at": rows[name].updated_at.isoformat() if name in rows else None,
                "sending_configured": service.SENDING[name] in rows,
            }
            for name in service.PROVIDERS
        ]
    }


@settings_router.get("/provider-events")
def get_events(
    org_id: OrgId,
    principal: SettingsAdmin,
    session: SessionDep,
    waiting: Annotated[
        bool, Query(description="Only the events still waiting for their message or sender")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The providers' latest events, newest first, for inspection: by default those still
    waiting (a status for a message id no communication carries, an SMS from a number no
    patient has). Ids and statuses only, never a message's text or an address."""
    rows = repository.recent_events(session, org_id, waiting, limit)
    return {
        "events": [
            {
                "key": row.key,
                "provider": row.provider,
                "message_id": row.message_id,
                "status": row.status,
                "occurred_at": row.occurred_at.isoformat(),
                "received_at": row.received_at.isoformat(),
                "applied_at": row.applied_at.isoformat() if row.applied_at else None,
            }
            for row in rows
        ]
    }
