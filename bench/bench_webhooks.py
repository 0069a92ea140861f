"""Time SendGrid Event Webhook batches of 1,000 events on a fresh database (PostgreSQL by
default): the answer must come within SendGrid's limits (target: 2 s), signature checked.

    .venv/bin/python bench/bench_webhooks.py
    .venv/bin/python bench/bench_webhooks.py --databases sqlite,postgresql --events 1000

The org holds N patients with one email each (sent through SendGrid, its X-Message-Id as
provider_message_id). Batches, in order: 1,000 `delivered` events for 1,000 messages; the
same batch again (all replays); 1,000 mixed events (delivered, open, click, bounce) for 250
messages; 1,000 events for unknown messages (kept, waiting). Results in bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from reengage.app import create_app
from reengage.auth import service as auth_service
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.orgs import service as orgs_service

sys.path.insert(0, __file__.rpartition("/")[0])
from bench_demo import PG_ADMIN_URL, postgres_url, server_version, sqlite_url

ORG = "org_hooks"
SENT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def clinic(n: int) -> dict[str, list[dict[str, Any]]]:
    patients = [
        {"id": f"p{i}", "name": f"Fake Person {i}", "status": "active",
         "email": f"fake{i}@example.com"}
        for i in range(n)
    ]  # fmt: skip
    emails = [
        {"id": f"m{i}", "patient_id": f"p{i}", "channel": "email", "direction": "outbound",
         "sent_at": (SENT + timedelta(seconds=i)).isoformat(), "provider_message_id": f"sg{i}"}
        for i in range(n)
    ]  # fmt: skip
    return {"patients": patients, "communications": emails}


def batches(n: int) -> list[tuple[str, list[dict[str, Any]]]]:
    at = int((SENT + timedelta(hours=1)).timestamp())
    delivered = [
        {"event": "delivered", "sg_event_id": f"d{i}", "sg_message_id": f"sg{i}.filter0",
         "timestamp": at, "email": f"fake{i}@example.com"}
        for i in range(n)
    ]  # fmt: skip
    kinds = ["delivered", "open", "click", "bounce"]
    mixed = [
        {"event": kinds[i % 4], "sg_event_id": f"x{i}", "sg_message_id": f"sg{i // 4}.f",
         "timestamp": at + i, "status": "5.1.1"}
        for i in range(n)
    ]  # fmt: skip
    unknown = [
        {"event": "delivered", "sg_event_id": f"u{i}", "sg_message_id": f"nobody{i}.f",
         "timestamp": at}
        for i in range(n)
    ]  # fmt: skip
    return [
        ("1,000 delivered", delivered),
        ("the same again (replays)", delivered),
        ("1,000 mixed for 250 messages", mixed),
        ("1,000 for unknown messages", unknown),
    ]


def run(url: str, events: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, ORG, "Hooks clinic", "Australia/Sydney")
        _, key = auth_service.create_key(session, ORG, "admin")
        session.commit()
    app = create_app(Settings(database_url=url, secret_key=Fernet.generate_key().decode()), engine)
    signing = ec.generate_private_key(ec.SECP256R1())
    public = signing.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        r = client.put(
            f"/api/v1/orgs/{ORG}/providers/sendgrid",
            json={"secret": base64.b64encode(public).decode()},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        r = client.post(f"/api/v1/orgs/{ORG}/batch", json=clinic(events), headers=auth)
        assert r.status_code == 200, r.text
        for label, batch in batches(events):
            body = json.dumps(batch)
            stamp = str(int(time.time()))
            signature = signing.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
            headers = {
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            }
            started = time.perf_counter()
            r = client.post(f"/hooks/v1/orgs/{ORG}/sendgrid", content=body, headers=headers)
            took = time.perf_counter() - started
            assert r.status_code == 200, r.text
            print(f"  {label:<32} {took:6.2f} s  {r.json()}")
            sys.stdout.flush()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        urls = sqlite_url() if database == "sqlite" else postgres_url(PG_ADMIN_URL)
        with urls as url:
            print(f"{database} ({server_version(url)}): batches of {args.events:,} events")
            run(url, args.events)


if __name__ == "__main__":
    main()
