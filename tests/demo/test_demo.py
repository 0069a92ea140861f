"""The demo clinic: reproducible, valid by the API's own rules, believable, and loadable.

The generator tests run once on a few thousand patients; the loader and CLI tests run on
every test database with small clinics, so the suite stays quick.
"""

from __future__ import annotations

import itertools
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from reengage.auth import service as auth_service
from reengage.cli import app as cli_app
from reengage.config import get_settings
from reengage.db.engine import make_sessionmaker
from reengage.demo import DemoError, PatientHistory, generator, load_demo, loader
from reengage.demo.generator import HISTORY_DAYS, Row, rows
from reengage.derived import rows as derived_rows
from reengage.derived import upkeep
from reengage.models import (
    AttemptOutcome,
    DailyRollup,
    DerivedStatus,
    Org,
    Patient,
    PatientState,
    RiskSpan,
)
from reengage.orgs import service as orgs_service
from tests import demo_rules
from tests.demo_rules import AS_OF, MODELS, TIMEZONE, _share
from tests.factories import OrgFixture


@pytest.fixture(scope="module")
def clinic() -> dict[str, list[Row]]:
    return rows("org_demo", 3000, 11, AS_OF, TIMEZONE)


RECORD_RULES = [
    demo_rules.check_rows_hold_exactly_the_model_columns_with_utc_datetimes,
    demo_rules.check_every_record_passes_the_api_validation_unchanged,
    demo_rules.check_nothing_happens_after_as_of_except_appointments_booked_before_it,
    demo_rules.check_outcome_rates_land_in_the_published_ranges,
    demo_rules.check_outreach_never_uses_an_opted_out_or_unreachable_channel,
    demo_rules.check_contact_details_are_fake_and_well_formed,
    demo_rules.check_appointments_fall_in_the_clinics_local_opening_hours,
]


@pytest.mark.parametrize("check", RECORD_RULES, ids=lambda c: c.__name__.removeprefix("check_"))
def test_the_demo_clinic_obeys_the_record_rules(clinic: dict[str, list[Row]], check: Any) -> None:
    check(clinic)


# -- generation ----------------------------------------------------------------------------


def test_same_seed_and_as_of_give_identical_rows_and_another_seed_does_not() -> None:
    first = rows("org_demo", 300, 5, AS_OF, TIMEZONE)
    assert first == rows("org_demo", 300, 5, AS_OF, TIMEZONE)
    other = rows("org_demo", 300, 6, AS_OF, TIMEZONE)
    assert [p["name"] for p in other["patients"]] != [p["name"] for p in first["patients"]]
    assert other["appointments"] != first["appointments"]
    later = rows("org_demo", 300, 5, AS_OF + timedelta(days=30), TIMEZONE)
    assert later["appointments"] != first["appointments"]


