"""Time the front desk's morning on the quickstart's demo clinic: each dashboard page and the
API answers behind it, on a database just filled (the first request, which may bring the
derived state up to date) and then warm (the median and the slowest of the rest).

    .venv/bin/python bench/bench_pages.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/bench_pages.py --databases sqlite --repeat 30

A path the checked-out commit does not serve (404, or 422 for a parameter it lacks) is
reported as such, so the same script times an older commit too, on the same data:

    .venv/bin/python bench/bench_pages.py --prepare /tmp/pages.db    # load once
    .venv/bin/python bench/bench_pages.py --url sqlite:////tmp/pages.db
    PYTHONPATH=<worktree of the old commit>/src .venv/bin/python bench/bench_pages.py \
        --url sqlite:////tmp/pages.db

Results in bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from reengage import clock, quickstart
from reengage.app import create_app
from reengage.auth import service as auth_service
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import load_demo
from reengage.orgs import service as orgs_service

sys.path.insert(0, __file__.rpartition("/")[0])
from bench_demo import PG_ADMIN_URL, postgres_url, sqlite_url

AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # the screenshots' instant: 17:00 in Sydney
ORG = quickstart.DEMO_ORG
PAGES = (
    "/",
    "/patients",
    "/patients?target=this_week",
    "/patients?action_priority=1",
    "/patients/pat-000907",
    "/performance",
    "/trends",
    "/trends?period=1y",
)
API = (
    "overview",
    "kpis",
    "risk-metrics",
    "patients/prioritized",
    "patients/prioritized?target=this_week",
)


@contextmanager
def demo(database: str, patients: int) -> Iterator[str]:
    urls = sqlite_url() if database == "sqlite" else postgres_url(PG_ADMIN_URL)
    with urls as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            orgs_service.create_org(session, ORG, quickstart.DEMO_NAME, quickstart.DEMO_TIMEZONE)
            session.commit()
        load_demo(engine, ORG, patients, quickstart.DEMO_SEED, AS_OF)
        engine.dispose()
        yield url


def timings(
    client: TestClient, path: str, headers: dict[str, str], repeat: int, label: str = ""
) -> str:
    label = label or path
    started = time.perf_counter()
    first = client.get(path, headers=headers)
    cold = (time.perf_counter() - started) * 1000
    if first.status_code in (404, 422):  # an older commit: no such path or parameter
        return f"{label:<44}{'(not served)':>12}"
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        warm.append((time.perf_counter() - started) * 1000)
    return f"{label:<44}{cold:>12.1f}{statistics.median(warm):>12.1f}{max(warm):>12.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--patients", type=int, default=quickstart.DEMO_PATIENTS)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--prepare", metavar="PATH", help="only load the demo into this SQLite file"
    )
    parser.add_argument("--url", help="time this database, already loaded (by --prepare)")
    args = parser.parse_args()
    if args.prepare:
        url = f"sqlite:///{args.prepare}"
        load_into(url, args.patients)
        print(url)
        return
    if args.url:
        with clock.frozen_at(AS_OF):
            time_pages(args.url, "given", args.patients, args.repeat)
        return
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        with demo(database, args.patients) as url, clock.frozen_at(AS_OF):
            time_pages(url, database, args.patients, args.repeat)


def load_into(url: str, patients: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, ORG, quickstart.DEMO_NAME, quickstart.DEMO_TIMEZONE)
        session.commit()
    load_demo(engine, ORG, patients, quickstart.DEMO_SEED, AS_OF)
    engine.dispose()


def time_pages(url: str, database: str, patients: int, repeat: int) -> None:
    """Sign in as a new admin key's user, then time every page and answer."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        _, key = auth_service.create_key(session, ORG, "admin")
        session.commit()
    app = create_app(Settings(database_url=url), engine)
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/sign-in").text
        token = re.search(r'name="sign_in_token" value="([^"]+)"', form)
        assert token is not None
        r = client.post("/sign-in", data={"api_key": key, "next": "/", "sign_in_token": token[1]})
        assert r.status_code == 303, r.text
        print(f"\n{database}, {patients:,} patients; milliseconds")
        print(f"{'path':<44}{'first':>12}{'median':>12}{'slowest':>12}")
        for page in PAGES:
            print(timings(client, page, {}, repeat))
        bearer = {"Authorization": f"Bearer {key}"}
        for path in API:
            full = f"/api/v1/reengagement/{ORG}/{path}"
            print(timings(client, full, bearer, repeat, f"api/{path}"))
        sys.stdout.flush()
    engine.dispose()


if __name__ == "__main__":
    main()
