"""What an alert's change looks like to the outside (the outgoing webhooks' messages), and
putting one in the outbox for every endpoint that wants it, in the caller's transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reengage import clock
from reengage.alerts import repository
from reengage.domain import alerts as rules
from reengage.domain.settings import OrgSettings
from reengage.models import Alert

EVENT_TYPES = ("alert.opened", "alert.acknowledged", "alert.resolved", "webhook.test")


def subject_type(alert: Alert) -> str:
    if alert.patient_id is not None:
        return "patient"
    return "webhook_endpoint" if alert.rule == rules.WEBHOOK_DISABLED else "org"


def alert_fields(alert: Alert, settings: OrgSettings) -> dict[str, Any]:
    """The alert as the API and the webhooks show it: ids, rules and figures only."""
    zone = settings.zone()

    def shown(at: Any) -> str | None:
        return at.astimezone(zone).isoformat() if at is not None else None

    return {
        "id": alert.id,
        "rule": alert.rule,
        "title": rules.BY_NAME[alert.rule].title,
        "subject_type": subject_type(alert),
        "subject": alert.subject or None,
        "patient_id": alert.patient_id,
        "state": alert.state,
        "opened_at": shown(alert.opened_at),
        "detail": alert.detail,
        "acknowledged_at": shown(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": shown(alert.resolved_at),
        "resolved_by": alert.resolved_by,
        "resolved_automatically": alert.state == "resolved" and alert.resolved_by is None,
    }


def alert_event(alert: Alert, kind: str, settings: OrgSettings) -> dict[str, Any]:
    """A Standard Webhooks payload: ``type``, ``timestamp``, ``data``."""
    return {
        "type": kind,
        "timestamp": clock.now().isoformat(),
        "data": {"organization_id": alert.org_id, "alert": alert_fields(alert, settings)},
    }


def message_id() -> str:
    """The ``webhook-id``: the same on every attempt of one message, for receivers to
    recognise a retry."""
    return f"msg_{secrets.token_hex(12)}"


def pending_delivery(
    org_id: str, channel: str, target: str, event: str, payload: Any, now: datetime
) -> dict[str, Any]:
    """A new outbox row, due at once: how every message (an event, a digest) enters the
    outbox, so that the sender sees them alike."""
    return {
        "org_id": org_id,
        "id": message_id(),
        "channel": channel,
        "target": target,
        "event": event,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def enqueue_event(session: Session, event: dict[str, Any], only: str | None = None) -> int:
    """One delivery per enabled endpoint that takes this rule (or just ``only``); returns
    how many."""
    org_id = event["data"]["organization_id"]
    rule = event["data"].get("alert", {}).get("rule")
    now = clock.now()
    rows = [
        pending_delivery(org_id, "webhook", endpoint.id, event["type"], event, now)
        for endpoint in repository.endpoints(session, org_id)
        if (only is None and endpoint.enabled and (not endpoint.rules or rule in endpoint.rules))
        or endpoint.id == only
    ]
    repository.add_deliveries(session, rows)
    return len(rows)
