"""The benchmark command (``bench/run.py``) keeps working, and what it relies on holds.

- The benchmark's clinics (generator options) are as valid as the demo's and as busy as the
  issue asks: about 8 appointments and 10 outreach attempts per patient over three years,
  about three times the records per patient over nine.
- DuckDB's recompute from the Parquet export gives the API's numbers, at as_of values where
  the derived rows answer and where the histories must.
- The command itself runs end to end at a tiny size on every test database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from reengage.db.engine import make_sessionmaker
from reengage.demo import Options, load_demo
from reengage.demo.generator import Row, rows
from reengage.orgs import service as orgs_service
from reengage.outreach import service as outreach
from reengage.risk import service
from tests import demo_rules
from tests.conftest import DATABASES, PG_ADMIN_URL

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
from duckdb_reference import Reference, export, mismatches  # noqa: E402
from run import ENDPOINTS, MOVING, NINE_YEARS, THREE_YEARS  # noqa: E402

AS_OF = demo_rules.AS_OF
TIMEZONE = demo_rules.TIMEZONE


@pytest.fixture(scope="module")
def three_years() -> dict[str, list[Row]]:
    return rows("org_demo", 2000, 7, AS_OF, TIMEZONE, THREE_YEARS)


@pytest.mark.parametrize(
    "check",
    [
        demo_rules.check_rows_hold_exactly_the_model_columns_with_utc_datetimes,
        demo_rules.check_every_record_passes_the_api_validation_unchanged,
        demo_rules.check_nothing_happens_after_as_of_except_appointments_booked_before_it,
        demo_rules.check_outcome_rates_land_in_the_published_ranges,
        demo_rules.check_outreach_never_uses_an_opted_out_or_unreachable_channel,
        demo_rules.check_contact_details_are_fake_and_well_formed,
        demo_rules.check_appointments_fall_in_the_clinics_local_opening_hours,
    ],
    ids=lambda check: check.__name__.removeprefix("check_"),
)
def test_the_benchmark_clinic_obeys_the_demos_record_rules(
    three_years: dict[str, list[Row]], check: object
) -> None:
    assert callable(check)
    check(three_years)


def test_three_years_hold_about_8_appointments_and_10_attempts_per_patient(
    three_years: dict[str, list[Row]],
) -> None:
    patients = len(three_years["patients"])
    outbound = [c for c in three_years["communications"] if c["direction"] == "outbound"]
    assert 7 <= len(three_years["appointments"]) / patients <= 9
    assert 9 <= len(outbound) / patients <= 11.5
    statuses = Counter(p["status"] for p in three_years["patients"])
    assert 15 <= 100 * statuses["active"] / patients <= 50  # long silences are inactive
    first = min(a["starts_at"] for a in three_years["appointments"])
    assert AS_OF - first > timedelta(days=3 * 365 - 10)


def test_nine_years_hold_about_three_times_the_records_per_patient(
    three_years: dict[str, list[Row]],
) -> None:
    nine = rows("org_demo", 1000, 7, AS_OF, TIMEZONE, NINE_YEARS)
    demo_rules.check_nothing_happens_after_as_of_except_appointments_booked_before_it(nine)
    per_patient = {
        name: sum(len(v) for v in clinic.values()) / len(clinic["patients"])
        for name, clinic in (("three", three_years), ("nine", nine))
    }
    assert 2.5 <= per_patient["nine"] / per_patient["three"] <= 3.5


def test_default_options_are_the_demo() -> None:
    assert rows("org_demo", 50, 3, AS_OF, TIMEZONE) == rows(
        "org_demo", 50, 3, AS_OF, TIMEZONE, Options()
    )
    with pytest.raises(ValueError, match="comeback"):
        Options(comeback=1.0)


# -- DuckDB's numbers are the API's ---------------------------------------------------------


def test_mismatches_name_every_number_that_differs() -> None:
    api = {"a": 1, "b": {"c": 2.5, "d": None}, "extra": 9}
    assert mismatches(api, {"a": 1, "b": {"c": 2.5, "d": None}}) == []
    assert mismatches(api, {"a": 2, "b": {"c": 2.5, "d": 0}}) == [
        "a: API 1 != DuckDB 2",
        "b.d: API None != DuckDB 0",
    ]


def test_mismatches_name_every_path_the_api_lacks() -> None:
    """A null under a renamed or moved key is not a match with the missing key's ``None``."""
    api = {"risk_summary": {"critical_risk": 3}, "reengagement_metrics": {"rate": None}}
    assert mismatches(api, {"risk_summary": {"critical": 3}, "rate": None}) == [
        "risk_summary.critical: missing from the API's answer (DuckDB 3)",
        "rate: missing from the API's answer (DuckDB None)",
    ]
    assert mismatches(api, {"reengagement_metrics": {"rate": None}}) == []


