"""Check-ins sent through a local server speaking Twilio's and SendGrid's APIs, on both
databases: the right patients get the right words on the right channel inside the org's
hours, none twice within 7 days, none opted out, a STOP mid-batch respected, provider
errors retried or not as the providers document them."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reengage import clock, logs
from reengage.checkins import repository
from reengage.checkins import service as checkins_service
from reengage.db.engine import make_sessionmaker
from reengage.models import CheckinMessage, Communication, ConsentChange
from reengage.providers import service as providers_service
from tests.checkins.fake_providers import (
    AUTH_TOKEN,
    INVALID_NUMBER,
    SENDGRID_KEY,
    UNSUBSCRIBED,
    fake_providers,
)
from tests.checkins.helpers import (
    CLINIC_SENDER,
    batch,
    batches,
    by_patient,
    campaign,
    drifting,
    load,
    run,
    twilio_status,
    visit,
    wire,
)
from tests.factories import OrgFixture, make_org, outbound
from tests.helpers import logged_text, problems

TUESDAY = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)  # the org's hours: 09:00-17:00, Mon-Fri


def sms_text(first: str, org: OrgFixture) -> str:
    return (
        f"Hi {first}, it's Test clinic {org.id}. It has been a little while since we saw you: "
        "how are you going? Book at https://clinic.example/book or call us on 02 5550 1234. "
        "Reply STOP to opt out."
    )


def clinic(now: datetime) -> dict[str, list[Any]]:
    """Medium-tier patients reachable in different ways, and some the audience leaves out."""
    people = {
        "m1": ({"name": "Mia Fakeperson", "phone": "+61400000101", "email": "m1@example.org"}, 20),
        "m2": ({"name": "Noah Fakeperson", "phone": "+61400000102", "email": None}, 25),
        "e1": (
            {
                "name": "Eve Fakeperson",
                "phone": "+61400000103",
                "email": "e1@example.org",
                "opt_outs": ["sms"],
                "communication_preferences": ["email"],
            },
            18,
        ),
        "o1": ({"phone": "+61400000104", "opt_outs": ["sms", "email"]}, 20),
        "n1": ({"phone": None, "email": None}, 20),
        "s1": ({"phone": "+61400000106", "email": "s1@example.org"}, 20),
        "h1": ({"phone": "+61400000107"}, 35),  # high: a call, not a check-in
        "l1": ({"phone": "+61400000108"}, 9),  # low: nothing yet
    }
    body: dict[str, list[Any]] = {"patients": [], "appointments": [], "communications": []}
    for pid, (fields, days) in people.items():
        body["patients"].append(drifting(pid, now, days, **fields))
        body["appointments"].append(visit(pid, now, days))
    body["communications"].append(
        outbound("staff-s1", "s1", "sms", (now - timedelta(days=3)).isoformat())
    )
    return body


def _comm(engine: Engine, org_id: str, message_id: str) -> Communication:
    with make_sessionmaker(engine)() as session:
        found = session.scalar(
            select(Communication).where(
                Communication.org_id == org_id, Communication.provider_message_id == message_id
            )
        )
        assert found is not None
        session.expunge(found)
        return found


def test_a_day_of_check_ins_reaches_the_right_patients_once(
    client: TestClient, engine: Engine, org: OrgFixture, other_org: OrgFixture
) -> None:
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), clinic(TUESDAY))
        cid = campaign(client, org, holdout_pct=0)

        # Before the hours: nothing prepared. From 09:00: one batch, however often asked.
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY.replace(hour=8)) == "idle"
        assert batches(client, org, cid) == []
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "idle"
        (prepared,) = batches(client, org, cid)
        assert prepared["state"] == "awaiting_approval"
        assert prepared["counts"] == {"send": 3, "holdout": 0, "skip": 3}

        found = by_patient(batch(client, org, prepared["id"], TUESDAY))
        assert {pid: (m["outcome"], m["channel"], m["reason"]) for pid, m in found.items()} == {
            "m1": ("send", "sms", None),
            "m2": ("send", "sms", None),
            "e1": ("send", "email", None),
            "o1": ("skip", None, "opted_out"),
            "n1": ("skip", None, "no_contact_details"),
            "s1": ("skip", None, "staff_contacted_recently"),
        }
        assert found["m1"]["text"] == sms_text("Mia", org)
        assert found["e1"]["subject"] == "How are you going, Eve?"
        # Most urgent first: m2 is 25 days out, so scores higher than m1 and e1.
        listed = batch(client, org, prepared["id"], TUESDAY)["messages"]
        assert listed[0]["patient_id"] == "m2"

        # Nothing goes before staff approve it; approving is staff's, in this org only.
        assert run(engine, fake, "checkins-send", org.id, TUESDAY) == "idle"
        approve = org.url(f"/checkins/batches/{prepared['id']}/approve")
        with clock.frozen_at(TUESDAY):
            assert client.post(approve, headers=org.headers("viewer")).status_code == 403
            assert client.post(approve, headers=org.headers("ingest")).status_code == 403
            elsewhere = other_org.url(f"/checkins/batches/{prepared['id']}/approve")
            assert client.post(elsewhere, headers=other_org.headers("staff")).status_code == 404
            r = client.post(approve, headers=org.headers("staff"))
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "approved"
            assert client.post(approve, headers=org.headers("staff")).status_code == 409

        sent_at = TUESDAY + timedelta(minutes=5)
        assert run(engine, fake, "checkins-send", org.id, sent_at) == "ran"
        assert sorted((m.channel, m.to) for m in fake.accepted) == [
            ("email", "e1@example.org"),
            ("sms", "+61400000101"),
            ("sms", "+61400000102"),
        ]
        (mia,) = fake.to("+61400000101")
        assert mia.body == sms_text("Mia", org)
        assert mia.sender == CLINIC_SENDER
        assert mia.status_callback == f"http://reengage.test/hooks/v1/orgs/{org.id}/twilio/messages"
        (eve,) = fake.to("e1@example.org")
        assert eve.subject == "How are you going, Eve?" and "Hi Eve," in eve.body
        assert eve.unsubscribe_link  # SendGrid adds its unsubscribe link

        done = batch(client, org, prepared["id"], sent_at)
        assert done["state"] == "done"
        kept = by_patient(done)
        assert kept["m1"]["state"] == "sent" and kept["m1"]["provider_message_id"] == mia.message_id
        assert kept["e1"]["provider_message_id"] == eve.message_id
        assert kept["o1"]["state"] == "skipped" and kept["o1"]["text"] is None

        # Each send is an outbound communication carrying the provider's id, from the
        # moment the provider accepted it: the status callback completes it.
        comm = _comm(engine, org.id, mia.message_id)
        assert (comm.patient_id, comm.channel, comm.direction) == ("m1", "sms", "outbound")
        assert comm.sent_at == sent_at and comm.delivered_at is None
        delivered_at = sent_at + timedelta(seconds=20)
        assert twilio_status(client, org, mia.message_id, "delivered", delivered_at)["applied"] == 1
        assert _comm(engine, org.id, mia.message_id).delivered_at == delivered_at

        # The next day: those checked in wait their 7 days; nobody is messaged twice.
        wednesday = TUESDAY + timedelta(days=1)
        assert run(engine, fake, "checkins-prepare", org.id, wednesday) == "ran"
        second = batches(client, org, cid)[0]
        assert second["id"] != prepared["id"] and second["state"] == "done"
        reasons = {
            p: m["reason"]
            for p, m in by_patient(batch(client, org, second["id"], wednesday)).items()
        }
        assert reasons == {
            "m1": "checked_in_recently",
            "m2": "checked_in_recently",
            "e1": "checked_in_recently",
            "o1": "opted_out",
            "n1": "no_contact_details",
            "s1": "staff_contacted_recently",
        }
        # No sending hours on a Saturday.
        saturday = TUESDAY + timedelta(days=4)
        assert run(engine, fake, "checkins-prepare", org.id, saturday) == "idle"
        assert len(fake.accepted) == 3


def test_provider_errors_are_retried_or_recorded_as_the_providers_document(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    """HTTP 429 and 5xx are tried again with backoff (after a 429, that channel waits for
    the next tick); an invalid number (21211) or an unsubscribed one (21610) is a failure
    recorded at once, not retried; past the last retry, the message has failed."""
    numbers = {f"r{i}": f"+6140000020{i}" for i in range(1, 7)}
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for pid, phone in numbers.items():
        email = "r5@example.org" if pid == "r5" else None
        fields = {"phone": None if pid == "r5" else phone, "email": email}
        body["patients"].append(drifting(pid, TUESDAY, 20, **fields))
        body["appointments"].append(visit(pid, TUESDAY, 20))
    with fake_providers() as fake:
        fake.script = {
            numbers["r1"]: [429],
            numbers["r2"]: [500, 500],
            numbers["r3"]: [INVALID_NUMBER],
            numbers["r4"]: [UNSUBSCRIBED],
            "r5@example.org": [429],
            numbers["r6"]: [500, 503, 500, 502],
        }
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0, approval="automatic")
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        (prepared,) = batches(client, org, cid)
        assert prepared["state"] == "approved"

        at = TUESDAY
        for minutes in (0, 1, 2, 5, 16, 30):
            at = TUESDAY + timedelta(minutes=minutes)
            run(engine, fake, "checkins-send", org.id, at)
        tries = {pid: sum(1 for _, to in fake.requests if to in (phone, f"{pid}@example.org"))
                 for pid, phone in numbers.items()}  # fmt: skip
        assert tries == {"r1": 2, "r2": 3, "r3": 1, "r4": 1, "r5": 2, "r6": 4}
        assert sorted(m.to for m in fake.accepted) == sorted(
            [numbers["r1"], numbers["r2"], "r5@example.org"]
        )
        kept = by_patient(batch(client, org, prepared["id"], at))
        states = {pid: (m["state"], m["attempts"]) for pid, m in kept.items()}
        assert states == {
            "r1": ("sent", 2),
            "r2": ("sent", 3),
            "r3": ("failed", 1),
            "r4": ("failed", 1),
            "r5": ("sent", 2),
            "r6": ("failed", 4),
        }
        assert "21211" in kept["r3"]["error"] and "HTTP 502" in kept["r6"]["error"]
        assert batch(client, org, prepared["id"], at)["state"] == "done"

        # An unreachable number shows later, in Twilio's status callback (30006: landline or
        # unreachable carrier): the communication fails, and nothing is sent again.
        (r1,) = fake.to(numbers["r1"])
        found = twilio_status(client, org, r1.message_id, "undelivered", at, ErrorCode="30006")
        assert found["applied"] == 1
        undelivered = _comm(engine, org.id, r1.message_id)
        assert undelivered.failed_at == at and "30006" in (undelivered.failure_reason or "")
        tried = len(fake.requests)
        assert run(engine, fake, "checkins-send", org.id, at + timedelta(minutes=5)) == "idle"
        assert len(fake.requests) == tried

    with make_sessionmaker(engine)() as session:
        failed = session.scalars(
            select(Communication).where(
                Communication.org_id == org.id, Communication.failed_at.is_not(None)
            )
        ).all()
        # The refused numbers are failed attempts (the list shows them as failed contact),
        # and so is the undelivered one; the one that ran out of retries never reached a
        # number, so is no attempt.
        assert sorted(c.patient_id for c in failed) == ["r1", "r3", "r4"]
        consent = session.scalars(select(ConsentChange).where(ConsentChange.org_id == org.id)).all()
        assert [(c.patient_id, c.channel, c.change, c.source) for c in consent] == [
            ("r4", "sms", "opted_out", "twilio error 21610")
        ]
    with clock.frozen_at(at):
        r = client.get(org.url("/patients/r4"), headers=org.headers())
        assert r.json()["opt_outs"] == ["sms"]
        listed = client.get(
            org.analytics("/patients/prioritized"),
            params={"action_required": "failed_contact"},
            headers=org.headers(),
        )
    assert listed.status_code == 200, listed.text
    assert sorted(p["id"] for p in listed.json()["patients"]) == ["r1", "r3", "r4"]


def test_a_stop_during_the_batch_stops_that_patient_before_their_turn(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    phones = {f"q{i}": f"+6140000030{i}" for i in range(1, 5)}
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for pid, phone in phones.items():
        body["patients"].append(drifting(pid, TUESDAY, 20, phone=phone, email=None))
        body["appointments"].append(visit(pid, TUESDAY, 20))
    sessions = make_sessionmaker(engine)

    def stop_from_q3(channel: str, to: str) -> None:
        """While the first message is in flight, q3 texts STOP to the clinic."""
        if to == phones["q1"]:
            with sessions() as session:
                providers_service.receive_inbound_sms(
                    session, org.id, "SMstop0001", phones["q3"], "STOP", clock.now()
                )
                session.commit()

    with fake_providers() as fake:
        fake.on_request = stop_from_q3
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0, approval="automatic")
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        (prepared,) = batches(client, org, cid)
        kept_before = by_patient(batch(client, org, prepared["id"], TUESDAY))
        assert [kept_before[p]["outcome"] for p in phones] == ["send"] * 4
        assert run(engine, fake, "checkins-send", org.id, TUESDAY) == "ran"
        assert sorted(to for _, to in fake.requests) == sorted(
            [phones["q1"], phones["q2"], phones["q4"]]
        )
        kept = by_patient(batch(client, org, prepared["id"], TUESDAY))
        assert (kept["q3"]["state"], kept["q3"]["reason"]) == ("skipped", "opted_out_since")


def test_sending_keeps_to_the_hours_of_the_org_s_timezone(
    client: TestClient, engine: Engine
) -> None:
    """09:00-17:00 in Sydney: Monday 22:05 UTC is Tuesday 09:05 there. What is approved
    too late to go that day is not sent the next: it was that day's check-in."""
    org = make_org(engine, timezone="Australia/Sydney")
    monday_evening_utc = datetime(2026, 11, 2, 22, 5, tzinfo=UTC)
    body = {
        "patients": [drifting("t1", monday_evening_utc, 20, phone="+61400000401")],
        "appointments": [visit("t1", monday_evening_utc, 20)],
    }
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, monday_evening_utc - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0)
        # 09:05 UTC on Monday is 20:05 in Sydney: outside the hours.
        sydney_evening = datetime(2026, 11, 2, 9, 5, tzinfo=UTC)
        assert run(engine, fake, "checkins-prepare", org.id, sydney_evening) == "idle"
        assert run(engine, fake, "checkins-prepare", org.id, monday_evening_utc) == "ran"
        (prepared,) = batches(client, org, cid)
        assert prepared["day"] == "2026-11-03"
        approve = org.url(f"/checkins/batches/{prepared['id']}/approve")
        # 16:59:30 Sydney is 05:59:30 UTC: approved just in time, but not sent before 17:00.
        closing = datetime(2026, 11, 3, 5, 59, 30, tzinfo=UTC)
        with clock.frozen_at(closing):
            assert client.post(approve, headers=org.headers("staff")).status_code == 200
        assert run(engine, fake, "checkins-send", org.id, closing + timedelta(seconds=30)) == "ran"
        assert fake.requests == []
        kept = by_patient(batch(client, org, prepared["id"], closing))
        assert (kept["t1"]["state"], kept["t1"]["reason"]) == ("skipped", "window_closed")
        assert batches(client, org, cid)[0]["state"] == "done"
        # And a batch approved after the hours is refused, saying why.
        wednesday = datetime(2026, 11, 3, 22, 5, tzinfo=UTC)
        assert run(engine, fake, "checkins-prepare", org.id, wednesday) == "ran"
        late = batches(client, org, cid)[0]
        with clock.frozen_at(wednesday + timedelta(hours=9)):
            r = client.post(
                org.url(f"/checkins/batches/{late['id']}/approve"), headers=org.headers("staff")
            )
        assert r.status_code == 409 and "sending hours are over" in r.text


