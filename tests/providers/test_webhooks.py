"""The providers' webhooks, on both databases, with real signatures: Twilio's computed by
the ``twilio`` package's own ``RequestValidator``, SendGrid's made with an ECDSA P-256 key
as SendGrid signs (and checked by the ``sendgrid`` package's ``EventWebhook``)."""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from reengage import clock
from reengage.db.engine import make_sessionmaker
from reengage.models import ConsentChange, ProviderEvent
from tests.factories import OrgFixture, outbound, patient
from tests.helpers import problems
from tests.live_server import live_server

TOKEN = "0123456789abcdef0123456789abcdef"  # a fake Twilio auth token
SENT = "2026-11-02T09:00:00+00:00"
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def wired(client: TestClient, org: OrgFixture, sendgrid_key: Any) -> OrgFixture:
    """An org with both credentials set, and a patient with one SMS, one email and one call
    sent through the providers."""
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for provider, secret in (("twilio", TOKEN), ("sendgrid", base64.b64encode(public).decode())):
        r = client.put(
            org.url(f"/providers/{provider}"), json={"secret": secret}, headers=org.headers()
        )
        assert r.status_code == 200, r.text
    body = {
        "patients": [patient("p1", phone="+61412345678", email="p1@example.com")],
        "communications": [
            outbound("sms1", "p1", "sms", SENT, provider_message_id="SM111"),
            outbound("mail1", "p1", "email", SENT, provider_message_id="sgmsg1"),
            outbound("call1", "p1", "phone", SENT, provider_message_id="CA111"),
        ],
    }
    assert client.post(org.url("/batch"), json=body, headers=org.headers()).status_code == 200
    return org


def hook(org: OrgFixture, path: str) -> str:
    return f"/hooks/v1/orgs/{org.id}{path}"


def twilio(client: TestClient, org: OrgFixture, path: str, params: dict[str, str],
           token: str = TOKEN) -> Any:  # fmt: skip
    url = f"http://testserver{hook(org, path)}"
    signature = RequestValidator(token).compute_signature(url, params)
    with clock.frozen_at(NOW):
        return client.post(hook(org, path), data=params, headers={"X-Twilio-Signature": signature})


def sendgrid(client: TestClient, org: OrgFixture, key: Any, events: list[dict[str, Any]],
             stamp: int | None = None) -> Any:  # fmt: skip
    body = json.dumps(events)
    stamp_text = str(stamp if stamp is not None else int(time.time()))
    signature = key.sign((stamp_text + body).encode(), ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp_text,
    }
    return client.post(hook(org, "/sendgrid"), content=body, headers=headers)


def stored(client: TestClient, org: OrgFixture, kind: str, record_id: str) -> dict[str, Any]:
    r = client.get(org.url(f"/{kind}/{record_id}"), headers=org.headers())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def event_count(engine: Engine, org_id: str) -> int:
    with make_sessionmaker(engine)() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ProviderEvent)
                .where(ProviderEvent.org_id == org_id)
            )
            or 0
        )


@pytest.mark.parametrize(
    ("status", "code", "field", "reason"),
    [
        ("delivered", None, "delivered_at", None),
        ("undelivered", "30003", "failed_at", "twilio undelivered (error 30003)"),
        ("failed", "21610", "failed_at", "twilio failed (error 21610)"),
        ("sent", None, None, None),
        ("queued", None, None, None),
    ],
)
def test_a_twilio_message_status_moves_the_sms(
    client: TestClient, wired: OrgFixture, status: str, code: str | None, field: str | None,
    reason: str | None,
) -> None:  # fmt: skip
    params = {"MessageSid": "SM111", "MessageStatus": status, "AccountSid": "AC1"}
    if code:
        params["ErrorCode"] = code
    r = twilio(client, wired, "/twilio/messages", params)
    assert r.status_code == 200, r.text
    sms = stored(client, wired, "communications", "sms1")
    for name in ("delivered_at", "failed_at"):
        assert (sms[name] is not None) == (name == field)
    if field:
        assert sms[field].startswith("2026-11-02T09:30:00")
    assert sms["failure_reason"] == reason


