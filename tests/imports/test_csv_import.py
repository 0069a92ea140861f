"""CSV imports through the built-in profiles, on both databases: each shipped sample round-
trips (the same stored records and the same analytics as its records sent through
``POST /batch``), a dry run writes nothing, one bad row keeps nothing and is named, and
importing again changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from reengage.cli import app as cli_app
from reengage.db.engine import make_sessionmaker
from reengage.demo import import_samples
from reengage.domain import phones
from reengage.imports import profiles, service, sources
from reengage.imports.csv_source import CsvSource, sniff_delimiter, unescape
from tests.factories import OrgFixture, make_org
from tests.helpers import row_counts

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "imports" / "samples"
STAMPS = {"received_at", "updated_at"}
KINDS = ("patients", "appointments", "communications", "followups")


def run_import(
    engine: Engine, org: OrgFixture, path: Path, profile: str, **options: Any
) -> service.Report:
    with make_sessionmaker(engine)() as session:
        source = CsvSource(path, profiles.load(profile, import_samples.TIMEZONE))
        report = service.run(session, org.id, source, **options)
        if report.kept:
            session.commit()
    return report


def send(client: TestClient, org: OrgFixture, **kinds: list[dict[str, Any]]) -> None:
    response = client.post(org.url("/batch"), json=kinds, headers=org.headers("ingest"))
    assert response.status_code == 200, response.text


def stored(client: TestClient, org: OrgFixture, kind: str) -> list[dict[str, Any]]:
    response = client.get(org.url(f"/{kind}?limit=500"), headers=org.headers("staff"))
    assert response.status_code == 200, response.text
    return [{k: v for k, v in row.items() if k not in STAMPS} for row in response.json()["items"]]


def figures(client: TestClient, org: OrgFixture) -> dict[str, Any]:
    answers = {}
    for path in ("/risk-metrics", "/patients/prioritized?limit=100", "/performance", "/trends"):
        response = client.get(org.analytics(path), headers=org.headers("staff"))
        assert response.status_code == 200, response.text
        body = response.json()
        for stamp in ("last_updated", "organization_id"):
            body.pop(stamp)
        answers[path] = body
    return answers


@pytest.mark.parametrize("profile", profiles.builtin_names())
def test_each_profiles_sample_is_shipped_as_generated(profile: str) -> None:
    shipped = (SAMPLES / f"{profile}.csv").read_bytes()
    assert shipped == import_samples.sample(profile).text.encode("utf-8")


@pytest.mark.parametrize("profile", profiles.builtin_names())
def test_each_sample_round_trips_like_the_batch_api(
    profile: str, engine: Engine, client: TestClient
) -> None:
    sample = import_samples.sample(profile)
    imported = make_org(engine, timezone=import_samples.TIMEZONE)
    batched = make_org(engine, timezone=import_samples.TIMEZONE)
    for org in (imported, batched):
        if sample.prior_patients:
            send(client, org, patients=sample.prior_patients)
    report = run_import(engine, imported, SAMPLES / f"{profile}.csv", profile)
    assert report.kept, [p.as_dict() for p in report.problems]
    assert report.problem_count == 0
    assert 0 < report.deriving_seconds < report.seconds
    sent = {kind: getattr(sample, kind) for kind in KINDS}
    send(client, batched, **sent)

    for kind in KINDS:
        assert report.summary[kind].created == len(sent[kind])
        assert stored(client, imported, kind) == stored(client, batched, kind)
    assert len(stored(client, imported, "patients")) == len(sample.patients) + len(
        sample.prior_patients
    )
    assert figures(client, imported) == figures(client, batched)

    again = run_import(engine, imported, SAMPLES / f"{profile}.csv", profile)
    assert again.kept
    for tally in again.summary.values():
        assert (tally.created, tally.updated, tally.refused) == (0, 0, 0)
    for kind in KINDS:
        assert again.summary[kind].unchanged == len(sent[kind])


def test_a_dry_run_checks_everything_and_writes_nothing(engine: Engine) -> None:
    org = make_org(engine, timezone=import_samples.TIMEZONE)
    report = run_import(
        engine, org, SAMPLES / "cliniko-appointments.csv", "cliniko-appointments", dry_run=True
    )
    assert not report.kept and report.problem_count == 0
    sample = import_samples.sample("cliniko-appointments")
    assert report.summary["appointments"].created == len(sample.appointments)
    assert row_counts(engine, org.id)["appointments"] == 0
    assert row_counts(engine, org.id)["patients"] == 0


def test_one_bad_row_keeps_nothing_and_is_named(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine, timezone=import_samples.TIMEZONE)
    lines = (SAMPLES / "d4w-patients.csv").read_text().splitlines()
    broken = lines[7].split(",")
    broken[5] = "31/31/2025"  # created_date in no format the profile knows
    lines[7] = ",".join(broken)
    lines[12] = lines[12].replace(",0412", ",0999", 1) if ",0412" in lines[12] else lines[12]
    path = tmp_path / "patients.csv"
    path.write_text("\n".join(lines) + "\n")
    report = run_import(engine, org, path, "d4w-patients")
    assert not report.kept
    assert row_counts(engine, org.id)["patients"] == 0
    found = [(p.at, p.field) for p in report.problems]
    assert ("row 8", "created_date (registered_at)") in found
    assert report.summary["patients"].refused == len({at for at, _ in found})
    assert report.summary["patients"].created == 0
    reasons = " ".join(p.reason for p in report.problems)
    assert "%Y-%m-%d %H:%M:%S" in reasons
    assert "31/31/2025" not in reasons  # values are never echoed


def test_a_refused_patient_whose_visits_follow_keeps_nothing_without_a_traceback(
    engine: Engine, tmp_path: Path
) -> None:
    """The patient fails its own checks (no name); its visit, later in the same import,
    names it. Nothing is written (not even the visit, which would break its foreign key), and
    the report names the patient's row."""
    org = make_org(engine, timezone="UTC")
    patients = tmp_path / "patients.csv"
    patients.write_text(
        "id,name,phone,email,status,registered_at,communication_preferences,opt_outs,"
        "health_conditions,referral_source,last_treatment_outcome\n"
        "p1,Ann Sample,,,active,,,,,,\np2,,,,active,,,,,,\n"
    )
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "id,patient_id,starts_at,status,booked_at,type,practitioner\n"
        "a1,p2,2025-01-02T09:00:00Z,completed,,,\n"
    )
    with make_sessionmaker(engine)() as session:
        source = sources.Chained(
            [
                CsvSource(patients, profiles.load("reengage-patients", "UTC")),
                CsvSource(visits, profiles.load("reengage-appointments", "UTC")),
            ]
        )
        report = service.run(session, org.id, source)
        assert not report.kept
        session.rollback()
    assert [(p.source, p.at, p.field) for p in report.problems] == [
        ("patients.csv", "row 3", "name")
    ]
    assert report.summary["appointments"].refused == 0
    counts = row_counts(engine, org.id)
    assert (counts["patients"], counts["appointments"]) == (0, 0)


