"""FHIR R4 imports: every official example in ``../shared/fixtures/fhir-r4-examples`` is
imported or left out with its reason; Bundles (urn:uuid references) and Bulk Data NDJSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.db.engine import make_sessionmaker
from reengage.imports import service
from reengage.imports.fhir_source import FhirSource
from tests.factories import OrgFixture, make_org
from tests.helpers import row_counts

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "fhir-r4-examples"
EXAMPLES = sorted(FIXTURES.glob("*.json"))
# What each example becomes: a record kind, or the reason it is left out (a part of it).
EXPECTED: dict[str, str] = {
    "appointment-example-request.json": "has no start",
    "appointment-example.json": "appointments",
    "appointment-example2doctors.json": "appointments",
    "appointmentresponse-example-req.json": "not AppointmentResponse",
    "appointmentresponse-example.json": "not AppointmentResponse",
    "communication-example-fm-attachment.json": "medium says neither",
    "communication-example-fm-solicited-attachment.json": "medium says neither",
    "communication-example.json": "medium says neither",
    "communicationrequest-example-fm-solicit-attachment.json": "has no subject Patient",
    "communicationrequest-example.json": "has no occurrence or authoredOn",
    "encounter-example-emerg.json": "'in-progress' is not a finished visit",
    "encounter-example-home.json": "encounters",
    "encounter-example.json": "'in-progress' is not a finished visit",
    "episodeofcare-example.json": "not EpisodeOfCare",
    "flag-example-encounter.json": "not Flag",
    "flag-example.json": "not Flag",
    "patient-example-infant-fetal.json": "has no name",
    "patient-example-newborn.json": "has no name",
    "patient-example-proband.json": "has no name",
}


def run(engine: Engine, org: OrgFixture, path: Path, **options: Any) -> service.Report:
    with make_sessionmaker(engine)() as session:
        source = FhirSource(path, ZoneInfo("UTC"), options.pop("phone_region", None))
        report = service.run(session, org.id, source, **options)
        if report.kept:
            session.commit()
    return report


def test_the_fixtures_are_there() -> None:
    assert len(EXAMPLES) >= 50


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_official_example_is_imported_or_left_out_with_its_reason(
    example: Path, tmp_path: Path
) -> None:
    # Dry runs on one database's worth of checks need no org data: a fresh folder per file.
    items = list(FhirSource(example, ZoneInfo("UTC"), "NL"))
    records = [i for i in items if isinstance(i, service.Item)]
    left_out = [i for i in items if isinstance(i, service.Found) and i.field is None]
    resource = json.loads(example.read_text())
    expected = EXPECTED.get(example.name)
    if expected is None:
        kind = {
            "Patient": "patients",
            "Appointment": "appointments",
            "Encounter": "encounters",
            "Task": "followups",
        }.get(resource["resourceType"])
        if resource["resourceType"] == "Encounter":
            # Finished, with a start: a visit; otherwise left out, saying why.
            finished = resource.get("status") == "finished" and "start" in resource.get(
                "period", {}
            )
            assert bool(records) == finished, [f.reason for f in left_out]
            if not finished:
                assert left_out and left_out[0].reason
            return
        if resource["resourceType"] == "Task":
            for_patient = "Patient/" in str(resource.get("for", {}).get("reference", ""))
            assert bool(records) == for_patient, [f.reason for f in left_out]
            if not for_patient:
                assert "is not for a Patient" in left_out[0].reason
            return
        assert kind is not None, f"{example.name}: add it to EXPECTED"
        expected = kind
    if expected in ("patients", "appointments", "encounters", "followups"):
        assert len(records) == 1, [f.reason for f in left_out]
        assert records[0].kind == ("appointments" if expected == "encounters" else expected)
        assert records[0].values["id"]
    else:
        assert not records
        assert len(left_out) == 1 and expected in left_out[0].reason


def test_the_whole_fixture_folder_imports_what_it_can(engine: Engine, client: TestClient) -> None:
    org = make_org(engine)
    report = run(engine, org, FIXTURES, phone_region="US")
    assert report.kept, [p.as_dict() for p in report.problems if p.refused]
    assert report.problem_count == 0
    patients = [e for e in EXAMPLES if json.loads(e.read_text())["resourceType"] == "Patient"]
    assert report.summary["patients"].created == len(patients) - 3  # three have no name
    counts = row_counts(engine, org.id)
    assert counts["patients"] == report.summary["patients"].created
    assert counts["appointments"] == report.summary["appointments"].created >= 2
    response = client.get(org.url("/patients/example"), headers=org.headers("staff"))
    assert response.status_code == 200
    peter = response.json()
    assert peter["name"] == "Peter James Chalmers"
    assert peter["status"] == "active"
    appointment = client.get(org.url("/appointments/example"), headers=org.headers("staff"))
    assert appointment.json()["patient_id"] == "example"
    assert appointment.json()["status"] == "scheduled"
    assert appointment.json()["starts_at"].startswith("2013-12-10T09:00:00")
    again = run(engine, org, FIXTURES, phone_region="US")
    assert again.kept
    assert all(t.created == t.updated == 0 for t in again.summary.values())


def _bundle() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": {
                    "resourceType": "Appointment",
                    "id": "ap1",
                    "status": "noshow",
                    "start": "2026-03-01T09:00:00+10:00",
                    "participant": [
                        {
                            "actor": {"reference": "urn:uuid:88f151c0-a954-468a-88f1-2b5f4a1a5d0d"},
                            "status": "accepted",
                        }
                    ],
                },
                "request": {"method": "PUT", "url": "Appointment/ap1"},
            },
            {
                "fullUrl": "urn:uuid:88f151c0-a954-468a-88f1-2b5f4a1a5d0d",
                "resource": {
                    "resourceType": "Patient",
                    "id": "pt1",
                    "name": [{"given": ["Sam"], "family": "Sample"}],
                    "telecom": [{"system": "phone", "value": "0412 345 678", "use": "mobile"}],
                },
                "request": {"method": "PUT", "url": "Patient/pt1"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "gone"},
                "request": {"method": "DELETE", "url": "Patient/gone"},
            },
        ],
    }


def test_a_transaction_bundle_resolves_its_references(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    org = make_org(engine)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()))
    report = run(engine, org, path, phone_region="AU")
    assert report.kept, [p.as_dict() for p in report.problems]
    assert report.summary["patients"].created == 1
    assert report.summary["appointments"].created == 1
    assert report.skipped_count == 1  # the delete
    patient = client.get(org.url("/patients/pt1"), headers=org.headers("staff")).json()
    assert patient["phone"] == "+61412345678"
    assert patient["name"] == "Sam Sample"
    appointment = client.get(org.url("/appointments/ap1"), headers=org.headers("staff")).json()
    assert appointment["patient_id"] == "pt1"
    assert appointment["status"] == "no_show"


def test_bulk_data_ndjson_files_in_a_folder(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    org = make_org(engine)
    folder = tmp_path / "export"
    folder.mkdir()
    patients = [
        {"resourceType": "Patient", "id": f"b{n}", "name": [{"text": f"Bulk Person {n}"}]}
        for n in range(30)
    ]
    encounters = [
        {
            "resourceType": "Encounter",
            "id": f"e{n}",
            "status": "finished",
            "class": {"code": "AMB", "display": "ambulatory"},
            "subject": {"reference": f"Patient/b{n % 30}"},
            "period": {"start": f"2026-0{1 + n % 9}-1{n % 10}T10:00:00Z"},
        }
        for n in range(60)
    ]
    tasks = [
        {
            "resourceType": "Task",
            "id": "t1",
            "status": "requested",
            "intent": "order",
            "for": {"reference": "Patient/b1"},
            "authoredOn": "2026-05-01T09:00:00Z",
            "description": "Call about the next block of sessions",
        }
    ]
    # Written out of order: the patients' file is read first all the same.
    (folder / "Task.ndjson").write_text("\n".join(json.dumps(t) for t in tasks) + "\n")
    (folder / "Encounter.000.ndjson").write_text("\n".join(json.dumps(e) for e in encounters))
    (folder / "Patient.ndjson").write_text("\n".join(json.dumps(p) for p in patients) + "\n\n")
    report = run(engine, org, folder)
    assert report.kept, [p.as_dict() for p in report.problems]
    assert report.summary["patients"].created == 30
    assert report.summary["appointments"].created == 60
    assert report.summary["followups"].created == 1
    visit = client.get(org.url("/appointments/encounter-e3"), headers=org.headers("staff"))
    assert visit.json()["status"] == "completed"
    assert visit.json()["patient_id"] == "b3"
    listed = client.get(
        org.analytics("/patients/prioritized?limit=100"), headers=org.headers("staff")
    ).json()
    assert listed["summary"]["total"] == 30  # every one drifting: their visits are months old


def test_invalid_fhir_is_refused_and_keeps_nothing(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    path = tmp_path / "bad.ndjson"
    good = {"resourceType": "Patient", "id": "ok", "name": [{"text": "Fine Sample"}]}
    bad = {"resourceType": "Appointment", "id": "x", "status": "not-a-status"}
    path.write_text(json.dumps(good) + "\nnot json\n" + json.dumps(bad) + "\n")
    report = run(engine, org, path)
    assert not report.kept
    assert row_counts(engine, org.id)["patients"] == 0
    where = {p.at for p in report.problems if p.refused}
    assert "line 2" in where and "Appointment/x" in where
