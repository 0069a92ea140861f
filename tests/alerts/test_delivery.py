"""Alerts reach people: the digest arrives at a real SMTP server (aiosmtpd) started here,
with the right counts and no patient's name or details; a webhook receiver started here
gets a correctly signed delivery, and after failing twice, the retry; an endpoint that
keeps failing is disabled and the admin told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from reengage import clock
from reengage.alerts.deliveries import Mailer
from reengage.domain import alerts as rules
from reengage.jobs import catalog
from tests.alerts.helpers import alerts_of, run_job
from tests.factories import OrgFixture, appointment, patient
from tests.live_server import free_port

# Near the real time: a receiver checks a signature's timestamp against its own clock (5
# minutes either way), so NOW is taken again as each test starts, not once at import: in
# the full suite the PostgreSQL run of a test starts more than 5 minutes after collection.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now_near_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(globals(), "NOW", datetime.now(UTC).replace(microsecond=0))


RECIPIENT = "practice.manager@example-clinic.test"


def day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def missed_visit(client: TestClient, org: OrgFixture, pid: str, name: str) -> None:
    """A patient who missed yesterday's visit, with nothing booked."""
    record = patient(pid, name=name, phone="+61400000999", email=f"{pid}@example.org")
    body = {
        "patients": [record],
        "appointments": [
            appointment(f"{pid}-seen", pid, starts_at=day(20), booked_at=day(30)),
            appointment(f"{pid}-miss", pid, starts_at=day(1), booked_at=day(10), status="no_show"),
        ],
    }
    r = client.post(org.url("/batch"), json=body, headers=org.headers())
    assert r.status_code == 200, r.text


# --- email -------------------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, Mailer]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            Mailer(host="127.0.0.1", port=port, security="none", sender="alerts@reengage.test"),
        )
    finally:
        controller.stop()