def test_the_clinic_tells_a_believable_story(clinic: dict[str, list[Row]]) -> None:
    patients = clinic["patients"]
    statuses = Counter(p["status"] for p in patients)
    assert set(statuses) == {"active", "discharged", "inactive", "deceased"}
    assert 0 < _share(statuses["deceased"], len(patients)) < 1
    assert 15 <= _share(statuses["active"], len(patients)) <= 40
    window_start = AS_OF - timedelta(days=HISTORY_DAYS)
    registered = [p["registered_at"] for p in patients if p["registered_at"] is not None]
    assert 20 <= _share(sum(r < window_start for r in registered), len(registered)) <= 60
    assert registered and max(registered) > AS_OF - timedelta(days=30)

    by_patient: dict[str, list[Row]] = defaultdict(list)
    for a in clinic["appointments"]:
        by_patient[a["patient_id"]].append(a)
    # Courses of weekly-ish sessions, booked days to weeks ahead.
    gaps = []
    for appointments in by_patient.values():
        done = sorted(a["starts_at"] for a in appointments if a["status"] == "completed")
        gaps += [(b - a).days for a, b in itertools.pairwise(done)]
    assert 5 <= statistics.median(gaps) <= 10
    leads = [
        (a["starts_at"] - a["booked_at"]).days for a in clinic["appointments"] if a["booked_at"]
    ]
    assert 3 <= statistics.median(leads) <= 21
    with_future = {a["patient_id"] for a in clinic["appointments"] if a["status"] == "scheduled"}
    assert 5 <= _share(len(with_future), len(patients)) <= 30
    status_of = {p["id"]: p["status"] for p in patients}
    assert {status_of[pid] for pid in with_future} == {"active"}

    # Outreach goes mostly to patients who have not been in for a fortnight or more.
    last_visit: dict[str, list[datetime]] = defaultdict(list)
    for a in clinic["appointments"]:
        if a["status"] == "completed":
            last_visit[a["patient_id"]].append(a["starts_at"])
    outbound = [c for c in clinic["communications"] if c["direction"] == "outbound"]
    lapsed = 0
    for c in outbound:
        before = [t for t in last_visit[c["patient_id"]] if t < c["sent_at"]]
        if not before or c["sent_at"] - max(before) >= timedelta(days=14):
            lapsed += 1
    assert _share(lapsed, len(outbound)) >= 75
    # A successful contact is often followed by a booking within 14 days.
    successes = [(c["patient_id"], c["responded_at"] or c["connected_at"]) for c in outbound]
    successes = [(pid, at) for pid, at in successes if at is not None]
    converted = sum(
        any(
            a["booked_at"] is not None and at < a["booked_at"] <= at + timedelta(days=14)
            for a in by_patient[pid]
        )
        for pid, at in successes
    )
    assert 50 <= _share(converted, len(successes)) <= 85
    assert any(c["direction"] == "inbound" for c in clinic["communications"])

    followups = clinic["followups"]
    done = [f for f in followups if f["completed_at"] is not None]
    assert 40 <= _share(len(done), len(followups)) <= 90
    assert any(f["completed_at"] is None and f["due_at"] < AS_OF for f in followups)


# -- loading -------------------------------------------------------------------------------


def _count(session: Session, model: Any, org_id: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(model).where(model.org_id == org_id)) or 0
    )


def _counts(session: Session, org_id: str) -> dict[str, int]:
    return {kind: _count(session, model, org_id) for kind, model in MODELS.items()}