def test_replays_and_reordered_statuses_change_nothing(
    client: TestClient, wired: OrgFixture, engine: Engine
) -> None:
    delivered = {"MessageSid": "SM111", "MessageStatus": "delivered"}
    assert twilio(client, wired, "/twilio/messages", delivered).json()["applied"] == 1
    first = stored(client, wired, "communications", "sms1")
    again = twilio(client, wired, "/twilio/messages", delivered).json()
    assert again == {"applied": 0, "unchanged": 0, "duplicates": 1, "waiting": 0}
    late_sent = twilio(client, wired, "/twilio/messages", {"MessageSid": "SM111",
                       "MessageStatus": "sent"}).json()  # fmt: skip
    assert late_sent["applied"] == 0
    failed = twilio(client, wired, "/twilio/messages", {"MessageSid": "SM111",
                    "MessageStatus": "undelivered", "ErrorCode": "30005"}).json()  # fmt: skip
    assert failed == {"applied": 0, "unchanged": 1, "duplicates": 0, "waiting": 0}
    assert stored(client, wired, "communications", "sms1") == first
    assert event_count(engine, wired.id) == 3


def test_a_forged_or_missing_signature_is_refused_and_writes_nothing(
    client: TestClient, wired: OrgFixture, engine: Engine, other_org: OrgFixture
) -> None:
    params = {"MessageSid": "SM111", "MessageStatus": "delivered"}
    forged = twilio(client, wired, "/twilio/messages", params, token="f" * 32)
    assert forged.status_code == 403
    assert "X-Twilio-Signature" in forged.json()["detail"]
    unsigned = client.post(hook(wired, "/twilio/messages"), data=params)
    assert unsigned.status_code == 403
    # Tampered after signing: the signature covers every parameter.
    url = f"http://testserver{hook(wired, '/twilio/messages')}"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    tampered = client.post(
        hook(wired, "/twilio/messages"),
        data={**params, "MessageStatus": "failed"},
        headers={"X-Twilio-Signature": signature},
    )
    assert tampered.status_code == 403
    # An org without a Twilio credential, and one that does not exist.
    assert twilio(client, other_org, "/twilio/messages", params).status_code == 403
    nobody = client.post("/hooks/v1/orgs/org_nobody/twilio/messages", data=params)
    assert nobody.status_code == 403  # as an org without the credential: ids are not probed
    assert nobody.json() == twilio(client, other_org, "/twilio/messages", params).json()
    assert stored(client, wired, "communications", "sms1")["delivered_at"] is None
    assert event_count(engine, wired.id) == 0


def test_a_status_for_an_unknown_message_waits_and_is_applied_when_it_arrives(
    client: TestClient, wired: OrgFixture, engine: Engine
) -> None:
    params = {"MessageSid": "SM999", "MessageStatus": "delivered"}
    assert twilio(client, wired, "/twilio/messages", params).json()["waiting"] == 1
    with make_sessionmaker(engine)() as session:
        waiting = session.get(ProviderEvent, (wired.id, "twilio:SM999:delivered"))
        assert waiting is not None and waiting.applied_at is None
    listed = client.get(wired.url("/provider-events"), headers=wired.headers()).json()
    assert [(e["key"], e["applied_at"]) for e in listed["events"]] == [
        ("twilio:SM999:delivered", None)
    ]
    late = outbound("sms9", "p1", "sms", SENT, provider_message_id="SM999")
    r = client.put(wired.url("/communications/sms9"), json=late, headers=wired.headers())
    assert r.status_code == 201, r.text
    sms = stored(client, wired, "communications", "sms9")
    assert sms["delivered_at"].startswith("2026-11-02T09:30:00")
    with make_sessionmaker(engine)() as session:
        applied = session.get(ProviderEvent, (wired.id, "twilio:SM999:delivered"))
        assert applied is not None and applied.applied_at is not None
    assert client.get(wired.url("/provider-events"), headers=wired.headers()).json() == {
        "events": []
    }


def test_an_inbound_sms_is_a_reply_and_stop_start_help_move_consent(
    client: TestClient, wired: OrgFixture, engine: Engine
) -> None:
    reply = {"MessageSid": "SMin1", "From": "+61412345678", "To": "+61400000000",
             "Body": "Yes I'll book Tuesday"}  # fmt: skip
    assert twilio(client, wired, "/twilio/inbound", reply).json()["applied"] == 1
    inbound = stored(client, wired, "communications", "twilio-SMin1")
    assert (inbound["direction"], inbound["channel"], inbound["patient_id"]) == (
        "inbound", "sms", "p1",
    )  # fmt: skip
    assert stored(client, wired, "communications", "sms1")["responded_at"] is not None
    steps = [
        ("SMin2", " stop ", ["sms"]),
        ("SMin3", "START", []),
        ("SMin4", "Unsubscribe!", ["sms"]),
        ("SMin5", "HELP", ["sms"]),
    ]
    for sid, body, opt_outs in steps:
        r = twilio(client, wired, "/twilio/inbound", reply | {"MessageSid": sid, "Body": body})
        assert r.status_code == 200, r.text
        assert stored(client, wired, "patients", "p1")["opt_outs"] == opt_outs, body
    with make_sessionmaker(engine)() as session:
        changes = session.scalars(
            select(ConsentChange.change).where(ConsentChange.org_id == wired.id)
            .order_by(ConsentChange.at, ConsentChange.id)
        ).all()  # fmt: skip
    assert sorted(changes) == sorted(["opted_out", "opted_in", "opted_out", "asked_for_help"])
    stranger = reply | {"MessageSid": "SMin6", "From": "+61499999999"}
    assert twilio(client, wired, "/twilio/inbound", stranger).json()["waiting"] == 1