@pytest.mark.parametrize(
    ("written", "region", "kept"),
    [
        ("+61471250977", None, "+61471250977"),  # a range libphonenumber's tables lack
        ("0412 345 678", "AU", "+61412345678"),
        ("(02) 9876 5432", "AU", "+61298765432"),
        ("0412 345 678", None, None),  # national, and no region to read it in
        ("123", "AU", None),
        ("call me", "AU", None),
    ],
)
def test_a_phone_is_kept_when_possible_for_its_country(
    written: str, region: str | None, kept: str | None
) -> None:
    assert phones.e164(written, region) == kept


def test_keep_valid_writes_the_rest_and_refuses_what_names_a_refused_patient(
    engine: Engine, tmp_path: Path
) -> None:
    org = make_org(engine, timezone="UTC")
    path = tmp_path / "wide.csv"
    path.write_text(
        "id,patient_id,starts_at,status,booked_at,type,practitioner\n"
        "a1,p1,2025-01-02T09:00:00Z,completed,,,\n"
        "a2,p1,2025-01-09T09:00:00Z,no-such-status,,,\n"
        "a3,nobody,2025-01-09T09:00:00Z,completed,,,\n"
    )
    with make_sessionmaker(engine)() as session:
        from reengage.records import service as records
        from reengage.records.schemas import PatientIn

        sent = records.Sent("p1", PatientIn(id="p1", name="Pat Sample", status="active"))
        records.upsert_records(session, org.id, {"patients": [sent]}, lambda *_: ())
        session.commit()
    report = run_import(engine, org, path, "reengage-appointments", keep_valid=True)
    assert report.kept
    assert report.summary["appointments"].created == 1
    assert report.summary["appointments"].refused == 2
    assert {(p.at, p.field) for p in report.problems} == {
        ("row 3", "status"),
        ("row 4", "patient_id"),
    }
    assert row_counts(engine, org.id)["appointments"] == 1


