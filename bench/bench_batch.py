"""Fill an empty org through ``POST /batch``, as a new integrator does: consecutive batches
of 10,000 records, each timed, on a fresh database (PostgreSQL by default, where planner
statistics go stale while an org grows: these machines run it with autovacuum off).

    .venv/bin/python bench/bench_batch.py                              # 10 x 10,000 patients
    .venv/bin/python bench/bench_batch.py --batches 6 --databases sqlite,postgresql
    .venv/bin/python bench/bench_batch.py --with-appointments          # + one visit each

Each batch's seconds and records/s are printed, then the last batch's time against the
first's. Results in bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from reengage.app import create_app
from reengage.auth import service as auth_service
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.orgs import service as orgs_service

sys.path.insert(0, __file__.rpartition("/")[0])
from bench_demo import PG_ADMIN_URL, postgres_url, server_version, sqlite_url

START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def batch(number: int, size: int, appointments: bool) -> dict[str, list[dict[str, Any]]]:
    """``size`` fake patients (and one completed visit each), ids unique across batches."""
    patients, visits = [], []
    for i in range(size):
        n = number * size + i
        registered = START + timedelta(minutes=n)
        patients.append(
            {
                "id": f"p{n:07d}",
                "name": f"Fake Person {n}",
                "phone": f"+614{n % 100_000_000:08d}",
                "status": "active",
                "registered_at": registered.isoformat(),
            }
        )
        if appointments:
            visits.append(
                {
                    "id": f"a{n:07d}",
                    "patient_id": f"p{n:07d}",
                    "starts_at": (registered + timedelta(days=3)).isoformat(),
                    "booked_at": registered.isoformat(),
                    "status": "completed",
                }
            )
    half = size // 2 if appointments else size
    out: dict[str, list[dict[str, Any]]] = {"patients": patients[:half]}
    if appointments:
        out["appointments"] = visits[:half]
    return out


def run(url: str, batches: int, size: int, appointments: bool) -> list[float]:
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, "org_batch", "Batch clinic", "Australia/Sydney")
        _, key = auth_service.create_key(session, "org_batch", "ingest")
        session.commit()
    app = create_app(Settings(database_url=url), engine)
    seconds = []
    with TestClient(app) as client:
        for number in range(batches):
            body = batch(number, size, appointments)
            records = sum(len(v) for v in body.values())
            started = time.perf_counter()
            r = client.post(
                "/api/v1/orgs/org_batch/batch",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            took = time.perf_counter() - started
            assert r.status_code == 200, r.text[:500]
            seconds.append(took)
            rate = records / took
            print(f"  batch {number + 1:>2}: {records:,} records {took:7.2f} s {rate:9,.0f}/s")
            sys.stdout.flush()
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--size", type=int, default=10_000, help="records per batch")
    parser.add_argument("--with-appointments", action="store_true")
    args = parser.parse_args()
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        urls = sqlite_url() if database == "sqlite" else postgres_url(PG_ADMIN_URL)
        with urls as url:
            print(f"{database} ({server_version(url)}): {args.batches} x {args.size:,}")
            seconds = run(url, args.batches, args.size, args.with_appointments)
            print(f"  last / first: {seconds[-1] / seconds[0]:.2f}x")


if __name__ == "__main__":
    main()