def test_a_sender_that_died_mid_send_never_sends_twice_and_loses_nothing(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body = {
        "patients": [drifting("d1", TUESDAY, 20, phone="+61400000501")],
        "appointments": [visit("d1", TUESDAY, 20)],
    }
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0, approval="automatic")
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        (prepared,) = batches(client, org, cid)
        with make_sessionmaker(engine)() as session:
            # A sender took it, then died before recording what the provider said.
            assert repository.take(
                session, org.id, prepared["id"], "d1", TUESDAY, TUESDAY + timedelta(minutes=2)
            )
            session.commit()
        assert run(engine, fake, "checkins-send", org.id, TUESDAY + timedelta(minutes=1)) == "idle"
        assert run(engine, fake, "checkins-send", org.id, TUESDAY + timedelta(minutes=3)) == "ran"
        assert fake.requests == []
        with make_sessionmaker(engine)() as session:
            row = session.get(CheckinMessage, (org.id, prepared["id"], "d1"))
            assert row is not None and row.state == "failed"
            assert row.error is not None and "outcome unknown" in row.error

    # One that recorded the provider's acceptance, then died before writing the outreach
    # record: the next pass writes it, with the provider's id and the time it was accepted.
    accepted_at = TUESDAY + timedelta(minutes=4)
    with make_sessionmaker(engine)() as session:
        row = session.get(CheckinMessage, (org.id, prepared["id"], "d1"))
        assert row is not None
        row.state, row.sent_at, row.provider_message_id = "sent", accepted_at, "SMrecovered"
        session.commit()
    assert run(engine, fake, "checkins-send", org.id, TUESDAY + timedelta(minutes=5)) == "ran"
    comm = _comm(engine, org.id, "SMrecovered")
    assert (comm.patient_id, comm.sent_at, comm.direction) == ("d1", accepted_at, "outbound")
    with make_sessionmaker(engine)() as session:
        row = session.get(CheckinMessage, (org.id, prepared["id"], "d1"))
        assert row is not None and row.communication_id == comm.id
    assert run(engine, fake, "checkins-send", org.id, TUESDAY + timedelta(minutes=6)) == "idle"