@pytest.mark.parametrize(
    ("status", "duration", "connected"),
    [("completed", "95", True), ("busy", "0", False), ("no-answer", "0", False),
     ("completed", "0", False)],
)  # fmt: skip
def test_a_call_status_connects_the_call_when_it_lasted(
    client: TestClient, wired: OrgFixture, status: str, duration: str, connected: bool
) -> None:
    params = {"CallSid": "CA111", "CallStatus": status, "CallDuration": duration,
              "Timestamp": "Mon, 02 Nov 2026 09:05:00 +0000"}  # fmt: skip
    assert twilio(client, wired, "/twilio/calls", params).status_code == 200
    call = stored(client, wired, "communications", "call1")
    if connected:
        assert call["connected_at"].startswith("2026-11-02T09:03:25")
    else:
        assert call["connected_at"] is None


def test_a_sendgrid_batch_moves_the_email_once_and_unsubscribes(
    client: TestClient, wired: OrgFixture, sendgrid_key: Any, engine: Engine
) -> None:
    at = int(datetime(2026, 11, 2, 9, 10, tzinfo=UTC).timestamp())
    events = [
        {"event": "processed", "sg_event_id": "e0", "sg_message_id": "sgmsg1.filter01",
         "timestamp": at - 60, "email": "p1@example.com"},
        {"event": "open", "sg_event_id": "e2", "sg_message_id": "sgmsg1.filter01",
         "timestamp": at + 60, "email": "p1@example.com"},
        {"event": "delivered", "sg_event_id": "e1", "sg_message_id": "sgmsg1.filter01",
         "timestamp": at, "email": "p1@example.com"},
        {"event": "open", "sg_event_id": "e2", "sg_message_id": "sgmsg1.filter01",
         "timestamp": at + 60, "email": "p1@example.com"},
        {"event": "unsubscribe", "sg_event_id": "e3", "timestamp": at + 120,
         "email": "p1@example.com"},
    ]  # fmt: skip
    r = sendgrid(client, wired, sendgrid_key, events)
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": 3, "unchanged": 1, "duplicates": 1, "waiting": 0}
    mail = stored(client, wired, "communications", "mail1")
    assert mail["delivered_at"].startswith("2026-11-02T09:10:00")
    assert mail["opened_at"].startswith("2026-11-02T09:11:00")
    assert stored(client, wired, "patients", "p1")["opt_outs"] == ["email"]
    replay = sendgrid(client, wired, sendgrid_key, events).json()
    assert replay["duplicates"] == 5 and replay["applied"] == 0
    bounce = [{"event": "bounce", "sg_event_id": "e9", "sg_message_id": "sgmsg1.f",
               "timestamp": at + 200, "status": "5.1.1"}]  # fmt: skip
    assert sendgrid(client, wired, sendgrid_key, bounce).json()["unchanged"] == 1  # delivered


def test_a_bad_or_stale_sendgrid_signature_is_refused(
    client: TestClient, wired: OrgFixture, sendgrid_key: Any, engine: Engine
) -> None:
    events = [{"event": "delivered", "sg_event_id": "x1", "sg_message_id": "sgmsg1.f",
               "timestamp": 1793610000}]  # fmt: skip
    other = ec.generate_private_key(ec.SECP256R1())
    assert sendgrid(client, wired, other, events).status_code == 403
    stale = sendgrid(client, wired, sendgrid_key, events, stamp=int(time.time()) - 3600)
    assert stale.status_code == 403 and "stale" in stale.json()["detail"]
    assert event_count(engine, wired.id) == 0
    assert stored(client, wired, "communications", "mail1")["delivered_at"] is None
    bad = sendgrid(client, wired, sendgrid_key, [{"event": "delivered"}])
    assert bad.status_code == 422
    assert problems(bad) == {"[0]": "needs event, sg_event_id and a numeric timestamp"}
    missing = twilio(client, wired, "/twilio/messages", {"MessageStatus": "delivered"})
    assert missing.status_code == 422
    assert problems(missing) == {"form.MessageSid": "is required"}


