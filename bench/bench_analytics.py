"""Time the analytics endpoints over HTTP on a generated clinic: risk-metrics and the
prioritized list (first page, filtered, and at an as_of in the past, which takes the
straight path from events), performance and trends.

    .venv/bin/python bench/bench_analytics.py --patients 100000 --databases postgresql
    .venv/bin/python bench/bench_analytics.py --patients 10000 --only performance,trends

Each database is fresh (real migrations), loaded with ``load_demo`` (seed 1, as of
2026-11-24T06:00Z, Australia/Sydney); the server is uvicorn on a loopback port in this
process. Every request is timed after 3 warm-up requests; p50 and p95 are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_demo import AS_OF, PG_ADMIN_URL, SEED, TIMEZONE, postgres_url, sqlite_url
from reengage import clock
from reengage.app import create_app
from reengage.auth import service as auth_service
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import load_demo
from reengage.orgs import service as orgs_service

ORG = "org_bench"
QUERIES = {
    "risk-metrics": "/risk-metrics?as_of=2026-11-24T06:00:00Z",
    "list, first page": "/patients/prioritized?as_of=2026-11-24T06:00:00Z",
    "list, filtered": "/patients/prioritized?as_of=2026-11-24T06:00:00Z&risk_level=high"
    "&action_required=no_future_appt&sort_by=next_action_date&limit=100&offset=100",
    "risk-metrics, as_of 30 days back": "/risk-metrics?as_of=2026-10-25",
    "performance, 30 days": "/performance?as_of=2026-11-24T06:00:00Z",
    "trends, 30 days": "/trends?as_of=2026-11-24T06:00:00Z&period=30d",
    "trends, 1 year": "/trends?as_of=2026-11-24T06:00:00Z&period=1y",
}


@contextmanager
def serve(url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def measure(base: str, key: str, path: str, runs: int) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{base}/api/v1/reengagement/{ORG}{path}"
    with httpx.Client(timeout=120) as client:
        for _ in range(3):
            client.get(url, headers=headers).raise_for_status()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.get(url, headers=headers).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--only", default="", help="comma list of words; run the requests whose name has one"
    )
    args = parser.parse_args()
    for database in args.databases.split(","):
        opener = sqlite_url() if database == "sqlite" else postgres_url(PG_ADMIN_URL)
        with opener as url:
            migrate.upgrade(url)
            engine = make_engine(url)
            with clock.frozen_at(AS_OF), make_sessionmaker(engine)() as session:
                orgs_service.create_org(session, ORG, "Bench clinic", TIMEZONE)
                _, key = auth_service.create_key(session, ORG, "staff")
                session.commit()
            started = time.perf_counter()
            load_demo(engine, ORG, args.patients, SEED, AS_OF)
            print(
                f"{database}: loaded {args.patients:,} patients in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            engine.dispose()
            with serve(url) as base:
                words = [w for w in args.only.split(",") if w]
                for name, path in QUERIES.items():
                    if words and not any(w in name for w in words):
                        continue
                    p50, p95 = measure(base, key, path, args.runs)
                    print(
                        f"{database}\t{args.patients}\t{name}\tp50 {p50:.0f} ms\tp95 {p95:.0f} ms",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