def test_a_missing_column_is_named_before_any_row(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    path = tmp_path / "short.csv"
    path.write_text("Patient ID,First Name\n1,Ann\n")
    report = run_import(engine, org, path, "cliniko-patients")
    assert not report.kept
    missing = {p.field for p in report.problems}
    assert "Last Name" in missing and "Email" in missing
    assert all(p.at == "row 1" for p in report.problems)


def test_a_repeated_id_with_other_values_is_refused(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    path = tmp_path / "dupes.csv"
    header = "id,name,phone,email,status,registered_at,communication_preferences,opt_outs,"
    header += "health_conditions,referral_source,last_treatment_outcome\n"
    path.write_text(
        header + "p1,Ann Sample,,,active,,,,,,\np1,Ann Sample,,,active,,,,,,\n"
        "p1,Ann Other,,,active,,,,,,\n"
    )
    report = run_import(engine, org, path, "reengage-patients")
    assert not report.kept
    assert [(p.at, p.reason) for p in report.problems] == [
        ("row 4", "patient 'p1' is also at row 2, with other values")
    ]


def test_excel_quirks() -> None:
    assert unescape('="0123"') == "0123"
    assert unescape("0123") == "0123"
    assert unescape('=""') == ""
    assert sniff_delimiter("a;b;c\r\n") == ";"
    assert sniff_delimiter('"a,b";c;d') == ";"
    assert sniff_delimiter("a\tb\tc") == "\t"
    assert sniff_delimiter("single") == ","


def test_a_file_not_in_the_profiles_encoding_is_refused_clearly(
    engine: Engine, tmp_path: Path
) -> None:
    org = make_org(engine)
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name,status\np1,Zoë Sample,active\n".encode("cp1252"))
    profile = tmp_path / "p.toml"
    profile.write_text('[patients]\nid = "id"\nname = "name"\nstatus = "status"\n')
    report = run_import(engine, org, path, str(profile))
    assert not report.kept
    assert "cp1252" in report.problems[0].reason


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[patient]\nid = "x"', "'patient' is not a profile key"),
        ('[patients]\nid = "x"\nname = "n"\nstatus = "s"\nphon = "p"', "patients.phon is not"),
        ('[appointments]\nid = "x"\npatient_id = "p"\nstatus = "s"', "starts_at"),
        ('timezone = "Mars/Base"\n[patients]\nid = "x"', "not an IANA time zone"),
        ('phone_region = "XX"\n[patients]\nid = "x"', "not a region code"),
        ("not toml [", "is not valid TOML"),
        ('patients = "x"', "must be a table"),
    ],
)
def test_a_profile_mistake_names_the_key(text: str, complaint: str) -> None:
    with pytest.raises(profiles.ProfileError, match=complaint):
        profiles.parse(text, "UTC")