def test_credentials_are_admin_only_and_never_shown(client: TestClient, wired: OrgFixture) -> None:
    listed = client.get(wired.url("/providers"), headers=wired.headers())
    assert listed.status_code == 200
    assert TOKEN not in listed.text
    assert [p["configured"] for p in listed.json()["providers"]] == [True, True]
    staff = client.put(wired.url("/providers/twilio"), json={"secret": "x"},
                       headers=wired.headers("staff"))  # fmt: skip
    assert staff.status_code == 403
    bad = client.put(wired.url("/providers/sendgrid"), json={"secret": "not a key"},
                     headers=wired.headers())  # fmt: skip
    assert bad.status_code == 422


def test_the_cli_prints_a_key_that_seals_and_opens() -> None:
    from typer.testing import CliRunner

    from reengage.cli import app as cli_app
    from reengage.providers import secrets

    result = CliRunner().invoke(cli_app, ["secret-key"])
    assert result.exit_code == 0
    key = result.output.strip()
    sealed = secrets.seal(key, TOKEN)
    assert TOKEN not in sealed
    assert secrets.unseal(key, sealed) == TOKEN
    with pytest.raises(secrets.SecretsUnavailable, match="does not open"):
        secrets.unseal(secrets.new_key(), sealed)
    with pytest.raises(secrets.SecretsUnavailable, match="not set"):
        secrets.seal("", TOKEN)


def test_the_patient_page_shows_consent_changes(
    app: Any, client: TestClient, wired: OrgFixture
) -> None:
    stop = {"MessageSid": "SMstop", "From": "+61412345678", "Body": "STOP"}
    assert twilio(client, wired, "/twilio/inbound", stop).status_code == 200
    with TestClient(app) as browser:
        form = browser.get("/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed = browser.post(
            "/sign-in",
            data={"api_key": wired.keys["staff"], "next": "/", "sign_in_token": token.group(1)},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        page = browser.get("/patients/p1")
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "Consent changes" in text
    assert "opted out twilio inbound SMS" in text


def test_the_same_batch_sent_eight_times_at_once_applies_once(
    app: Any, wired: OrgFixture, sendgrid_key: Any, engine: Engine
) -> None:
    """SendGrid retries in parallel: over real connections, eight copies of one batch land
    together; its events apply once and every copy is answered 200."""
    at = int(datetime(2026, 11, 2, 9, 10, tzinfo=UTC).timestamp())
    events = [
        {"event": "delivered", "sg_event_id": "c1", "sg_message_id": "sgmsg1.f", "timestamp": at},
        {"event": "open", "sg_event_id": "c2", "sg_message_id": "sgmsg1.f", "timestamp": at + 9},
    ]
    body = json.dumps(events)
    stamp = str(int(time.time()))
    signature = sendgrid_key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }

    def post(_: int) -> tuple[int, dict[str, Any]]:
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post(hook(wired, "/sendgrid"), content=body, headers=headers)
        return r.status_code, r.json()

    with live_server(app) as base, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {status for status, _ in answers} == {200}, answers
    assert sum(a["applied"] for _, a in answers) == 2
    assert sum(a["duplicates"] for _, a in answers) == 14
    assert event_count(engine, wired.id) == 2


def test_a_blank_secret_is_refused(client: TestClient, org: OrgFixture) -> None:
    r = client.put(org.url("/providers/twilio"), json={"secret": "   "}, headers=org.headers())
    assert problems(r) == {"secret": "must not be blank"}


def test_the_funnels_move_with_the_providers_reports(client: TestClient, wired: OrgFixture) -> None:
    def funnels() -> dict[str, Any]:
        r = client.get(
            wired.analytics("/performance?timeframe=last_30_days&as_of=2026-11-20T00:00:00Z"),
            headers=wired.headers(),
        )
        assert r.status_code == 200, r.text
        channels: dict[str, Any] = r.json()["communication_channels"]
        return channels

    before = funnels()
    assert (before["sms"]["sent"], before["sms"]["delivered"], before["sms"]["responded"]) == (
        1, 0, 0,
    )  # fmt: skip
    twilio(client, wired, "/twilio/messages", {"MessageSid": "SM111", "MessageStatus": "delivered"})
    twilio(client, wired, "/twilio/inbound", {"MessageSid": "SMr", "From": "+61412345678",
                                              "Body": "Tuesday please"})  # fmt: skip
    twilio(client, wired, "/twilio/calls", {"CallSid": "CA111", "CallStatus": "completed",
                                            "CallDuration": "60"})  # fmt: skip
    after = funnels()
    assert (after["sms"]["delivered"], after["sms"]["responded"]) == (1, 1)
    assert after["phone"]["connected"] == 1
