"""The benchmark of issue #6, in one command: build, load, serve, measure, compare.

For each size and database: a fresh database built by the real migrations (a temporary
SQLite file, or a temporary PostgreSQL database dropped afterwards unless ``--keep``), a
clinic generated and written through the demo loader's bulk path, the real server started
as ``reengage serve`` in a subprocess, and then, over HTTP with one keep-alive connection:
every analytics endpoint (p50 and p95 of ``--runs`` requests after ``--warmup``), the batch
API's ingestion throughput, and the server's peak resident memory (VmHWM). The same raw
events are exported to Parquet and DuckDB recomputes ``risk-metrics`` and the 30-day
``performance`` from them: its time is the reference, and its numbers must equal the API's
at the same paths and under the same names (the seed's: ``risk_summary.critical_risk``,
``reengagement_metrics.outreach_attempts``, ``communication_channels.sms.sent``, ...); any
difference, or a path the API's answer lacks, is printed and the command exits 2.

    .venv/bin/python bench/run.py --sizes S                                 # both databases
    .venv/bin/python bench/run.py --sizes S,M,M-long,L --databases postgresql
    .venv/bin/python bench/run.py --sizes 200 --runs 5 --warmup 1 --ingest-records 1000

Sizes: S 10,000 patients, M 100,000, L 1,000,000, three years of history each (about 8
appointments and 10 outreach attempts per patient); M-long 100,000 with nine years (about
three times the records per patient); a number is that many patients with three years.
Every request passes ``as_of`` = the generation's as_of, so the answers are reproducible.
Results go to stdout as Markdown (``--markdown FILE`` and ``--json FILE`` save them).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duckdb_reference import Reference, export, mismatches
from reengage.auth import service as auth_service
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import Options, generate, load_demo
from reengage.derived import upkeep
from reengage.orgs import service as orgs_service

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ORG = "org_bench"
SEED = 1
TIMEZONE = "Australia/Sydney"
AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
AS_OF_PARAM = "2026-11-24T06:00:00Z"
BATCH_RECORDS = 10_000

THREE_YEARS = Options(history_days=1095, reminders=True, recall_days=180, comeback=0.6)
NINE_YEARS = Options(history_days=3285, reminders=True, recall_days=120, comeback=0.9)
SIZES: dict[str, tuple[int, Options]] = {
    "S": (10_000, THREE_YEARS),
    "M": (100_000, THREE_YEARS),
    "M-long": (100_000, NINE_YEARS),
    "L": (1_000_000, THREE_YEARS),
}

# (name, path under /api/v1/reengagement/{org}, its query without as_of)
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("risk-metrics", "risk-metrics", ""),
    ("list, first page", "patients/prioritized", ""),
    ("list, risk_level=critical", "patients/prioritized", "risk_level=critical"),
    ("list, action_required=missed_appt", "patients/prioritized", "action_required=missed_appt"),
    ("list, sort_by=days_since_contact", "patients/prioritized", "sort_by=days_since_contact"),
    ("list, deep page", "patients/prioritized", "offset={deep}"),
    ("performance 7 days", "performance", "timeframe=last_7_days"),
    ("performance 30 days", "performance", "timeframe=last_30_days"),
    ("performance 90 days", "performance", "timeframe=last_90_days"),
    ("trends 7d", "trends", "period=7d"),
    ("trends 30d", "trends", "period=30d"),
    ("trends 90d", "trends", "period=90d"),
    ("trends 6m", "trends", "period=6m"),
    ("trends 1y", "trends", "period=1y"),
)
# The list as a clinic asks it through the day, ``as_of`` = now: each request a minute later
# than the last, so the stored standings of patients whose visit starts or follow-up falls
# due in that minute are recomputed first. Timed last: the other endpoints' fixed as_of is
# then in the stored rows' past, and answered as it would be without them.
MOVING = ("list, as_of a minute later each time", "patients/prioritized", "")
# Not one of the contract's four, and slow where the derived rows do not answer (its previous
# 30 days read histories): about 19 s a request at S, so timed only when asked for.
OVERVIEW = ("overview", "overview", "")
# Endpoints DuckDB recomputes: ours -> the reference's name.
REFERENCED = {"risk-metrics": "risk-metrics", "performance 30 days": "performance 30 days"}


@dataclass
class Timing:
    p50: float
    p95: float
    fastest: float
    slowest: float
    requests: int


@dataclass
class DuckResult:
    endpoint: str
    median_ms: float
    runs: int
    ours_p50_over_duckdb: float
    ours_p95_over_duckdb: float
    equal: bool
    mismatches: list[str] = field(default_factory=list)


@dataclass
class Result:
    database: str
    size: str
    patients: int
    history_days: int
    records: dict[str, int]
    load_seconds: float
    build_workers: int
    export_seconds: float
    endpoints: dict[str, Timing] = field(default_factory=dict)
    deep_offset: int = 0
    first_request_ms: float = 0.0
    duckdb: list[DuckResult] = field(default_factory=list)
    ingest_records: int = 0
    ingest_batches: int = 0
    ingest_seconds: float = 0.0
    peak_rss_mb_analytics: float = 0.0
    peak_rss_mb: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


# -- databases -----------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, admin_url: str, keep: bool) -> Iterator[str]:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="reengage-bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        try:
            yield url
        finally:
            if keep:
                print(f"kept {url}", flush=True)
            else:
                for path in folder.iterdir():
                    path.unlink()
                folder.rmdir()
        return
    if kind != "postgresql":
        raise SystemExit(f"unknown database {kind!r} (sqlite or postgresql)")
    name = f"reengage_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        if keep:
            print(f"kept {admin_url.rpartition('/')[0]}/{name}", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return f"SQLite {conn.exec_driver_sql('select sqlite_version()').scalar()}"
            return f"PostgreSQL {conn.exec_driver_sql('show server_version').scalar()}"
    finally:
        engine.dispose()


def prepare(url: str, patients: int, options: Options) -> tuple[str, dict[str, int], float, int]:
    """Migrate, create the org and a staff key, load: (key, counts, seconds, worker
    processes the derived state was built in)."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            orgs_service.create_org(session, ORG, "Bench clinic", TIMEZONE)
            _, key = auth_service.create_key(session, ORG, "staff", "bench")
            session.commit()
        summary = load_demo(engine, ORG, patients, SEED, AS_OF, None, options)
    finally:
        engine.dispose()
    counts = {
        "patients": summary.patients,
        "appointments": summary.appointments,
        "communications": summary.communications,
        "followups": summary.followups,
    }
    return key, counts, summary.seconds, upkeep.workers_for(patients, None)


