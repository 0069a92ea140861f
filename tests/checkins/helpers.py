"""What the check-in tests share: an org wired to the fake providers, patients at a chosen
distance from their last visit, and the scheduler's jobs run as it runs them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from reengage import clock
from reengage.alerts.deliveries import Outbound
from reengage.checkins.service import SendingConfig
from reengage.db.engine import make_sessionmaker
from reengage.jobs.catalog import BY_NAME, JOBS
from reengage.jobs.scheduler import Context, Scheduler
from tests.checkins.fake_providers import ACCOUNT_SID, AUTH_TOKEN, SENDGRID_KEY, FakeProviders
from tests.conftest import TEST_SECRET_KEY
from tests.factories import OrgFixture, appointment, patient

CLINIC_SENDER = "+61255501234"


def wire(client: TestClient, org: OrgFixture, sms: bool = True, email: bool = True) -> None:
    """Twilio's auth token and sending settings, SendGrid's API key and From address."""
    puts: list[tuple[str, dict[str, Any]]] = []
    if sms:
        puts += [
            ("/providers/twilio", {"secret": AUTH_TOKEN}),
            ("/providers/twilio/sending", {"account_sid": ACCOUNT_SID, "sender": CLINIC_SENDER}),
        ]
    if email:
        puts.append(
            (
                "/providers/sendgrid/sending",
                {
                    "api_key": SENDGRID_KEY,
                    "from_email": "hello@clinic.example",
                    "from_name": "Clinic",
                },
            )
        )
    for path, body in puts:
        r = client.put(org.url(path), json=body, headers=org.headers())
        assert r.status_code == 200, r.text


def campaign(client: TestClient, org: OrgFixture, **settings: Any) -> str:
    body = {"booking_link": "https://clinic.example/book", "clinic_phone": "02 5550 1234"}
    r = client.post(org.url("/checkins/campaigns"), json=body | settings, headers=org.headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def drifting(pid: str, now: datetime, days: int, **overrides: Any) -> dict[str, Any]:
    """A patient whose last visit (completed) was ``days`` days before ``now``."""
    return patient(pid, registered_at=(now - timedelta(days=400)).isoformat(), **overrides)


def visit(pid: str, now: datetime, days: int) -> dict[str, Any]:
    return appointment(
        f"v-{pid}",
        pid,
        starts_at=(now - timedelta(days=days)).isoformat(),
        booked_at=None,
        status="completed",
    )


def load(client: TestClient, org: OrgFixture, now: datetime, body: dict[str, list[Any]]) -> None:
    with clock.frozen_at(now):
        r = client.post(org.url("/batch"), json=body, headers=org.headers())
    assert r.status_code == 200, r.text


def scheduler(engine: Engine, fake: FakeProviders) -> Scheduler:
    context = Context(
        sessions=make_sessionmaker(engine),
        outbound=Outbound(TEST_SECRET_KEY, None, timeout=5.0),
        base_url="http://reengage.test",
        sending=SendingConfig(
            secret_key=TEST_SECRET_KEY,
            twilio_api_url=fake.url,
            sendgrid_api_url=fake.url,
            public_url="http://reengage.test",
            timeout=5.0,
        ),
    )
    return Scheduler(context, engine, JOBS, tick=0.5)


def run(engine: Engine, fake: FakeProviders, name: str, org_id: str, at: datetime) -> str:
    """One job, as the scheduler runs it at ``at``: its outcome (ran, idle, ...)."""
    found = scheduler(engine, fake)
    try:
        with clock.frozen_at(at):
            return found.run_job(BY_NAME[name], org_id).outcome
    finally:
        found.locks.close()


def batches(client: TestClient, org: OrgFixture, campaign_id: str) -> list[dict[str, Any]]:
    r = client.get(org.url(f"/checkins/campaigns/{campaign_id}/batches"), headers=org.headers())
    assert r.status_code == 200, r.text
    return list(r.json()["batches"])


def batch(client: TestClient, org: OrgFixture, batch_id: str, at: datetime) -> dict[str, Any]:
    with clock.frozen_at(at):
        r = client.get(org.url(f"/checkins/batches/{batch_id}"), headers=org.headers("staff"))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def by_patient(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["patient_id"]: m for m in found["messages"]}


def twilio_status(
    client: TestClient, org: OrgFixture, sid: str, status: str, at: datetime, **extra: str
) -> dict[str, Any]:
    """Twilio's status callback for one message, signed as Twilio signs it."""
    params = {"MessageSid": sid, "MessageStatus": status, **extra}
    path = f"/hooks/v1/orgs/{org.id}/twilio/messages"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"http://testserver{path}", params)
    with clock.frozen_at(at):
        r = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found
