"""``POST /imports`` runs the same import as the CLI as a background job; ``GET
/imports/{id}`` answers its status and report. Admin and ingest keys only; another org's
job is a 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.demo import import_samples
from tests.factories import OrgFixture, make_org
from tests.helpers import problems, row_counts

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "imports" / "samples"


def upload(
    client: TestClient,
    org: OrgFixture,
    name: str,
    content: bytes,
    role: str = "ingest",
    **form: Any,
) -> Any:
    return client.post(
        org.url("/imports"),
        files={"file": (name, content, "text/csv")},
        data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()},
        headers=org.headers(role),
    )


def test_an_upload_is_imported_and_its_report_read_back(engine: Engine, client: TestClient) -> None:
    org = make_org(engine, timezone=import_samples.TIMEZONE)
    content = (SAMPLES / "cliniko-appointments.csv").read_bytes()
    queued = upload(
        client, org, "Appointments.csv", content, format="csv", profile="cliniko-appointments"
    )
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["id"].startswith("imp_") and job["file_bytes"] == len(content)
    # The test client runs the background task before it answers: the job is done.
    got = client.get(org.url(f"/imports/{job['id']}"), headers=org.headers("ingest"))
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "done", body
    sample = import_samples.sample("cliniko-appointments")
    assert body["report"]["summary"]["appointments"]["created"] == len(sample.appointments)
    assert body["report"]["kept"] is True
    assert row_counts(engine, org.id)["appointments"] == len(sample.appointments)
    assert (
        client.get(org.url(f"/imports/{job['id']}"), headers=org.headers("admin")).status_code
        == 200
    )


def test_a_refused_upload_keeps_nothing_and_names_the_row(
    engine: Engine, client: TestClient
) -> None:
    org = make_org(engine)
    content = b"id,name,status\np1,Ann Sample,active\np2,Bo Sample,retired\n"
    profile = "reengage-patients"
    queued = upload(client, org, "p.csv", content, format="csv", profile=profile)
    assert queued.status_code == 202
    body = client.get(org.url(f"/imports/{queued.json()['id']}"), headers=org.headers()).json()
    assert body["status"] == "refused"
    # The profile reads columns this file lacks: named before any row.
    assert {p["field"] for p in body["report"]["problems"]} >= {"phone", "email"}
    assert row_counts(engine, org.id)["patients"] == 0


def test_a_dry_run_upload_of_fhir(engine: Engine, client: TestClient) -> None:
    org = make_org(engine)
    ndjson = b'{"resourceType": "Patient", "id": "x1", "name": [{"text": "Nd Sample"}]}\n'
    queued = upload(client, org, "Patient.ndjson", ndjson, format="fhir", dry_run=True)
    assert queued.status_code == 202, queued.text
    body = client.get(org.url(f"/imports/{queued.json()['id']}"), headers=org.headers()).json()
    assert body["status"] == "done" and body["dry_run"] is True
    assert body["report"]["summary"]["patients"]["created"] == 1
    assert body["report"]["kept"] is False
    assert row_counts(engine, org.id)["patients"] == 0


def test_bad_requests_name_the_field(engine: Engine, client: TestClient) -> None:
    org = make_org(engine)
    bad_format = upload(client, org, "a.csv", b"x\n", format="xlsx")
    assert bad_format.status_code == 422 and "format" in problems(bad_format)
    no_profile = upload(client, org, "a.csv", b"x\n", format="csv")
    assert no_profile.status_code == 422 and "profile" in problems(no_profile)
    unknown = upload(client, org, "a.csv", b"x\n", format="csv", profile="nosuch")
    assert unknown.status_code == 422 and "no built-in profile" in problems(unknown)["profile"]
    path = upload(client, org, "a.csv", b"x\n", format="csv", profile="/etc/passwd")
    assert path.status_code == 422 and "profile" in problems(path)
    region = upload(client, org, "a.json", b"{}", format="fhir", phone_region="XX")
    assert region.status_code == 422 and "phone_region" in problems(region)
    missing = client.post(org.url("/imports"), data={"format": "csv"}, headers=org.headers())
    assert missing.status_code == 422 and "file" in problems(missing)


def test_only_admin_and_ingest_keys_import_and_orgs_are_apart(
    engine: Engine, client: TestClient
) -> None:
    org, other = make_org(engine), make_org(engine)
    for role in ("staff", "viewer"):
        refused = upload(
            client, org, "a.csv", b"x\n", role=role, format="csv", profile="reengage-patients"
        )
        assert refused.status_code == 403
    queued = upload(client, org, "a.csv", b"id,name\n", format="csv", profile="reengage-patients")
    job_id = queued.json()["id"]
    assert client.get(other.url(f"/imports/{job_id}"), headers=other.headers()).status_code == 404
    assert client.get(org.url(f"/imports/{job_id}"), headers=other.headers()).status_code == 404
    assert (
        client.get(org.url(f"/imports/{job_id}"), headers=org.headers("staff")).status_code == 403
    )
    unknown = client.get(org.url("/imports/imp_0000000000000000"), headers=org.headers())
    assert unknown.status_code == 404
    assert client.post(org.url("/imports")).status_code == 401


def test_a_broken_multipart_upload_is_a_422_naming_the_body(
    engine: Engine, client: TestClient
) -> None:
    """Starlette answers a part header with a bare carriage return with its own 400; the
    API answers 422 in its error shape (found by the schema test's fuzzing)."""
    org = make_org(engine)
    boundary = "0d37f771f3609e9baf6be26654101f5f"
    response = client.post(
        org.url("/imports"),
        content=f"--{boundary}\r\nTrue--{boundary}--\r\n".encode(),
        headers=org.headers("ingest")
        | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422
    assert "multipart/form-data" in problems(response)["body"]
    assert row_counts(engine, org.id)["patients"] == 0
