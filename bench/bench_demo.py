"""Time ``load_demo`` on SQLite and PostgreSQL, so "100,000 patients is practical" stays true.

Each run gets a fresh database built by the real migrations: a temporary SQLite file, or a
temporary PostgreSQL database created on the admin URL and dropped afterwards.

    .venv/bin/python bench/bench_demo.py                       # 10k and 100k, both databases
    .venv/bin/python bench/bench_demo.py --sizes 10000 --databases sqlite

Results and the machine they came from are recorded in bench/README.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import generate, load_demo
from reengage.orgs import service as orgs_service

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Fixed, so every run loads the same clinic and timings compare like with like.
AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
SEED = 1
TIMEZONE = "Australia/Sydney"


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="reengage-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    name = f"reengage_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return f"SQLite {conn.exec_driver_sql('select sqlite_version()').scalar()}"
            return str(conn.exec_driver_sql("show server_version").scalar()).join(
                ("PostgreSQL ", "")
            )
    finally:
        engine.dispose()


def run(url: str, patients: int) -> tuple[int, float]:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            orgs_service.create_org(session, "org_bench", "Bench clinic", TIMEZONE)
            session.commit()
        summary = load_demo(engine, "org_bench", patients, SEED, AS_OF)
    finally:
        engine.dispose()
    return summary.rows, summary.seconds


def generation_only(patients: int) -> tuple[int, float]:
    """The generator alone: how much of a load is Python and how much the database."""
    started = time.perf_counter()
    rows = 0
    for history in generate("org_bench", patients, SEED, AS_OF, TIMEZONE):
        rows += 1 + len(history.appointments) + len(history.communications)
        rows += len(history.followups)
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma list of patient counts")
    parser.add_argument("--databases", default="generate,sqlite,postgresql")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]

    print(f"Python {sys.version.split()[0]}; SQLite {sqlite3.sqlite_version}; as_of {AS_OF}")
    print(f"{'database':<12}{'patients':>10}{'rows':>11}{'seconds':>10}{'rows/s':>10}")
    for database in databases:
        for patients in sizes:
            if database == "generate":
                rows, seconds = generation_only(patients)
                label = "generate"
            elif database == "sqlite":
                with sqlite_url() as url:
                    rows, seconds = run(url, patients)
                label = "sqlite"
            elif database == "postgresql":
                with postgres_url(args.pg_admin_url) as url:
                    if patients == sizes[0]:
                        print(f"({server_version(url)})")
                    rows, seconds = run(url, patients)
                label = "postgresql"
            else:
                parser.error(f"unknown database {database!r}")
            print(f"{label:<12}{patients:>10,}{rows:>11,}{seconds:>10.1f}{rows / seconds:>10,.0f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
