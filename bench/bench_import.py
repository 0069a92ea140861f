"""Import a generated clinic history from CSV into an empty org, end to end, as a user does:
``reengage import csv ORG patients.csv appointments.csv communications.csv followups.csv``
with the built-in ``reengage-*`` profiles, in a child process (so its peak memory is its
own), on a fresh database built by the real migrations (PostgreSQL: a new database on a
server with autovacuum off; SQLite: a temporary file).

    .venv/bin/python bench/bench_import.py                               # 100,000 patients
    .venv/bin/python bench/bench_import.py --patients 20000 --databases sqlite

The clinic is the demo generator's (seed 1, as of 2026-11-24T06:00Z, Australia/Sydney):
100,000 patients are about 770,000 records. The files are written once per run into a
temporary folder; their writing is not timed. Prints, per database: wall seconds of the
command, records/s, the peak resident memory of the import process (the largest of it and
its derived-state workers), and the import's own summary. Results in bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import generate
from reengage.orgs import service as orgs_service

sys.path.insert(0, __file__.rpartition("/")[0])
from bench_demo import AS_OF, PG_ADMIN_URL, SEED, TIMEZONE, postgres_url, server_version, sqlite_url

ORG = "org_import"
KINDS = ("patients", "appointments", "communications", "followups")
# Columns of each file: the records API's fields, as the reengage-* profiles read them.
COLUMNS = {
    "patients": [
        "id", "name", "phone", "email", "status", "registered_at", "communication_preferences",
        "opt_outs", "health_conditions", "referral_source", "last_treatment_outcome",
    ],
    "appointments": ["id", "patient_id", "starts_at", "status", "booked_at", "type",
                     "practitioner"],
    "communications": [
        "id", "patient_id", "channel", "direction", "sent_at", "delivered_at", "opened_at",
        "responded_at", "connected_at", "failed_at", "failure_reason", "provider_message_id",
    ],
    "followups": ["id", "patient_id", "due_at", "completed_at", "reason"],
}  # fmt: skip


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def write_files(folder: Path, patients: int) -> dict[str, int]:
    """The generated clinic as four CSV files; the rows written per kind."""
    counts = dict.fromkeys(KINDS, 0)
    files = {
        kind: (folder / f"{kind}.csv").open("w", newline="", encoding="utf-8") for kind in KINDS
    }
    try:
        writers = {kind: csv.writer(f) for kind, f in files.items()}
        for kind in KINDS:
            writers[kind].writerow(COLUMNS[kind])
        for history in generate(ORG, patients, SEED, AS_OF, TIMEZONE):
            for kind in KINDS:
                rows: Iterator[dict[str, Any]] = (
                    iter([history.patient]) if kind == "patients" else iter(getattr(history, kind))
                )
                for row in rows:
                    writers[kind].writerow([cell(row.get(name)) for name in COLUMNS[kind]])
                    counts[kind] += 1
    finally:
        for f in files.values():
            f.close()
    return counts


def prepare(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, ORG, "Import clinic", TIMEZONE)
        session.commit()
    engine.dispose()


def run(url: str, folder: Path) -> tuple[float, float, str]:
    """Seconds, peak MiB and output of ``reengage import csv`` of the four files."""
    command = [str(Path(sys.executable).parent / "reengage"), "import", "csv", ORG]
    command += [str(folder / f"{kind}.csv") for kind in KINDS]
    for kind in KINDS:
        command += ["--profile", f"reengage-{kind}"]
    env = {**os.environ, "REENGAGE_DATABASE_URL": url, "COLUMNS": "100"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        # wait4: this child's own resource use, its waited-for workers included; ru_maxrss
        # is the largest peak among them (KiB on Linux).
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"import failed:\n{stdout}\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--patients", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reengage-bench-import-") as name:
        folder = Path(name)
        counts = write_files(folder, args.patients)
        records = sum(counts.values())
        size = sum((folder / f"{kind}.csv").stat().st_size for kind in KINDS)
        print(f"{args.patients:,} patients: {records:,} records, {size / 2**20:,.0f} MiB of CSV")
        print("  " + ", ".join(f"{kind} {n:,}" for kind, n in counts.items()))
        for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
            urls = sqlite_url() if database == "sqlite" else postgres_url(PG_ADMIN_URL)
            with urls as url:
                prepare(url)
                seconds, peak, output = run(url, folder)
                print(f"{database} ({server_version(url)}):")
                print(
                    f"  {seconds:.1f} s, {records / seconds:,.0f} records/s, peak {peak:,.0f} MiB"
                )
                for line in output.splitlines()[:6]:
                    print(f"  | {line}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