def test_the_digest_arrives_once_with_counts_and_no_patient_data(
    client: TestClient, engine: Engine, org: OrgFixture, smtp: tuple[Inbox, Mailer]
) -> None:
    inbox, mailer = smtp
    names = ["Quinn Fakepatient", "Rowan Madeupname"]
    for i, name in enumerate(names):
        missed_visit(client, org, f"p{i}", name)
    r = client.patch(
        org.url("/settings"),
        json={"timezone": "UTC", "digest": {"recipients": [RECIPIENT], "at": "07:30"}},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    morning = NOW.replace(hour=7, minute=31, second=0)
    with clock.frozen_at(morning):
        assert run_job(engine, catalog.BY_NAME["alerts-evaluate"], org.id) == "ran"
        assert run_job(engine, catalog.BY_NAME["alerts-digest"], org.id) == "ran"
        # The slot is done: the next pass sends nothing more.
        assert run_job(engine, catalog.BY_NAME["alerts-digest"], org.id) == "done"
        assert inbox.messages == []  # in the outbox until the sender's turn
        assert run_job(engine, catalog.BY_NAME["deliveries-send"], org.id, mailer) == "ran"
        assert run_job(engine, catalog.BY_NAME["deliveries-send"], org.id, mailer) == "idle"
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert (sender, recipients) == ("alerts@reengage.test", [RECIPIENT])
    message = message_from_bytes(raw)
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    # The counts are the API's, at the digest's instant.
    r = client.get(
        org.analytics("/risk-metrics"), params={"as_of": morning.isoformat()}, headers=org.headers()
    )
    tiers = r.json()["risk_summary"]
    at_risk = sum(tiers[f"{t}_risk"] for t in ("critical", "high", "medium"))
    assert r.json()["immediate_actions_required"] == 2
    assert message["Subject"].startswith(f"reengage: {at_risk} at risk, 2 to act on today")
    assert (
        f"Patients at risk: {at_risk} of 2 active (critical {tiers['critical_risk']}, "
        f"high {tiers['high_risk']}, medium {tiers['medium_risk']})."
    ) in text
    assert "Need action today (priority 1): 2." in text
    assert "  - Missed appointment, nothing booked: 2 open, 2 new" in text
    assert "http://reengage.test/alerts" in text
    for secret in [*names, "+61400000999", "p0@example.org", "p0", "p1", "lower back pain"]:
        assert secret not in text and secret not in message["Subject"]
    # The delivery and its one attempt are on record for the admin.
    listed = client.get(org.url("/deliveries?target=digest"), headers=org.headers()).json()
    (delivery,) = listed["deliveries"]
    assert (delivery["state"], [a["ok"] for a in delivery["attempts"]]) == ("delivered", [True])


def test_the_digest_test_send_reports_what_the_server_said(
    client: TestClient, org: OrgFixture, smtp: tuple[Inbox, Mailer]
) -> None:
    inbox, _ = smtp
    r = client.post(org.url("/digest/test"), headers=org.headers())
    assert r.status_code == 409
    assert r.json() == {"detail": "no recipients are configured (settings: digest.recipients)"}
    client.patch(
        org.url("/settings"), json={"digest": {"recipients": [RECIPIENT]}}, headers=org.headers()
    )
    # The test app has no SMTP server configured: the attempt says so, and fails.
    r = client.post(org.url("/digest/test"), headers=org.headers())
    assert r.status_code == 200
    assert r.json()["delivered"] is False
    assert r.json()["delivery"]["attempts"][0]["error"] == (
        "no SMTP server is configured (REENGAGE_SMTP_HOST)"
    )
    assert inbox.messages == []


def test_a_digest_recipient_must_be_an_address(client: TestClient, org: OrgFixture) -> None:
    r = client.patch(
        org.url("/settings"),
        json={"digest": {"recipients": ["not an address"]}},
        headers=org.headers(),
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "digest.recipients"
    r = client.patch(org.url("/settings"), json={"digest": {"at": "7:30"}}, headers=org.headers())
    assert [(p["field"], p["reason"]) for p in r.json()["detail"]] == [
        ("digest.at", "must be a local time, HH:MM (24-hour), such as '07:30'")
    ]


# --- webhooks ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """Answers with the next of ``statuses`` (the last one again when they run out)."""

    statuses: list[int]
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = found.statuses.pop(0) if len(found.statuses) > 1 else found.statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/reengage-hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def register(client: TestClient, org: OrgFixture, url: str, **extra: Any) -> dict[str, Any]:
    r = client.post(
        org.url("/webhook-endpoints"), json={"url": url, **extra}, headers=org.headers()
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"].startswith("whsec_")
    return dict(body)


def send_at(engine: Engine, org: OrgFixture, at: datetime) -> str:
    with clock.frozen_at(at):
        return run_job(engine, catalog.BY_NAME["deliveries-send"], org.id)


def test_a_signed_delivery_arrives_after_two_failures(
    client: TestClient, engine: Engine, org: OrgFixture, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 204]
    endpoint = register(client, org, receiver.url)
    missed_visit(client, org, "p1", "Quinn Fakepatient")
    with clock.frozen_at(NOW):
        run_job(engine, catalog.BY_NAME["alerts-checks"], org.id)
    assert send_at(engine, org, NOW) == "ran"
    assert len(receiver.got) == 1
    # Not due again until the backoff has passed.
    assert send_at(engine, org, NOW + timedelta(seconds=10)) == "idle"
    first_wait, second_wait = rules.RETRY_DELAYS[:2]
    assert send_at(engine, org, NOW + timedelta(seconds=first_wait + 1)) == "ran"
    assert send_at(engine, org, NOW + timedelta(seconds=first_wait + second_wait + 2)) == "ran"
    assert len(receiver.got) == 3
    ids = {headers["webhook-id"] for headers, _ in receiver.got}
    assert len(ids) == 1  # one message, three attempts: the receiver can tell a retry
    headers, body = receiver.got[-1]
    # Verified by the Standard Webhooks library, and by hand from the specification.
    payload = Webhook(endpoint["secret"]).verify(body, headers)
    key = base64.b64decode(endpoint["secret"].removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert payload["type"] == "alert.opened"
    alert = payload["data"]["alert"]
    assert (alert["rule"], alert["patient_id"], alert["state"]) == (
        "missed_appointment",
        "p1",
        "open",
    )
    assert "Quinn" not in body.decode() and "+61400000999" not in body.decode()
    # Every attempt is logged.
    listed = client.get(org.url(f"/deliveries?target={endpoint['id']}"), headers=org.headers())
    (delivery,) = listed.json()["deliveries"]
    assert delivery["id"] == headers["webhook-id"]
    assert delivery["state"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["ok"]) for a in delivery["attempts"]] == [
        (1, 500, False),
        (2, 503, False),
        (3, 204, True),
    ]


def test_a_failing_endpoint_is_disabled_and_the_admin_told(
    client: TestClient, engine: Engine, org: OrgFixture, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    failing = register(client, org, receiver.url, rules=["missed_appointment"])
    at = NOW
    for n in range(rules.DISABLE_AFTER_FAILED_DELIVERIES):
        missed_visit(client, org, f"p{n}", "Quinn Fakepatient")
        with clock.frozen_at(at):
            run_job(engine, catalog.BY_NAME["alerts-checks"], org.id)
        for wait in (0, *rules.RETRY_DELAYS):
            at += timedelta(seconds=wait + 1)
            assert send_at(engine, org, at) == "ran"
    attempts = len(rules.RETRY_DELAYS) + 1
    assert len(receiver.got) == rules.DISABLE_AFTER_FAILED_DELIVERIES * attempts
    found = client.get(org.url(f"/webhook-endpoints/{failing['id']}"), headers=org.headers()).json()
    assert found["enabled"] is False and found["disabled_at"] is not None
    told = alerts_of(client, org, rule="webhook_disabled")
    assert [(a["subject_type"], a["subject"]) for a in told] == [
        ("webhook_endpoint", failing["id"])
    ]
    # Enabled again: the count starts afresh, and the alert resolves.
    r = client.patch(
        org.url(f"/webhook-endpoints/{failing['id']}"),
        json={"enabled": True},
        headers=org.headers(),
    )
    assert (r.json()["enabled"], r.json()["failed_deliveries"]) == (True, 0)
    assert alerts_of(client, org, rule="webhook_disabled") == []


def test_the_test_send_and_the_endpoint_rules(
    client: TestClient, org: OrgFixture, receiver: Receiver
) -> None:
    endpoint = register(client, org, receiver.url, description="front desk bot")
    r = client.post(org.url(f"/webhook-endpoints/{endpoint['id']}/test"), headers=org.headers())
    assert r.status_code == 200 and r.json()["delivered"] is True
    headers, body = receiver.got[0]
    assert Webhook(endpoint["secret"]).verify(body, headers)["type"] == "webhook.test"
    # A rotated secret signs from now on; the old one no longer verifies.
    rotated = client.post(
        org.url(f"/webhook-endpoints/{endpoint['id']}/rotate-secret"), headers=org.headers()
    ).json()
    client.post(org.url(f"/webhook-endpoints/{endpoint['id']}/test"), headers=org.headers())
    headers, body = receiver.got[1]
    assert Webhook(rotated["secret"]).verify(body, headers)["type"] == "webhook.test"
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint["secret"]).verify(body, headers)
    # Bad input is named.
    reason = "must be an http:// or https:// URL with a host (and no user name or password)"
    for url in ("ftp://example.org/x", "https://user:pw@example.org/x", "https://"):
        r = client.post(org.url("/webhook-endpoints"), json={"url": url}, headers=org.headers())
        assert r.status_code == 422
        assert [(p["field"], p["reason"]) for p in r.json()["detail"]] == [("url", reason)]
    r = client.post(
        org.url("/webhook-endpoints"),
        json={"url": receiver.url, "rules": ["nope"]},
        headers=org.headers(),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "rules[0]"
    assert (
        client.delete(
            org.url(f"/webhook-endpoints/{endpoint['id']}"), headers=org.headers()
        ).status_code
        == 204
    )
    assert (
        client.get(
            org.url(f"/webhook-endpoints/{endpoint['id']}"), headers=org.headers()
        ).status_code
        == 404
    )
    # No body, no secret: nothing stored in the clear.
    assert "secret" not in json.dumps(
        client.get(org.url("/webhook-endpoints"), headers=org.headers()).json()
    )
