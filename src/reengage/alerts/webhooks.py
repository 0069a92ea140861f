"""The org's outgoing webhook endpoints: registered, changed, tested, removed.

Each endpoint has its own signing secret (``whsec_`` and 32 random bytes in base64, as the
Standard Webhooks libraries read it), shown once when the endpoint is created or its secret
rotated, and kept encrypted (``providers.secrets``, with ``REENGAGE_SECRET_KEY``).
"""

from __future__ import annotations

import base64
import secrets as random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from reengage import clock
from reengage.alerts import deliveries, digest, repository, service
from reengage.alerts.events import message_id
from reengage.db.locks import lock_org_writes
from reengage.models import Delivery, DeliveryAttempt, WebhookEndpoint
from reengage.providers import secrets as sealed

MAX_ENDPOINTS = 10


class EndpointError(ValueError):
    """A request the endpoint rules refuse: (field, reason), answered 422 or 409."""

    def __init__(self, field: str, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.field, self.reason, self.status = field, reason, status


def check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port past 65535 raises here, not at the first delivery)
    except ValueError:
        raise EndpointError("url", "is not a URL this server can call") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointError("url", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise EndpointError(
            "url", "must not carry a user name or password (the signature proves us)"
        )
    if len(url) > 2000:
        raise EndpointError("url", "must be at most 2,000 characters")
    return url


def new_secret() -> str:
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def _sealed(secret_key: str, secret: str) -> str:
    try:
        return sealed.seal(secret_key, secret)
    except sealed.SecretsUnavailable as exc:
        raise EndpointError(
            "secret", str(exc).replace("providers' credentials", "webhook secrets"), 409
        ) from None


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str


def create(
    session: Session,
    org_id: str,
    secret_key: str,
    *,
    url: str,
    rules: list[str],
    description: str | None,
) -> Created:
    lock_org_writes(session, org_id)
    if len(repository.endpoints(session, org_id)) >= MAX_ENDPOINTS:
        raise EndpointError("url", f"an org has at most {MAX_ENDPOINTS} endpoints", 409)
    secret = new_secret()
    row = WebhookEndpoint(
        org_id=org_id,
        id=f"whe_{random.token_hex(8)}",
        url=check_url(url),
        sealed_secret=_sealed(secret_key, secret),
        rules=sorted(set(rules)),
        description=description,
        enabled=True,
        created_at=clock.now(),
        disabled_at=None,
        failed_deliveries=0,
    )
    repository.add(session, row)
    return Created(row, secret)


def get(session: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    found = repository.endpoint(session, org_id, endpoint_id)
    if found is None:
        raise LookupError(endpoint_id)
    return found


def change(
    session: Session, org_id: str, endpoint_id: str, changes: dict[str, Any]
) -> WebhookEndpoint:
    """``url``, ``rules``, ``description``, ``enabled``: enabling a disabled endpoint
    starts its failure count afresh and resolves its alert."""
    lock_org_writes(session, org_id)
    row = get(session, org_id, endpoint_id)
    now = clock.now()
    if "url" in changes:
        row.url = check_url(changes["url"])
    if "rules" in changes:
        row.rules = sorted(set(changes["rules"]))
    if "description" in changes:
        row.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != row.enabled:
        row.enabled = bool(changes["enabled"])
        if row.enabled:
            row.disabled_at, row.failed_deliveries = None, 0
            session.flush()
            service.resolve_for_endpoint(session, org_id, endpoint_id, now)
        else:
            row.disabled_at = now
            repository.drop_pending_for(session, org_id, endpoint_id, now)
    session.flush()
    return row


def rotate(session: Session, org_id: str, endpoint_id: str, secret_key: str) -> Created:
    lock_org_writes(session, org_id)
    row = get(session, org_id, endpoint_id)
    secret = new_secret()
    row.sealed_secret = _sealed(secret_key, secret)
    session.flush()
    return Created(row, secret)


def remove(session: Session, org_id: str, endpoint_id: str) -> None:
    lock_org_writes(session, org_id)
    row = get(session, org_id, endpoint_id)
    now = clock.now()
    repository.drop_pending_for(session, org_id, endpoint_id, now)
    service.resolve_for_endpoint(session, org_id, endpoint_id, now)
    repository.delete_row(session, row)


@dataclass(frozen=True)
class Tested:
    delivery: Delivery
    attempt: DeliveryAttempt


def test_send(
    session: Session, org_id: str, endpoint_id: str, outbound: deliveries.Outbound
) -> Tested:
    """Send a ``webhook.test`` message now and say what came back (it is logged with the
    other deliveries, and never tried again)."""
    row = get(session, org_id, endpoint_id)
    try:
        secret = sealed.unseal(outbound.secret_key, row.sealed_secret)
    except sealed.SecretsUnavailable as exc:
        raise EndpointError("secret", str(exc), 409) from None
    now = clock.now()
    delivery_id = message_id()
    payload = {
        "type": "webhook.test",
        "timestamp": now.isoformat(),
        "data": {"organization_id": org_id, "endpoint_id": endpoint_id},
    }
    outcome = deliveries.post_webhook(row.url, secret, delivery_id, payload, outbound.timeout)
    return _logged(
        session, org_id, delivery_id, "webhook", endpoint_id, "webhook.test", payload, outcome
    )


def test_digest(
    session: Session, org_id: str, base_url: str, outbound: deliveries.Outbound
) -> Tested:
    """Send the digest as it would go now, to the configured recipients."""
    payload = digest.compose(session, org_id, clock.now(), base_url)
    if not payload["recipients"]:
        raise EndpointError(
            "digest.recipients", "no recipients are configured (settings: digest.recipients)", 409
        )
    payload["subject"] = "[test] " + payload["subject"]
    outcome = deliveries.send_email(outbound.mailer, payload)
    return _logged(
        session, org_id, message_id(), "email", "digest", "digest.test", payload, outcome
    )


def _logged(
    session: Session,
    org_id: str,
    delivery_id: str,
    channel: str,
    target: str,
    event: str,
    payload: dict[str, Any],
    outcome: deliveries.Outcome,
) -> Tested:
    now = clock.now()
    row = Delivery(
        org_id=org_id,
        id=delivery_id,
        channel=channel,
        target=target,
        event=event,
        payload=payload,
        state="delivered" if outcome.ok else "failed",
        attempts=1,
        created_at=now,
        next_attempt_at=None,
        lease_until=None,
        finished_at=now,
    )
    attempt = outcome.logged(org_id, delivery_id, 1, now)
    session.add(row)
    session.add(attempt)
    session.flush()
    return Tested(row, attempt)