def test_the_cli_imports_with_a_summary_and_fails_on_refusal(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    org = make_org(engine, timezone=import_samples.TIMEZONE)
    monkeypatch.setenv("REENGAGE_DATABASE_URL", database_url)
    from reengage.config import get_settings

    get_settings.cache_clear()
    try:
        sample = str(SAMPLES / "cliniko-patients.csv")
        dry = CliRunner().invoke(
            cli_app, ["import", "csv", org.id, sample, "--profile", "cliniko-patients", "--dry-run"]
        )
        assert dry.exit_code == 0, dry.output
        assert "dry run: nothing written" in dry.output
        assert row_counts(engine, org.id)["patients"] == 0
        done = CliRunner().invoke(
            cli_app, ["import", "csv", org.id, sample, "--profile", "cliniko-patients"]
        )
        assert done.exit_code == 0, done.output
        assert "patients\t40\t0\t0\t0" in done.output
        bad = tmp_path / "bad.csv"
        bad.write_text("id,name,status\np9,,active\n")
        refused = CliRunner().invoke(
            cli_app, ["import", "csv", org.id, str(bad), "--profile", "reengage-patients"]
        )
        assert refused.exit_code == 1
        assert "refused: nothing written" in refused.output
        unknown = CliRunner().invoke(
            cli_app, ["import", "csv", "org_nobody", sample, "--profile", "cliniko-patients"]
        )
        assert unknown.exit_code == 1 and "no org 'org_nobody'" in unknown.output
    finally:
        get_settings.cache_clear()
    assert row_counts(engine, org.id)["patients"] == 40


def test_several_files_are_one_import_and_a_later_one_may_name_earlier_patients(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    org = make_org(engine, timezone=import_samples.TIMEZONE)
    monkeypatch.setenv("REENGAGE_DATABASE_URL", database_url)
    from reengage.config import get_settings

    patients = tmp_path / "patients.csv"
    patients.write_text(
        "id,name,phone,email,status,registered_at,communication_preferences,opt_outs,"
        "health_conditions,referral_source,last_treatment_outcome\n"
        "p1,Ann Sample,,,active,,,,,,\np2,Bo Example,,,active,,,,,,\n"
    )
    visits = tmp_path / "visits.csv"
    header = "id,patient_id,starts_at,status,booked_at,type,practitioner\n"
    visits.write_text(header + "a1,p1,2025-03-03 09:00:00,completed,,,\n")
    bad_visits = tmp_path / "bad-visits.csv"
    bad_visits.write_text(header + "a2,p2,2025-03-04 09:00:00,completed,,,\na3,p9,nope,done,,,\n")
    profile = ["--profile", "reengage-patients", "--profile", "reengage-appointments"]
    get_settings.cache_clear()
    try:
        run = CliRunner().invoke
        mismatch = run(cli_app, ["import", "csv", org.id, str(patients), str(visits), *profile[:2],
                                 "--profile", "reengage-patients", "--profile", "x"])  # fmt: skip
        assert mismatch.exit_code == 1
        assert "one per file: 2 file(s), 3 profile(s)" in mismatch.output
        refused = run(cli_app, ["import", "csv", org.id, str(patients), str(bad_visits), *profile])
        assert refused.exit_code == 1, refused.output
        assert "refused: nothing written" in refused.output
        assert "bad-visits.csv, row 3" in refused.output
        assert row_counts(engine, org.id)["patients"] == 0  # the good first file is not kept
        done = run(cli_app, ["import", "csv", org.id, str(patients), str(visits), *profile])
        assert done.exit_code == 0, done.output
        assert "patients\t2\t0\t0\t0" in done.output
        assert "appointments\t1\t0\t0\t0" in done.output
    finally:
        get_settings.cache_clear()
    counts = row_counts(engine, org.id)
    assert (counts["patients"], counts["appointments"]) == (2, 1)
