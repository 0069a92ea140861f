"""The load benchmark of issue #18: a clinic's working day, from many clients at once.

One PostgreSQL (or SQLite) database built by the real migrations, ``--patients`` generated
patients with three years of history loaded through the demo loader, settled as in service
(``run.settle``), and ``reengage serve --workers N`` in a subprocess. Then, for each count
of ``--clients``, that many threads each with its own keep-alive connection send the mix
below for ``--seconds`` (after ``--warmup`` seconds untimed), as front desks and a practice
system would: no ``as_of`` (now), and the writes land while the reads run.

The mix (weights out of 100): the prioritized list's first page 20, its high-risk filter
10, risk-metrics 15, performance over 30 days 10, trends over 30 days 10, one patient's
record 15; writes 20: a new outbound SMS for a random patient 15, a new follow-up 5.

    .venv/bin/python bench/load.py                                   # 20,000 patients, PG
    .venv/bin/python bench/load.py --workers 1,2 --clients 1,4,16,64 --seconds 30
    .venv/bin/python bench/load.py --patients 500 --clients 2 --seconds 3 --databases sqlite

Prints one Markdown row per (workers, clients): requests per second, p50, p95 and p99 in
ms, and the answers that were not 2xx (5xx apart). Exits 2 if any answer was a 5xx.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    ORG,
    PG_ADMIN_URL,
    THREE_YEARS,
    Server,
    environment,
    fresh_database,
    prepare,
    say,
    settle,
)

Request = tuple[str, str, str, bytes | None]  # (name, method, path, body)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def mix(patients: int, client: int) -> list[tuple[int, Callable[[random.Random], Request]]]:
    """(weight, a request drawn with the client's own random numbers)."""
    api = f"/api/v1/reengagement/{ORG}"
    records = f"/api/v1/orgs/{ORG}"

    width = max(6, len(str(patients)))  # the generator's ids: pat-000001 ...

    def patient_id(rng: random.Random) -> str:
        return f"pat-{rng.randrange(1, patients + 1):0{width}d}"

    def read(name: str, path: str) -> Callable[[random.Random], Request]:
        return lambda rng: (name, "GET", path, None)

    def one_patient(rng: random.Random) -> Request:
        return ("patient record", "GET", f"{records}/patients/{patient_id(rng)}", None)

    def sms(rng: random.Random) -> Request:
        cid = f"load-{client}-{uuid.uuid4().hex[:12]}"
        body = {
            "patient_id": patient_id(rng),
            "channel": "sms",
            "direction": "outbound",
            "sent_at": _now(),
        }
        return (
            "write: new SMS",
            "PUT",
            f"{records}/communications/{cid}",
            json.dumps(body).encode(),
        )

    def followup(rng: random.Random) -> Request:
        fid = f"load-{client}-{uuid.uuid4().hex[:12]}"
        due = (datetime.now(UTC) + timedelta(days=7)).isoformat(timespec="seconds")
        body = {"patient_id": patient_id(rng), "due_at": due, "reason": "check in"}
        return (
            "write: new follow-up",
            "PUT",
            f"{records}/followups/{fid}",
            json.dumps(body).encode(),
        )

    return [
        (20, read("list, first page", f"{api}/patients/prioritized")),
        (10, read("list, risk_level=high", f"{api}/patients/prioritized?risk_level=high")),
        (15, read("risk-metrics", f"{api}/risk-metrics")),
        (10, read("performance 30 days", f"{api}/performance?timeframe=last_30_days")),
        (10, read("trends 30d", f"{api}/trends?period=30d")),
        (15, one_patient),
        (15, sms),
        (5, followup),
    ]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    by_name: dict[str, list[float]] = field(default_factory=dict)


def client_loop(
    port: int, key: str, patients: int, client: int, until: float, start_timing: float
) -> Tally:
    rng = random.Random(client)
    choices = mix(patients, client)
    weights = [w for w, _ in choices]
    makers = [m for _, m in choices]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    tally = Tally()
    while (now := time.perf_counter()) < until:
        name, method, path, body = rng.choices(makers, weights)[0](rng)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status = 599  # no answer: counted with the 5xx
        elapsed = time.perf_counter() - started
        if now >= start_timing:
            tally.latencies.append(elapsed)
            tally.statuses[status] += 1
            tally.by_name.setdefault(name, []).append(elapsed)
    conn.close()
    return tally


@dataclass
class Row:
    database: str
    workers: int
    clients: int
    seconds: float
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    not_2xx: int
    server_errors: int
    by_name: dict[str, float]  # p95 ms per request kind

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run_clients(
    database: str,
    server: Server,
    key: str,
    patients: int,
    workers: int,
    clients: int,
    args: argparse.Namespace,
) -> Row:
    begin = time.perf_counter()
    start_timing = begin + args.warmup
    until = start_timing + args.seconds
    tallies: list[Tally] = [Tally() for _ in range(clients)]

    def work(i: int) -> None:
        tallies[i] = client_loop(server.port, key, patients, i, until, start_timing)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = [x for t in tallies for x in t.latencies]
    statuses: Counter[int] = Counter()
    names: dict[str, list[float]] = {}
    for t in tallies:
        statuses.update(t.statuses)
        for name, values in t.by_name.items():
            names.setdefault(name, []).extend(values)
    return Row(
        database=database,
        workers=workers,
        clients=clients,
        seconds=args.seconds,
        requests=len(latencies),
        p50_ms=statistics.median(latencies) * 1000 if latencies else float("nan"),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
        not_2xx=sum(n for s, n in statuses.items() if not 200 <= s < 300),
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        by_name={name: percentile(values, 0.95) for name, values in sorted(names.items())},
    )


def markdown(env: dict[str, str], rows: list[Row]) -> str:
    lines = [
        "| " + " | ".join(f"{k}: {v}" for k, v in env.items()) + " |",
        "",
        "| database | workers | clients | req/s | p50 ms | p95 ms | p99 ms | not 2xx | 5xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.database} | {r.workers} | {r.clients} | {r.per_second:.1f} | {r.p50_ms:.0f} "
            f"| {r.p95_ms:.0f} | {r.p99_ms:.0f} | {r.not_2xx} | {r.server_errors} |"
        )
    lines += ["", "p95 ms by request kind:", ""]
    names = sorted({n for r in rows for n in r.by_name})
    lines.append("| workers | clients | " + " | ".join(names) + " |")
    lines.append("|---:|---:|" + "---:|" * len(names))
    for r in rows:
        cells = " | ".join(f"{r.by_name.get(n, float('nan')):.0f}" for n in names)
        lines.append(f"| {r.workers} | {r.clients} | {cells} |")
    return "\n".join(lines)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--workers", default="1", help="comma list of server processes")
    parser.add_argument("--clients", default="1,4,16,64", help="comma list of client counts")
    parser.add_argument("--seconds", type=float, default=20, help="timed, per client count")
    parser.add_argument("--warmup", type=float, default=3, help="untimed seconds first")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    env = environment(databases, args.pg_admin_url)
    rows: list[Row] = []
    for database in databases:
        with fresh_database(database, args.pg_admin_url, keep=False) as url:
            say(f"{database}: loading {args.patients:,} patients")
            key, _, _, _ = prepare(url, args.patients, THREE_YEARS)
            settle(url)
            for workers in ints(args.workers):
                log = Path(tempfile.mkstemp(prefix="reengage-load-", suffix=".log")[1])
                server = Server(url, key, log, workers=workers)
                try:
                    for clients in ints(args.clients):
                        say(f"{database}: {workers} worker(s), {clients} client(s)")
                        row = run_clients(
                            database, server, key, args.patients, workers, clients, args
                        )
                        say(
                            f"  {row.per_second:.1f} req/s, p95 {row.p95_ms:.0f} ms, "
                            f"{row.not_2xx} not 2xx ({row.server_errors} 5xx)"
                        )
                        rows.append(row)
                finally:
                    server.stop()
    print(markdown(env, rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))
    return 2 if any(r.server_errors for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