def test_a_channel_without_sending_settings_is_not_used(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body = {
        "patients": [
            drifting("c1", TUESDAY, 20, phone="+61400000601", email="c1@example.org"),
            drifting("c2", TUESDAY, 20, phone="+61400000602", email=None),
        ],
        "appointments": [visit("c1", TUESDAY, 20), visit("c2", TUESDAY, 20)],
    }
    with fake_providers():
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0)
        with clock.frozen_at(TUESDAY):
            r = client.get(org.url(f"/checkins/campaigns/{cid}/preview"), headers=org.headers())
        assert {m["patient_id"]: m["reason"] for m in r.json()["messages"]} == {
            "c1": "not_configured",
            "c2": "not_configured",
        }
        wire(client, org, sms=False)
        with clock.frozen_at(TUESDAY):
            r = client.get(org.url(f"/checkins/campaigns/{cid}/preview"), headers=org.headers())
        found = {m["patient_id"]: (m["channel"], m["reason"]) for m in r.json()["messages"]}
        # SMS is the natural channel; with only SendGrid set up, c1 gets an email instead.
        assert found == {"c1": ("email", None), "c2": (None, "no_contact_details")}


def test_campaign_settings_are_checked_and_named(client: TestClient, org: OrgFixture) -> None:
    url = org.url("/checkins/campaigns")
    bad = [
        ({"templates": {"sms": {"body": "Hi {firstname}"}}}, "templates.sms.body",
         "unknown placeholder {firstname}"),
        ({"booking_link": "", "clinic_phone": ""}, "body", "set booking_link, clinic_phone"),
        ({"booking_link": "javascript:alert(1)"}, "booking_link", "http:// or https://"),
        ({"clinic_phone": "call us"}, "clinic_phone", "must be a phone number"),
        ({"holdout_pct": 60}, "holdout_pct", "less than or equal to 50"),
        ({"schedule": {"start": "17:00", "end": "09:00"}}, "schedule", "start must be before end"),
        ({"schedule": {"days": ["monday"]}}, "schedule.days[0]", "mon"),
        ({"audience": {"tiers": ["purple"]}}, "audience.tiers[0]", "'critical', 'high'"),
        ({"colour": "blue"}, "colour", "not permitted"),
    ]  # fmt: skip
    for body, field, reason in bad:
        r = client.post(url, json={"clinic_phone": "02 5550 1234"} | body, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
        found = problems(r)
        assert field in found and reason in found[field], (body, found)
    assert client.post(url, json={}, headers=org.headers("staff")).status_code == 403
    r = client.put(
        org.url("/providers/twilio/sending"),
        json={"account_sid": "AC123", "sender": "+61255501234"},
        headers=org.headers(),
    )
    assert r.status_code == 422 and "account_sid" in problems(r)


def test_a_dry_run_shows_the_batch_and_keeps_nothing(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for i, days in enumerate((20, 22, 24), start=1):
        body["patients"].append(drifting(f"y{i}", TUESDAY, days, phone=f"+6140000070{i}"))
        body["appointments"].append(visit(f"y{i}", TUESDAY, days))
    with fake_providers():
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0, daily_cap=2)
        with make_sessionmaker(engine)() as session:
            before = repository.sent_counts(session, org.id, cid)
        with clock.frozen_at(TUESDAY):
            r = client.get(org.url(f"/checkins/campaigns/{cid}/preview"), headers=org.headers())
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["state"] == "dry_run" and found["id"] is None
        # Most urgent first (the most days, the highest score); the cap counts messages.
        assert [(m["patient_id"], m["outcome"], m["reason"]) for m in found["messages"]] == [
            ("y3", "send", None),
            ("y2", "send", None),
            ("y1", "skip", "daily_cap"),
        ]
        assert found["messages"][0]["text"].startswith("Hi Avery, it's Test clinic")
        assert found["reasons"]["daily_cap"].startswith("over the daily cap")
        assert batches(client, org, cid) == []
        with make_sessionmaker(engine)() as session:
            assert repository.sent_counts(session, org.id, cid) == before == {}


def test_sending_logs_ids_never_the_patient_or_the_keys(
    client: TestClient, engine: Engine, org: OrgFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, with the providers' own clients logging what they send: the log has the
    batch and org ids, never the number, the address, the name, the words or the API key."""
    body = {
        "patients": [
            drifting("g1", TUESDAY, 20, name="Gus Inventedname", phone="+61400000911",
                     email="gus.inventedname@example.org", opt_outs=["sms"]),
            drifting("g2", TUESDAY, 20, name="Ida Inventedname", phone="+61400000912", email=None),
        ],
        "appointments": [visit("g1", TUESDAY, 20), visit("g2", TUESDAY, 20)],
    }  # fmt: skip
    root = logging.getLogger()
    level = root.level
    logs.configure("DEBUG")
    try:
        with fake_providers() as fake, caplog.at_level(logging.DEBUG):
            wire(client, org)
            load(client, org, TUESDAY - timedelta(hours=1), body)
            campaign(client, org, holdout_pct=0, approval="automatic")
            assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
            assert run(engine, fake, "checkins-send", org.id, TUESDAY) == "ran"
            assert len(fake.accepted) == 2
    finally:
        root.setLevel(level)
    text = logged_text(caplog.records)
    assert org.id in text and "check-in of batch cib_" in text
    for secret in ("+61400000911", "+61400000912", "gus.inventedname", "Inventedname",
                   "Hi Ida", SENDGRID_KEY, AUTH_TOKEN, "We haven't"):  # fmt: skip
        assert secret not in text, secret


def test_the_org_s_daily_cap_holds_across_its_campaigns(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for i in range(1, 6):
        body["patients"].append(drifting(f"z{i}", TUESDAY, 20, phone=f"+6140000098{i}"))
        body["appointments"].append(visit(f"z{i}", TUESDAY, 20))
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        r = client.patch(
            org.url("/settings"), json={"checkins_daily_cap": 3}, headers=org.headers()
        )
        assert r.status_code == 200, r.text
        first = campaign(client, org, holdout_pct=0, daily_cap=2, audience={"tiers": ["medium"]})
        second = campaign(client, org, holdout_pct=0, audience={"tiers": ["medium"]})
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        counts = {cid: batches(client, org, cid)[0]["counts"] for cid in (first, second)}
    # The first takes its own cap, 2; the second the org's last one; nobody twice.
    assert counts[first] == {"send": 2, "holdout": 0, "skip": 3}
    assert counts[second] == {"send": 1, "holdout": 0, "skip": 4}


def test_a_patient_held_out_by_one_campaign_is_messaged_by_none(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for i in range(40):
        body["patients"].append(drifting(f"w{i:02d}", TUESDAY, 20, phone=f"+614000010{i:02d}"))
        body["appointments"].append(visit(f"w{i:02d}", TUESDAY, 20))
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        first = campaign(client, org, holdout_pct=50, name="First")
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        (prepared,) = batches(client, org, first)
        held = {p for p, m in by_patient(batch(client, org, prepared["id"], TUESDAY)).items()
                if m["outcome"] == "holdout"}  # fmt: skip
        assert 5 < len(held) < 35
        # The day's batch prepared and waiting: its preview shows the same batch again.
        with clock.frozen_at(TUESDAY):
            r = client.get(org.url(f"/checkins/campaigns/{first}/preview"), headers=org.headers())
        assert r.json()["counts"] == prepared["counts"]
        # A second campaign leaves the first one's comparison group alone.
        second = campaign(client, org, holdout_pct=0, name="Second", audience={"tiers": ["medium"]})
        with clock.frozen_at(TUESDAY):
            r = client.get(org.url(f"/checkins/campaigns/{second}/preview"), headers=org.headers())
        reasons = {m["patient_id"]: m["reason"] for m in r.json()["messages"]}
        assert {p for p, why in reasons.items() if why == "held_out_elsewhere"} == held
        assert {why for p, why in reasons.items() if p not in held} == {"checked_in_recently"}


def test_two_workers_preparing_at_once_make_one_batch(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    """As two ``reengage worker`` processes would: each its own connection, at the same
    instant; the org's write lock and the day's unique batch leave one."""
    body = {
        "patients": [drifting("x1", TUESDAY, 20, phone="+61400000991")],
        "appointments": [visit("x1", TUESDAY, 20)],
    }
    with fake_providers():
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        cid = campaign(client, org, holdout_pct=0)
    sessions = make_sessionmaker(engine)
    start = threading.Barrier(2)

    def prepare() -> list[str]:
        with sessions() as session:
            start.wait()
            made = checkins_service.prepare(session, org.id, TUESDAY)
            session.commit()
            return made

    with ThreadPoolExecutor(2) as pool:
        made = [f.result() for f in [pool.submit(prepare), pool.submit(prepare)]]
    assert sorted(len(m) for m in made) == [0, 1]
    assert [b["id"] for b in batches(client, org, cid)] == [m for found in made for m in found]