def leaves(answer: Any, path: str = "") -> set[str]:
    """Every path to a value that is not an object, dotted."""
    if not isinstance(answer, dict):
        return {path}
    return set().union(*(leaves(v, f"{path}.{k}" if path else k) for k, v in answer.items()))


# What the API answers and DuckDB does not recompute: identification, the as_of used, and
# ``avg_days_to_reengage`` (a per-day walk; see ``duckdb_reference``).
NOT_RECOMPUTED = {
    "risk-metrics": {"organization_id", "last_updated"},
    "performance": {
        "organization_id",
        "last_updated",
        "timeframe",
        "reengagement_metrics.avg_days_to_reengage",
    },
}


@pytest.mark.parametrize(
    "as_of", ["2026-11-24T06:00:00Z", "2026-11-20", "2026-10-12T09:30:00+11:00"]
)
def test_duckdb_gives_the_apis_risk_metrics_and_performance(
    engine: Engine, database_url: str, tmp_path: Path, as_of: str
) -> None:
    org_id = f"org_{uuid.uuid4().hex[:12]}"
    with make_sessionmaker(engine)() as session:
        orgs_service.create_org(session, org_id, "Bench check", TIMEZONE)
        session.commit()
    load_demo(engine, org_id, 300, 4, AS_OF, options=THREE_YEARS)
    files = export(database_url, org_id, tmp_path)
    with make_sessionmaker(engine)() as session:
        where = service.scope(session, org_id, as_of)
        metrics = service.risk_metrics(session, where).model_dump(mode="json")
        outcomes = {
            days: outreach.performance(session, where, f"last_{days}_days").model_dump(mode="json")
            for days in (7, 30, 90)
        }
    reference = Reference(files, where.settings, where.as_of)
    try:
        theirs = reference.risk_metrics()
        assert mismatches(metrics, theirs) == []
        # Every figure of the API's answer is recomputed, at the same path (the seed's).
        assert leaves(metrics) - leaves(theirs) == NOT_RECOMPUTED["risk-metrics"]
        assert leaves(theirs) <= leaves(metrics)
        for days, answer in outcomes.items():
            funnels = reference.performance(days)
            assert mismatches(answer, funnels) == [], days
            assert leaves(answer) - leaves(funnels) == NOT_RECOMPUTED["performance"], days
            assert leaves(funnels) <= leaves(answer), days
    finally:
        reference.close()
    assert list(theirs["risk_summary"]) == [
        "critical_risk",
        "high_risk",
        "medium_risk",
        "low_risk",
        "engaged",
    ]
    assert sum(metrics["risk_summary"].values()) > 50
    totals = outcomes[30]["reengagement_metrics"]
    assert totals["outreach_attempts"] > 50
    channels = outcomes[30]["communication_channels"]
    assert totals["outreach_attempts"] == (
        channels["sms"]["sent"] + channels["email"]["sent"] + channels["phone"]["attempted"]
    )


# -- the command ------------------------------------------------------------------------------


def test_the_bench_command_runs_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [
        sys.executable,
        str(BENCH / "run.py"),
        "--sizes=200",
        f"--databases={','.join(DATABASES)}",
        f"--pg-admin-url={PG_ADMIN_URL}",
        "--runs=3",
        "--warmup=1",
        "--duckdb-runs=1",
        "--ingest-records=1000",
        f"--json={out}",
        f"--markdown={tmp_path / 'results.md'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    results = report["results"]
    assert [r["database"] for r in results] == DATABASES
    for r in results:
        assert r["errors"] == []
        assert r["patients"] == 200 and r["records"]["appointments"] > 1000
        assert set(r["endpoints"]) == {name for name, _, _ in (*ENDPOINTS, MOVING)}
        assert r["first_request_ms"] > 0
        for timing in r["endpoints"].values():
            assert timing["requests"] == 3
            assert 0 < timing["p50"] <= timing["p95"]
        assert {d["endpoint"] for d in r["duckdb"]} == {"risk-metrics", "performance 30 days"}
        assert all(d["equal"] and d["mismatches"] == [] for d in r["duckdb"])
        assert all(d["median_ms"] > 0 for d in r["duckdb"])
        assert r["ingest_records"] >= 1000 and r["ingest_seconds"] > 0
        assert r["peak_rss_mb"] >= r["peak_rss_mb_analytics"] > 20
    markdown = (tmp_path / "results.md").read_text()
    assert "| risk-metrics |" in markdown and "| trends 1y |" in markdown
