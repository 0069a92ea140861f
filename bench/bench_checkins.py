"""Check-ins: how long a day's batch takes to prepare and to send, through a local server
speaking Twilio's and SendGrid's APIs (``tests/checkins/fake_providers.py``), on a fresh
database; and how often the uplift's 95% interval holds the true uplift of simulated
clinics (the rules alone, no database).

    .venv/bin/python bench/bench_checkins.py
    .venv/bin/python bench/bench_checkins.py --databases sqlite,postgresql --patients 2000
    .venv/bin/python bench/bench_checkins.py --coverage 4000 --databases ''

The org: N medium-tier patients (their last visit 14 to 28 days ago), half reachable by SMS
and half by email; one campaign, automatic approval, 10% held out, no cap. Results in
bench/README.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.checkins.fake_providers import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    SENDGRID_KEY,
    fake_providers,
)

from bench_demo import PG_ADMIN_URL, postgres_url, server_version, sqlite_url  # noqa: E402
from reengage import clock  # noqa: E402
from reengage.alerts.deliveries import Outbound  # noqa: E402
from reengage.app import create_app  # noqa: E402
from reengage.auth import service as auth_service  # noqa: E402
from reengage.checkins.service import SendingConfig  # noqa: E402
from reengage.config import Settings  # noqa: E402
from reengage.db import migrate  # noqa: E402
from reengage.db.engine import make_engine, make_sessionmaker  # noqa: E402
from reengage.domain import checkins as rules  # noqa: E402
from reengage.jobs.catalog import BY_NAME, JOBS  # noqa: E402
from reengage.jobs.scheduler import Context, Scheduler  # noqa: E402
from reengage.orgs import service as orgs_service  # noqa: E402

ORG = "org_checkins"
NOW = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)  # a Tuesday, inside the default hours


def clinic(n: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(1)
    patients, visits = [], []
    for i in range(n):
        days = rng.randint(14, 28)
        sms = i % 2 == 0
        patients.append(
            {"id": f"p{i}", "name": f"Fake Person{i}", "status": "active",
             "registered_at": (NOW - timedelta(days=400)).isoformat(),
             "phone": f"+614{i:08d}" if sms else None,
             "email": None if sms else f"fake{i}@example.com"}
        )  # fmt: skip
        visits.append(
            {"id": f"v{i}", "patient_id": f"p{i}", "status": "completed",
             "starts_at": (NOW - timedelta(days=days)).isoformat()}
        )  # fmt: skip
    return {"patients": patients, "appointments": visits}


def run_database(kind: str, url: str, n: int) -> dict[str, Any]:
    migrate.upgrade(url)
    engine = make_engine(url)
    key = Fernet.generate_key().decode()
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, ORG, "Bench clinic", "UTC")
        _, admin = auth_service.create_key(session, ORG, "admin")
        session.commit()
    app = create_app(Settings(database_url=url, secret_key=key, scheduler="off"), engine=engine)
    headers = {"Authorization": f"Bearer {admin}"}
    out: dict[str, Any] = {"database": kind, "patients": n}
    with TestClient(app) as client, fake_providers() as fake:
        api = f"/api/v1/orgs/{ORG}"
        for path, body in (
            ("/providers/twilio", {"secret": AUTH_TOKEN}),
            ("/providers/twilio/sending", {"account_sid": ACCOUNT_SID, "sender": "+61255501234"}),
            ("/providers/sendgrid/sending", {"api_key": SENDGRID_KEY, "from_email": "a@b.example"}),
        ):
            assert client.put(api + path, json=body, headers=headers).status_code == 200
        with clock.frozen_at(NOW - timedelta(hours=1)):
            data = clinic(n)
            for start in range(0, n, 4000):
                part = {k: v[start : start + 4000] for k, v in data.items()}
                r = client.post(api + "/batch", json=part, headers=headers)
                assert r.status_code == 200, r.text[:300]
        r = client.patch(api + "/settings", json={"checkins_daily_cap": 100_000}, headers=headers)
        assert r.status_code == 200, r.text
        r = client.post(
            api + "/checkins/campaigns",
            json={"booking_link": "https://b.example", "clinic_phone": "02 5550 1234",
                  "approval": "automatic", "daily_cap": 10_000},
            headers=headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        context = Context(
            sessions=make_sessionmaker(engine),
            outbound=Outbound(key, None),
            base_url="",
            sending=SendingConfig(key, fake.url, fake.url, "http://reengage.test", 10.0),
        )
        scheduler = Scheduler(context, engine, JOBS, tick=1.0)
        try:
            with clock.frozen_at(NOW):
                started = time.perf_counter()
                assert scheduler.run_job(BY_NAME["checkins-prepare"], ORG).outcome == "ran"
                out["prepare_s"] = time.perf_counter() - started
                started = time.perf_counter()
                assert scheduler.run_job(BY_NAME["checkins-send"], ORG).outcome == "ran"
                out["send_s"] = time.perf_counter() - started
        finally:
            scheduler.locks.close()
        out["sent"] = len(fake.accepted)
        out["sms"] = sum(1 for m in fake.accepted if m.channel == "sms")
    engine.dispose()
    return out


def coverage(trials: int, seed: int = 7) -> dict[str, Any]:
    """Simulated clinics of 200 to 3,000 selected patients, 10% held out, base booking rate
    10-40% and a true uplift of 0-15 points: how often the interval holds it."""
    rng = random.Random(seed)
    held = 0
    enough = 0
    widths = []
    for _ in range(trials):
        n = rng.randint(200, 3000)
        base, lift = rng.uniform(0.10, 0.40), rng.uniform(0.0, 0.15)
        holdout = sum(1 for _ in range(n) if rng.random() < 0.10)
        messaged = n - holdout
        booked_m = sum(1 for _ in range(messaged) if rng.random() < base + lift)
        booked_h = sum(1 for _ in range(holdout) if rng.random() < base)
        u = rules.uplift(rules.Group(messaged, booked_m), rules.Group(holdout, booked_h))
        if not u.enough:
            continue
        enough += 1
        assert u.low is not None and u.high is not None
        widths.append(u.high - u.low)
        held += u.low <= lift * 100 <= u.high
    widths.sort()
    return {
        "trials": trials,
        "measured": enough,
        "coverage_pct": round(held / enough * 100, 2) if enough else None,
        "median_width_points": round(widths[len(widths) // 2], 1) if widths else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--coverage", type=int, default=2000)
    args = parser.parse_args()
    if args.coverage:
        print("uplift interval coverage:", coverage(args.coverage))
    for kind in [k for k in args.databases.split(",") if k]:
        opened = sqlite_url() if kind == "sqlite" else postgres_url(PG_ADMIN_URL)
        with opened as url:
            if kind == "postgresql":
                print("PostgreSQL", server_version(url))
            found = run_database(kind, url, args.patients)
        sent = found["sent"]
        print(
            f"{kind}: {found['patients']:,} patients; prepare {found['prepare_s']:.2f} s; "
            f"send {sent:,} ({found['sms']:,} SMS) in {found['send_s']:.2f} s = "
            f"{sent / found['send_s']:.0f} messages/s"
        )


if __name__ == "__main__":
    main()
