"""What the scheduler's jobs buy the user (issue #22), over HTTP against ``reengage serve``:

1. **The day's first request.** Without the midnight job, the first analytics request of a
   new day in the clinic's timezone computes where every patient stands; with
   ``standings-today`` run just after local midnight, it is as fast as the ones after it.
   Measured on two consecutive days of the generated clinic: day 1's first request with no
   job (as before), day 2's first request after the job, and the request after each.
2. **PATCH /settings** changing a tier threshold (which every derived row depends on):
   before, the request rebuilt the org's derived rows; now it answers at once, and
   ``derived-rebuild`` rebuilds in the background. Measured: the PATCH, a risk-metrics
   request straight after it (answered from the histories meanwhile), the job, and a
   request after it.
3. **Judging every alert rule** (``alerts-evaluate``) for the whole org: its time.

    .venv/bin/python bench/bench_jobs.py --sizes M --databases postgresql,sqlite
    .venv/bin/python bench/bench_jobs.py --sizes L --databases postgresql --skip-patch

Runs against the code it is run with: to measure a previous commit, check it out elsewhere
and run its copy of this file with ``PYTHONPATH=<that checkout>/src`` (the jobs' parts are
skipped where the commit has no ``reengage.jobs``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reengage import clock
from reengage.auth import service as auth_service
from reengage.db.engine import make_engine, make_sessionmaker
from run import (
    ORG,
    fresh_database,
    prepare,
    say,
    settle,
    size_of,
)
from run import Server as RunServer

try:
    from reengage.jobs import catalog
    from reengage.jobs import process as job_process
except ImportError:  # a commit before the scheduler
    catalog = None  # type: ignore[assignment]

# The generation ends 2026-11-24 17:00 in Sydney (06:00Z). Day 1 is the 25th there, day 2
# the 26th; a first request comes at 08:00, the midnight job at 00:01.
DAY1_FIRST = "2026-11-24T21:00:00Z"
DAY1_NEXT = "2026-11-24T21:01:00Z"
DAY2_MIDNIGHT = datetime(2026, 11, 25, 13, 1, tzinfo=UTC)
DAY2_FIRST = "2026-11-25T21:00:00Z"
DAY2_NEXT = "2026-11-25T21:01:00Z"
WARM = "2026-11-24T06:00:00Z"


class Server(RunServer):
    def timed(self, method: str, path: str, body: bytes | None = None) -> float:
        started = time.perf_counter()
        status, answer = self.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
        return (time.perf_counter() - started) * 1000


def metrics(as_of: str) -> str:
    return f"/api/v1/reengagement/{ORG}/risk-metrics?as_of={as_of}"


def scheduler(url: str) -> Any:
    from reengage.config import Settings

    settings = Settings(database_url=url, scheduler="off")
    return job_process.scheduler(settings, make_engine(url), rebuild_workers=0, orgs=[ORG])


def run_job(found: Any, name: str, at: datetime) -> float:
    started = time.perf_counter()
    with clock.frozen_at(at):
        ran = found.run_job(catalog.BY_NAME[name], ORG)
    if ran.outcome != "ran":
        raise RuntimeError(f"{name}: {ran.outcome}")
    return (time.perf_counter() - started) * 1000


def admin_key(url: str) -> str:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        _, key = auth_service.create_key(session, ORG, "admin", "bench")
        session.commit()
    engine.dispose()
    return key


def one(kind: str, size: str, args: argparse.Namespace) -> dict[str, Any]:
    patients, options = size_of(size)
    out: dict[str, Any] = {"database": kind, "size": size, "patients": patients}
    with fresh_database(kind, args.admin_url, keep=False) as url:
        say(f"{kind} {size}: loading {patients:,} patients")
        key, counts, seconds, _ = prepare(url, patients, options)
        out["records"] = sum(counts.values())
        out["load_s"] = round(seconds, 1)
        settle(url)
        admin = admin_key(url)
        # The jobs run here, at the instants chosen, not in the server's own thread.
        os.environ["REENGAGE_SCHEDULER"] = "off"
        log = Path(tempfile.mkdtemp(prefix="reengage-bench-jobs-")) / "server.log"
        server = Server(url, key, log)
        try:
            server.timed("GET", metrics(WARM))
            say(f"{kind} {size}: the day's first request, without and with the midnight job")
            out["day1_first_ms"] = server.timed("GET", metrics(DAY1_FIRST))
            out["day1_next_ms"] = server.timed("GET", metrics(DAY1_NEXT))
            if catalog is not None:
                jobs = scheduler(url)
                out["midnight_job_ms"] = run_job(jobs, "standings-today", DAY2_MIDNIGHT)
                out["day2_first_ms"] = server.timed("GET", metrics(DAY2_FIRST))
                out["day2_next_ms"] = server.timed("GET", metrics(DAY2_NEXT))
                say(f"{kind} {size}: judging every alert rule")
                out["evaluate_ms"] = run_job(
                    jobs, "alerts-evaluate", DAY2_MIDNIGHT + timedelta(hours=8)
                )
            if not args.skip_patch:
                say(f"{kind} {size}: PATCH /settings")
                server.headers["Authorization"] = f"Bearer {admin}"
                body = b'{"tier_thresholds": {"low": 8}}'
                out["patch_ms"] = server.timed("PATCH", f"/api/v1/orgs/{ORG}/settings", body)
                server.headers["Authorization"] = f"Bearer {key}"
                out["after_patch_ms"] = server.timed("GET", metrics(DAY2_NEXT))
                if catalog is not None:
                    out["rebuild_job_ms"] = run_job(
                        jobs, "derived-rebuild", DAY2_MIDNIGHT + timedelta(hours=8)
                    )
                    server.timed("GET", metrics(DAY2_NEXT))  # the first after the rebuild
                out["after_rebuild_ms"] = server.timed("GET", metrics(DAY2_NEXT))
            if catalog is not None:
                jobs.locks.close()
        finally:
            server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="M")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-patch", action="store_true")
    args = parser.parse_args()
    rows = [
        one(kind, size, args)
        for size in args.sizes.split(",")
        for kind in args.databases.split(",")
    ]
    keys = sorted({k for r in rows for k in r})
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [f"{r[k]:.0f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
