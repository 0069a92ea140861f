"""Sending what the outbox holds: webhook messages (Standard Webhooks, signed with the
endpoint's secret) and digest emails (SMTP), each tried again with backoff
(``domain.alerts.RETRY_DELAYS``, a day in all), every attempt logged.

A sender takes a delivery with a lease (one conditional UPDATE, committed), sends it with no
transaction open, and records the outcome. Two senders never take one delivery; one that
dies mid-send lets it go when the lease ends, and the next sends it again: deliveries are
at least once, and a webhook message keeps its ``webhook-id`` on every attempt so that
receivers can recognise a repeat (as the Standard Webhooks specification asks of them).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from reengage import clock
from reengage.alerts import repository, service
from reengage.domain import alerts as rules
from reengage.models import Delivery, DeliveryAttempt
from reengage.providers import secrets as sealed

log = logging.getLogger("reengage.alerts")

LEASE = timedelta(minutes=2)
USER_AGENT = "reengage-webhooks/1"


@dataclass(frozen=True)
class Mailer:
    """An SMTP server to send through (``REENGAGE_SMTP_*``)."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str = ""
    password: str = ""
    sender: str = "reengage@localhost"
    timeout: float = 30.0

    def send(self, recipients: list[str], subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message.set_content(text)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass(frozen=True)
class Outbound:
    """What sending needs from the process's configuration."""

    secret_key: str
    mailer: Mailer | None
    timeout: float = 10.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    milliseconds: int

    def logged(self, org_id: str, delivery_id: str, attempt: int, at: datetime) -> DeliveryAttempt:
        """The attempt as the log keeps it."""
        return DeliveryAttempt(
            org_id=org_id,
            delivery_id=delivery_id,
            attempt=attempt,
            at=at,
            ok=self.ok,
            status_code=self.status_code,
            error=self.error,
            milliseconds=self.milliseconds,
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is answered where it was sent: a redirect is a failed attempt (and could
    turn a POST into a GET, or send the signed body somewhere the admin did not register)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def sign(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (its timestamp is the attempt's)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def post_webhook(url: str, secret: str, message_id: str, payload: Any, timeout: float) -> Outcome:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    headers.update(sign(secret, message_id, clock.now(), body))
    # The scheme was checked when the endpoint was registered (http or https only).
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    started = time.perf_counter()
    try:
        with _opener.open(request, timeout=timeout) as response:
            code = int(response.status)
        return Outcome(
            200 <= code < 300, code, None if code < 300 else f"HTTP {code}", _ms(started)
        )
    except urllib.error.HTTPError as exc:
        return Outcome(False, exc.code, f"HTTP {exc.code}", _ms(started))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Outcome(False, None, _short(reason), _ms(started))


def send_email(mailer: Mailer | None, payload: dict[str, Any]) -> Outcome:
    started = time.perf_counter()
    if mailer is None:
        return Outcome(False, None, "no SMTP server is configured (REENGAGE_SMTP_HOST)", 0)
    try:
        mailer.send(list(payload["recipients"]), payload["subject"], payload["text"])
        return Outcome(True, 250, None, _ms(started))
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, int(exc.smtp_code), f"SMTP {exc.smtp_code}", _ms(started))
    except (smtplib.SMTPException, OSError) as exc:
        # The class only: SMTPRecipientsRefused's message lists addresses.
        return Outcome(False, None, f"{type(exc).__name__}", _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _short(reason: object) -> str:
    return str(reason)[:300]


def send_due(
    sessions: sessionmaker[Session], org_id: str, outbound: Outbound, most: int = 100
) -> int:
    """Send the org's due deliveries; returns how many attempts were made."""
    now = clock.now()
    with sessions() as session:
        due = repository.due_deliveries(session, org_id, now, most)
    made = 0
    for delivery_id in due:
        with sessions() as session:
            taken = repository.lease(session, org_id, delivery_id, now, now + LEASE)
            session.commit()
        if not taken:
            continue
        with sessions() as session:
            found = repository.delivery(session, org_id, delivery_id)
            assert found is not None
            outcome = _attempt(session, found, outbound)
        with sessions() as session:
            _record(session, org_id, delivery_id, outcome)
            session.commit()
        made += 1
    return made


def _attempt(session: Session, delivery: Delivery, outbound: Outbound) -> Outcome:
    if delivery.channel == "email":
        return send_email(outbound.mailer, delivery.payload)
    endpoint = repository.endpoint(session, delivery.org_id, delivery.target)
    if endpoint is None:
        return Outcome(False, None, "the endpoint was deleted", 0)
    try:
        secret = sealed.unseal(outbound.secret_key, endpoint.sealed_secret)
    except sealed.SecretsUnavailable as exc:
        return Outcome(False, None, str(exc)[:300], 0)
    session.rollback()  # no transaction held open while the receiver answers
    return post_webhook(endpoint.url, secret, delivery.id, delivery.payload, outbound.timeout)


def _record(session: Session, org_id: str, delivery_id: str, outcome: Outcome) -> None:
    delivery = repository.delivery(session, org_id, delivery_id)
    if delivery is None:
        return
    now = clock.now()
    delivery.attempts += 1
    repository.add_attempt(session, outcome.logged(org_id, delivery_id, delivery.attempts, now))
    delivery.lease_until = None
    if outcome.ok:
        delivery.state, delivery.finished_at, delivery.next_attempt_at = "delivered", now, None
        _endpoint_answered(session, delivery)
        log.info(
            "delivery %s of org %s: delivered (attempt %d)", delivery_id, org_id, delivery.attempts
        )
        return
    wait = rules.next_delay(delivery.attempts)
    log.warning(
        "delivery %s of org %s: attempt %d failed (%s)",
        delivery_id,
        org_id,
        delivery.attempts,
        outcome.status_code or "no answer",
    )
    if wait is not None and delivery.event != "webhook.test":
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        return
    delivery.state, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
    if delivery.channel == "webhook" and delivery.event != "webhook.test":
        _endpoint_gave_up(session, delivery, now)


def _endpoint_answered(session: Session, delivery: Delivery) -> None:
    if delivery.channel != "webhook":
        return
    endpoint = repository.endpoint(session, delivery.org_id, delivery.target)
    if endpoint is not None and endpoint.failed_deliveries:
        endpoint.failed_deliveries = 0


def _endpoint_gave_up(session: Session, delivery: Delivery, now: datetime) -> None:
    """A delivery used up its attempts: after a few in a row, the endpoint is disabled and
    the admin told (a ``webhook_disabled`` alert, in the inbox and the digest)."""
    endpoint = repository.endpoint(session, delivery.org_id, delivery.target)
    if endpoint is None or not endpoint.enabled:
        return
    endpoint.failed_deliveries += 1
    if endpoint.failed_deliveries < rules.DISABLE_AFTER_FAILED_DELIVERIES:
        return
    endpoint.enabled, endpoint.disabled_at = False, now
    repository.drop_pending_for(session, delivery.org_id, endpoint.id, now)
    session.flush()
    log.warning("webhook endpoint %s of org %s disabled", endpoint.id, delivery.org_id)
    service.raise_for_endpoint(session, delivery.org_id, endpoint.id, now)