def settle(url: str) -> float | None:
    """Bring a just-loaded PostgreSQL database to the steady state requests meet in service:
    vacuumed (tuples' commit status recorded, the visibility map set) and checkpointed (the
    load's dirty pages written). Autovacuum and the checkpointer would do this within minutes
    (on some machines autovacuum is off); measured straight after the load, requests raced
    them. Seconds taken; None on SQLite, which has nothing to settle."""
    if not url.startswith("postgresql"):
        return None
    started = time.perf_counter()
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
            conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def org_settings(url: str) -> Any:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return orgs_service.get_settings(session, ORG)
    finally:
        engine.dispose()


# -- the server ----------------------------------------------------------------------------


class Server:
    """``reengage serve`` in a subprocess, and one keep-alive HTTP connection to it."""

    def __init__(self, url: str, key: str, log: Path, workers: int = 1) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        command = Path(sys.executable).with_name("reengage")
        env = os.environ | {"REENGAGE_DATABASE_URL": url, "REENGAGE_LOG_LEVEL": "WARNING"}
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [
                *(str(command), "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                *("--workers", str(workers)),
            ],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.headers = {"Authorization": f"Bearer {key}", "Connection": "keep-alive"}
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.tail()}")
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                self.conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.tail()}")
            time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a keep-alive connection idle for 5 s (uvicorn's default),
            # as it is while DuckDB runs at M-long: open a new one and send again.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def get_json(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:500]!r}")
        return json.loads(body)

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the server process has had."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def tail(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.conn.close()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


def analytics_path(path: str, query: str, as_of: str = AS_OF_PARAM) -> str:
    tail = f"as_of={as_of}" + (f"&{query}" if query else "")
    return f"/api/v1/reengagement/{ORG}/{path}?{tail}"


def minutes_later(path: str, query: str) -> Callable[[int], str]:
    """The i-th request's path: as_of ``i + 1`` minutes after the generation's."""

    def at(i: int) -> str:
        as_of = (AS_OF + timedelta(minutes=i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return analytics_path(path, query, as_of)

    return at


def measure(
    server: Server, path: str | Callable[[int], str], warmup: int, runs: int
) -> tuple[Timing, Any]:
    """p50 and p95 of ``runs`` requests after ``warmup``; and the last answer. ``path`` may
    name each request's path by its number instead."""
    nth = path if callable(path) else (lambda _: path)
    answer = None
    for i in range(warmup):
        answer = server.get_json(nth(i))
    times = []
    for i in range(warmup, warmup + runs):
        started = time.perf_counter()
        status, body = server.request("GET", nth(i))
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {nth(i)}: {status} {body[:500]!r}")
        answer = json.loads(body)
    times.sort()
    p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
    return Timing(statistics.median(times), p95, times[0], times[-1], len(times)), answer


# -- ingestion through the batch API -------------------------------------------------------

SERVER_COLUMNS = ("org_id", "received_at", "updated_at")


def _record(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in SERVER_COLUMNS:
            continue
        if name in ("id", "patient_id"):
            value = f"{prefix}{value}"
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def ingest_batches(total: int, options: Options) -> Iterator[tuple[int, bytes]]:
    """Batches of at most 10,000 new records (patients with their appointments and
    communications, from another seed, ids prefixed ``ing-``), about ``total`` in all."""
    kinds = ("patients", "appointments", "communications")
    batch: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    size = sent = 0
    # About 20 such records per patient: twice the patients needed, generated lazily.
    for history in generate(ORG, max(50, total // 10), SEED + 1, AS_OF, TIMEZONE, options):
        records = {
            "patients": [_record(history.patient, "ing-")],
            "appointments": [_record(a, "ing-") for a in history.appointments],
            "communications": [_record(c, "ing-") for c in history.communications],
        }
        count = sum(len(v) for v in records.values())
        if size and size + count > BATCH_RECORDS:
            yield size, json.dumps(batch).encode()
            sent += size
            batch, size = {kind: [] for kind in kinds}, 0
        for kind in kinds:
            batch[kind] += records[kind]
        size += count
        if sent + size >= total:
            break
    if size:
        yield size, json.dumps(batch).encode()


def ingest(server: Server, total: int, options: Options) -> tuple[int, int, float]:
    """(records, batches, seconds spent in the requests)."""
    records = batches = 0
    seconds = 0.0
    for count, body in ingest_batches(total, options):
        started = time.perf_counter()
        status, answer = server.request("POST", f"/api/v1/orgs/{ORG}/batch", body)
        seconds += time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"batch refused: {status} {answer[:1000]!r}")
        records += count
        batches += 1
    return records, batches, seconds


# -- one run -------------------------------------------------------------------------------


def run_one(kind: str, size: str, args: argparse.Namespace) -> Result:
    patients, options = size_of(size)
    with fresh_database(kind, args.pg_admin_url, args.keep) as url:
        say(f"{kind} {size}: loading {patients:,} patients ({options.history_days} days)")
        key, counts, load_s, workers = prepare(url, patients, options)
        result = Result(
            database=kind,
            size=size,
            patients=patients,
            history_days=options.history_days,
            records=counts,
            load_seconds=load_s,
            build_workers=workers,
            export_seconds=0.0,
        )
        say(
            f"{kind} {size}: loaded {result.total_records:,} records in {load_s:.1f} s "
            f"(derived state built in {workers or 'no'} worker processes)"
        )
        settled_s = settle(url)
        if settled_s is not None:
            say(f"{kind} {size}: VACUUM ANALYZE and CHECKPOINT in {settled_s:.1f} s")
        with tempfile.TemporaryDirectory(prefix="reengage-bench-parquet-") as folder:
            started = time.perf_counter()
            files = export(url, ORG, Path(folder))
            result.export_seconds = time.perf_counter() - started
            reference = Reference(files, org_settings(url), AS_OF, args.duckdb_threads)
            try:
                server = Server(url, key, Path(folder) / "server.log")
            except Exception:
                reference.close()
                raise
            try:
                measure_endpoints(server, result, args)
                result.peak_rss_mb_analytics = server.peak_rss_mb()
                compare_with_duckdb(reference, result, args, answers=result_answers(server))
                if args.ingest_records > 0:
                    say(f"{kind} {size}: batch ingestion of about {args.ingest_records:,} records")
                    records, batches, seconds = ingest(server, args.ingest_records, options)
                    result.ingest_records, result.ingest_batches = records, batches
                    result.ingest_seconds = seconds
                    say(
                        f"{kind} {size}: batch API {records:,} records in {batches} batches, "
                        f"{records / seconds:,.0f} records/s"
                    )
                result.peak_rss_mb = server.peak_rss_mb()
                say(
                    f"{kind} {size}: server peak RSS {result.peak_rss_mb_analytics:,.0f} MB "
                    f"after the analytics, {result.peak_rss_mb:,.0f} MB in all"
                )
            except Exception as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                say(f"{kind} {size}: FAILED: {exc}\n{server.tail()}")
            finally:
                server.stop()
                reference.close()
    return result


def measure_endpoints(server: Server, result: Result, args: argparse.Namespace) -> None:
    """Every endpoint at the fixed as_of, then the list with as_of moving on. The first
    request is the day's first: it stores every patient's standing (``derived.stored_standings``),
    and its time is reported on its own."""
    started = time.perf_counter()
    first = server.get_json(analytics_path("patients/prioritized", ""))
    result.first_request_ms = (time.perf_counter() - started) * 1000
    say(f"{result.database} {result.size}: first list request {result.first_request_ms:,.0f} ms")
    total = int(first["summary"]["total"])
    result.deep_offset = max(0, (total // 2) // 50 * 50)
    for name, path, query in (*ENDPOINTS, *((OVERVIEW,) if args.with_overview else ()), MOVING):
        if args.only and not any(word in name for word in args.only.split(",")):
            continue
        query = query.format(deep=result.deep_offset)
        full = minutes_later(path, query) if name == MOVING[0] else analytics_path(path, query)
        timing, _ = measure(server, full, args.warmup, args.runs)
        result.endpoints[name] = timing
        say(
            f"{result.database} {result.size}: {name:<36} p50 {timing.p50:8.1f} ms  "
            f"p95 {timing.p95:8.1f} ms"
        )


def result_answers(server: Server) -> dict[str, Any]:
    return {
        "risk-metrics": server.get_json(analytics_path("risk-metrics", "")),
        "performance 30 days": server.get_json(
            analytics_path("performance", "timeframe=last_30_days")
        ),
    }


def compare_with_duckdb(
    reference: Reference, result: Result, args: argparse.Namespace, answers: dict[str, Any]
) -> None:
    computations = {
        "risk-metrics": reference.risk_metrics,
        "performance 30 days": lambda: reference.performance(30),
    }
    for name, compute in computations.items():
        theirs, median_ms = reference.timed(compute, args.duckdb_runs)
        ours = result.endpoints.get(name)
        p50, p95 = (ours.p50, ours.p95) if ours else (math.nan, math.nan)
        found = mismatches(answers[name], theirs)
        result.duckdb.append(
            DuckResult(
                endpoint=name,
                median_ms=median_ms,
                runs=args.duckdb_runs,
                ours_p50_over_duckdb=p50 / median_ms,
                ours_p95_over_duckdb=p95 / median_ms,
                equal=not found,
                mismatches=found,
            )
        )
        verdict = "same numbers" if not found else f"{len(found)} MISMATCHES"
        say(
            f"{result.database} {result.size}: DuckDB {name:<22} {median_ms:8.1f} ms "
            f"(ours p50 / DuckDB = {p50 / median_ms:.2f}); {verdict}"
        )
        for line in found:
            say(f"    MISMATCH {name}: {line}")


def size_of(size: str) -> tuple[int, Options]:
    if size in SIZES:
        return SIZES[size]
    if size.isdigit() and int(size) > 0:
        return int(size), THREE_YEARS
    raise SystemExit(f"unknown size {size!r}: S, M, M-long, L or a number of patients")


STARTED = time.perf_counter()


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the command started."""
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


# -- the report ----------------------------------------------------------------------------


def environment(databases: list[str], admin_url: str) -> dict[str, str]:
    env = {
        "command": " ".join([os.path.relpath(sys.executable), *sys.argv]),
        "machine": f"{os.cpu_count()} cores, {_memory_gib():.0f} GiB RAM, {platform.machine()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duckdb.__version__,
    }
    if "postgresql" in databases:
        env["postgresql"] = database_version(admin_url).removeprefix("PostgreSQL ")
    return env


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def markdown(env: dict[str, str], results: list[Result], seconds: float) -> str:
    lines = [
        f"Command: `{env['command']}` ({seconds / 60:.1f} min in all)",
        "",
        f"Machine: {env['machine']}; Python {env['python']}; SQLite {env['sqlite']}"
        + (f"; PostgreSQL {env['postgresql']}" if "postgresql" in env else "")
        + f"; DuckDB {env['duckdb']}.",
        "",
        "| database | size | patients | records | load s | records/s | derived-state workers "
        "| export to Parquet s | first list request ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.size} | {r.patients:,} | {r.total_records:,} "
            f"| {r.load_seconds:.1f} | {r.total_records / r.load_seconds:,.0f} "
            f"| {r.build_workers} | {r.export_seconds:.1f} | {r.first_request_ms:,.0f} |"
        )
    heads = [f"{r.database} {r.size}" for r in results]
    lines += [
        "",
        "p50 / p95 in ms over HTTP (`as_of` fixed but in the last row; the deep page's offset "
        "is half the list; the first list request, which stores the day's standings, is "
        "reported above):",
        "",
        "| endpoint | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for name, _, _ in (*ENDPOINTS, OVERVIEW, MOVING):
        if not any(name in r.endpoints for r in results):
            continue
        cells = []
        for r in results:
            t = r.endpoints.get(name)
            cells.append(f"{t.p50:,.0f} / {t.p95:,.0f}" if t else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "DuckDB straight from the Parquet export (median of its runs) against our p50 / p95:",
        "",
        "| database | size | endpoint | DuckDB ms | ours p50 / DuckDB | ours p95 / DuckDB "
        "| same numbers |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        for d in r.duckdb:
            lines.append(
                f"| {r.database} | {r.size} | {d.endpoint} | {d.median_ms:,.1f} "
                f"| {d.ours_p50_over_duckdb:.2f} | {d.ours_p95_over_duckdb:.2f} "
                f"| {'yes' if d.equal else 'NO'} |"
            )
    lines += [
        "",
        "| database | size | batch API records/s | bulk load records/s "
        "| server peak RSS, analytics MB | server peak RSS, with ingestion MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        batch = f"{r.ingest_records / r.ingest_seconds:,.0f}" if r.ingest_seconds else "-"
        lines.append(
            f"| {r.database} | {r.size} | {batch} ({r.ingest_records:,} in {r.ingest_batches}) "
            f"| {r.total_records / r.load_seconds:,.0f} | {r.peak_rss_mb_analytics:,.0f} "
            f"| {r.peak_rss_mb:,.0f} |"
        )
    verdicts = targets(results)
    if verdicts:
        lines += ["", "Targets (PostgreSQL), as measured in this run:", ""]
        lines += [f"- {v}" for v in verdicts]
    errors = [f"{r.database} {r.size}: {e}" for r in results for e in r.errors]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def targets(results: list[Result]) -> list[str]:
    """The issue's targets that this run measured, each met or missed."""
    pg = {r.size: r for r in results if r.database == "postgresql" and not r.errors}
    out: list[str] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    if "M" in pg:
        m = pg["M"]
        slow = {n: t.p95 for n, t in m.endpoints.items() if n != "trends 1y" and t.p95 > 100}
        out.append(
            f"M, every endpoint p95 <= 100 ms (trends 1y aside): {verdict(not slow)}"
            + (f" (over: {', '.join(f'{n} {v:.0f}' for n, v in slow.items())})" if slow else "")
        )
        if "trends 1y" in m.endpoints:  # not with --only
            year = m.endpoints["trends 1y"].p95
            out.append(f"M, trends 1y p95 <= 300 ms: {verdict(year <= 300)} ({year:.0f} ms)")
    if "L" in pg:
        big = pg["L"]
        for name in ("risk-metrics", "list, first page"):
            if name not in big.endpoints:
                continue
            p95 = big.endpoints[name].p95
            out.append(f"L, {name} p95 <= 300 ms: {verdict(p95 <= 300)} ({p95:.0f} ms)")
        out.append(
            f"L, server peak memory <= 500 MB: {verdict(big.peak_rss_mb <= 500)} "
            f"({big.peak_rss_mb:.0f} MB)"
        )
    for size, r in pg.items():
        for d in r.duckdb:
            out.append(
                f"{size}, {d.endpoint} faster than DuckDB (p95): "
                f"{verdict(d.ours_p95_over_duckdb < 1)} (ratio {d.ours_p95_over_duckdb:.2f})"
            )
        if r.ingest_seconds:
            rate = r.ingest_records / r.ingest_seconds
            out.append(
                f"{size}, batch API >= 20,000 records/s: {verdict(rate >= 20_000)} ({rate:,.0f})"
            )
        load_rate = r.total_records / r.load_seconds
        out.append(
            f"{size}, bulk load >= 20,000 records/s: {verdict(load_rate >= 20_000)} "
            f"({load_rate:,.0f})"
        )
    if "M" in pg and "M-long" in pg:
        growth = {
            n: pg["M-long"].endpoints[n].p95 / t.p95 - 1 for n, t in pg["M"].endpoints.items()
        }
        if growth:
            worst = max(growth, key=lambda n: growth[n])
            out.append(
                f"M-long against M, p95 up by at most 30%: {verdict(growth[worst] <= 0.3)} "
                f"(largest: {worst} {growth[worst]:+.0%})"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S", help="comma list: S, M, M-long, L or numbers")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    parser.add_argument("--duckdb-runs", type=int, default=5)
    parser.add_argument("--duckdb-threads", type=int, default=0, help="0: DuckDB's default")
    parser.add_argument(
        "--ingest-records", type=int, default=20_000, help="records sent to the batch API"
    )
    parser.add_argument(
        "--only", default="", help="comma list of words: time the endpoints whose name has one"
    )
    parser.add_argument(
        "--with-overview", action="store_true", help="also time /overview (slow: see README)"
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    for size in sizes:
        size_of(size)
    started = time.perf_counter()
    env = environment(databases, args.pg_admin_url)
    results: list[Result] = []
    for database in databases:
        for size in sizes:
            if database == "sqlite" and size == "L":
                say("sqlite L: skipped (the issue asks SQLite for S and M)")
                continue
            results.append(run_one(database, size, args))
    seconds = time.perf_counter() - started
    report = markdown(env, results, seconds)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        payload = {
            "environment": env,
            "seconds": seconds,
            "as_of": AS_OF.isoformat(),
            "results": [asdict(r) | {"total_records": r.total_records} for r in results],
            "targets": targets(results),
        }
        args.json.write_text(json.dumps(payload, indent=2))
    failed = [r for r in results if r.errors]
    unequal = [(r, d) for r in results for d in r.duckdb if not d.equal]
    if unequal:
        print("\nDUCKDB CHECK FAILED: the API and DuckDB give different numbers:", file=sys.stderr)
        for r, d in unequal:
            for line in d.mismatches:
                print(f"  {r.database} {r.size} {d.endpoint}: {line}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