def test_load_writes_exactly_the_generated_rows(
    engine: Engine, org: OrgFixture, session: Session
) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = load_demo(engine, org.id, 150, 3, AS_OF, progress=lambda *args: calls.append(args))
    expected = rows(org.id, 150, 3, AS_OF, "UTC")  # the fixture org's timezone
    counts = {kind: len(items) for kind, items in expected.items()}
    assert counts == {
        "patients": summary.patients,
        "appointments": summary.appointments,
        "communications": summary.communications,
        "followups": summary.followups,
    }
    assert _counts(session, org.id) == counts
    assert summary.patients == 150 and summary.seconds > 0
    assert ("patients", 150, 150) in calls
    assert calls[-1] == ("patient state", 150, 150)

    for kind, model in MODELS.items():
        items = expected[kind]
        # A spread of rows, including ones with every optional value present.
        sample = items[:: max(1, len(items) // 25)]
        sample += [r for r in items if all(v is not None and v != [] for v in r.values())][:5]
        for row in sample:
            stored = session.get(model, (org.id, row["id"]))
            assert stored is not None
            assert {name: getattr(stored, name) for name in row} == row, (kind, row["id"])


def test_loading_into_an_org_with_patients_is_refused_and_changes_nothing(
    engine: Engine, org: OrgFixture, session: Session
) -> None:
    load_demo(engine, org.id, 20, 1, AS_OF)
    before = _counts(session, org.id)
    with pytest.raises(DemoError, match="already has patients"):
        load_demo(engine, org.id, 20, 2, AS_OF)
    assert _counts(session, org.id) == before


def test_loading_into_a_missing_org_is_refused(engine: Engine) -> None:
    with pytest.raises(DemoError, match="no org"):
        load_demo(engine, "org_that_does_not_exist", 5, 1, AS_OF)


def _failing_after(histories: int, duplicate: bool) -> Any:
    """A generator that breaks part-way: by raising, or by a row the database refuses."""
    real = generator.generate

    def generate(*args: Any) -> Iterator[PatientHistory]:
        for index, history in enumerate(real(*args)):
            if index == histories:
                if duplicate:
                    yield history
                    yield history
                    continue
                raise RuntimeError("generator broke")
            yield history

    return generate


@pytest.mark.parametrize("duplicate", [False, True], ids=["python error", "database error"])
def test_a_failed_load_leaves_no_partial_demo(
    engine: Engine,
    org: OrgFixture,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    duplicate: bool,
) -> None:
    monkeypatch.setattr(loader, "CHUNK_PATIENTS", 10)
    monkeypatch.setattr(loader, "generate", _failing_after(25, duplicate))
    with pytest.raises(Exception) as caught:
        load_demo(engine, org.id, 40, 1, AS_OF)
    assert isinstance(caught.value, RuntimeError) != duplicate
    assert _counts(session, org.id) == dict.fromkeys(MODELS, 0)
    load_demo(engine, org.id, 5, 1, AS_OF)  # and the org is still usable
    assert _count(session, Patient, org.id) == 5


def test_a_load_keeps_the_planner_statistics_fresh_as_the_tables_grow(
    engine: Engine, org: OrgFixture, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The foreign keys' checks are planned from the statistics the chunk's COPY finds: if
    no chunk analysed the tables, every check of a big load scans the patients (100,000
    took an hour). ANALYZE updates pg_class in place, so another connection sees it
    mid-load, while the load's rows themselves stay invisible until its commit."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    monkeypatch.setattr(loader, "CHUNK_PATIENTS", 600)
    others = session.scalar(select(func.count()).select_from(Patient)) or 0
    believed: dict[int, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "patients":
            with engine.connect() as other:
                believed[done] = other.scalar(
                    text("SELECT reltuples FROM pg_class WHERE relname = 'patients'")
                )

    load_demo(engine, org.id, 1800, 1, AS_OF, progress=progress)
    # Each chunk of 600 is more than a tenth of what the last ANALYZE counted.
    assert believed == {600: others + 600, 1200: others + 1200, 1800: others + 1800}


DERIVED_MODELS: tuple[Any, ...] = (PatientState, AttemptOutcome, RiskSpan, DailyRollup)


def _derived(session: Session, org_id: str) -> dict[str, Any]:
    """Every derived row of the org (without the org id), and its derived status."""
    out: dict[str, Any] = {}
    for model in DERIVED_MODELS:
        table = model.__table__
        columns = [c for c in table.columns if c.name != "org_id"]
        found = session.execute(select(*columns).where(table.c.org_id == org_id)).all()
        out[table.name] = sorted(tuple(row) for row in found)
    status = session.get(DerivedStatus, org_id)
    assert status is not None
    out["status"] = (status.settings_key, status.latest_at)
    return out


def test_worker_processes_build_the_derived_state_the_load_would_in_place(
    engine: Engine,
    org: OrgFixture,
    other_org: OrgFixture,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same clinic loaded twice: its derived rows computed in this process, and in two
    worker processes with several chunks in flight at once; then rebuilt by workers."""
    monkeypatch.setattr(loader, "CHUNK_PATIENTS", 40)
    calls: list[tuple[str, int, int]] = []
    load_demo(engine, org.id, 300, 5, AS_OF, workers=0)
    load_demo(engine, other_org.id, 300, 5, AS_OF, lambda *a: calls.append(a), workers=2)
    in_place = _derived(session, org.id)
    assert all(in_place.values()) and len(in_place["patient_state"]) == 300
    assert _derived(session, other_org.id) == in_place
    assert calls[-1] == ("patient state", 300, 300)
    assert [c for c in calls if c[0] == "patient state"] == [
        ("patient state", n, 300) for n in (*range(40, 300, 40), 300)
    ]
    settings = orgs_service.get_settings(session, other_org.id)
    assert upkeep.rebuild(session, other_org.id, settings, workers=2) == 300
    session.commit()
    assert _derived(session, other_org.id) == in_place


def test_a_failure_in_a_worker_process_leaves_no_partial_demo(
    engine: Engine, org: OrgFixture, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_PATIENTS", 40)
    real = derived_rows.derive

    def derive(org_id: str, settings: Any, histories: Any) -> Any:
        histories = list(histories)
        if any(h.id == "pat-000123" for h in histories):
            raise RuntimeError("worker broke")
        return real(org_id, settings, histories)

    monkeypatch.setattr(derived_rows, "derive", derive)  # workers are forked: they see it too
    status = session.get(DerivedStatus, org.id)
    before = status and (status.settings_key, status.latest_at)
    session.rollback()
    with pytest.raises(RuntimeError, match="worker broke"):
        load_demo(engine, org.id, 300, 5, AS_OF, workers=2)
    assert _counts(session, org.id) == dict.fromkeys(MODELS, 0)
    for model in DERIVED_MODELS:
        assert _count(session, model, org.id) == 0
    status = session.get(DerivedStatus, org.id)
    assert (status and (status.settings_key, status.latest_at)) == before


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner()
    monkeypatch.undo()
    get_settings.cache_clear()


def _invoke(runner: CliRunner, url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("REENGAGE_DATABASE_URL", url)
    get_settings.cache_clear()
    return runner.invoke(cli_app, ["demo", *args])


def test_demo_command_creates_the_org_and_prints_a_working_admin_key_last(
    database_url: str,
    engine: Engine,
    cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org_id = f"org_{uuid.uuid4().hex[:12]}"
    args = ["--patients", "30", "--seed", "2", "--as-of", "2026-11-24T17:00:00+11:00"]
    result = _invoke(
        cli_env, database_url, monkeypatch, org_id, *args, "--timezone", TIMEZONE, "--name", "Demo"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"loaded demo into {org_id}: 30 patients")
    assert "patients 30/30" in result.stderr
    with make_sessionmaker(engine)() as session:
        principal = auth_service.authenticate(session, lines[-1])
        session.commit()
        assert principal is not None
        assert (principal.org_id, principal.role) == (org_id, "admin")
        stored = session.get(Org, org_id)
        assert stored is not None and stored.name == "Demo"
        assert stored.settings["timezone"] == TIMEZONE
        assert _count(session, Patient, org_id) == 30

    again = _invoke(cli_env, database_url, monkeypatch, org_id, *args)
    assert again.exit_code == 1
    assert "already has patients" in again.stderr
    with make_sessionmaker(engine)() as session:
        assert _count(session, Patient, org_id) == 30


def test_demo_command_fills_an_existing_empty_org_without_a_new_key(
    database_url: str,
    org: OrgFixture,
    cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _invoke(cli_env, database_url, monkeypatch, org.id, "--patients", "12")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith(f"loaded demo into {org.id}: 12 patients")
    assert "rk_" not in result.output


def test_demo_command_refuses_an_as_of_without_offset_and_a_bad_org_id(
    database_url: str, cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    naive = _invoke(cli_env, database_url, monkeypatch, "org_x1", "--as-of", "2026-11-24T10:00")
    assert naive.exit_code == 1 and "offset" in naive.stderr
    bad = _invoke(cli_env, database_url, monkeypatch, "Bad Org!", "--patients", "3")
    assert bad.exit_code == 1 and "org id" in bad.stderr


def test_demo_command_refuses_a_database_that_is_not_migrated(
    tmp_path: Any, cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = _invoke(cli_env, url, monkeypatch, "org_new", "--patients", "3")
    assert result.exit_code == 1
    assert "reengage db upgrade" in result.stderr
