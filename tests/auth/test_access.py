"""Who may call what: the roles x routes matrix, org isolation, and authentication.

The matrix is checked against the app's own route table, so a route added without an entry
here fails ``test_matrix_covers_every_api_route``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from reengage.auth import service as auth_service
from reengage.db.engine import make_sessionmaker
from reengage.models import ApiKey
from tests.factories import OrgFixture, appointment, communication, followup, patient
from tests.helpers import problems, snapshot

ROLES = ("admin", "staff", "ingest", "viewer")
ORG = "/api/v1/orgs/{org_id}"
ANALYTICS = "/api/v1/reengagement/{org_id}"
KINDS = {
    "patients": patient,
    "appointments": appointment,
    "communications": communication,
    "followups": followup,
}
NO_ALERT = "alr_0000000000000000"
NO_ENDPOINT = "whe_0000000000000000"
NO_CAMPAIGN = "cmp_0000000000000000"
NO_BATCH = "cib_0000000000000000"
SID = "AC" + "0" * 32
SEEDED_IDS = {"patients": "p1", "appointments": "a1", "communications": "c1", "followups": "f1"}


def statuses(ok: int, *allowed: str) -> dict[str, int]:
    """The exact status per role: ``ok`` for the roles named, 403 for the others."""
    return {role: ok if role in allowed else 403 for role in ROLES}


@dataclass(frozen=True)
class Call:
    """How to exercise a route for one role: a path under the org, and a body."""

    path: Callable[[str], str]  # role -> path below /api/v1/{api}/{org_id}
    body: Callable[[str], Any] | None = None
    api: str = "orgs"  # or "reengagement", the analytics

    def url(self, org_id: str, path: str) -> str:
        return f"/api/v1/{self.api}/{org_id}{path}"


def _put_call(kind: str) -> Call:
    def body(role: str) -> Any:
        record = KINDS[kind](f"{kind}-{role}")
        return record if kind == "patients" else record | {"patient_id": "p1"}

    return Call(lambda role: f"/{kind}/{kind}-{role}", body)


# The spare key each role's DELETE /keys/{key_id} revokes is named "spare-<role>".
MATRIX: dict[tuple[str, str], tuple[Call, dict[str, int]]] = {}
for _kind in KINDS:
    MATRIX[("PUT", f"{ORG}/{_kind}/{{record_id}}")] = (
        _put_call(_kind),
        statuses(201, "admin", "staff", "ingest"),
    )
    MATRIX[("GET", f"{ORG}/{_kind}/{{record_id}}")] = (
        Call(lambda role, k=_kind: f"/{k}/{SEEDED_IDS[k]}"),
        statuses(200, "admin", "staff"),
    )
    MATRIX[("GET", f"{ORG}/{_kind}")] = (
        Call(lambda role, k=_kind: f"/{k}"),
        statuses(200, "admin", "staff"),
    )
MATRIX.update(
    {
        ("POST", f"{ORG}/batch"): (
            Call(lambda role: "/batch", lambda role: {"patients": [patient(f"batch-{role}")]}),
            statuses(200, "admin", "staff", "ingest"),
        ),
        # A JSON body is no upload: the roles that may import get the 422 naming the file.
        ("POST", f"{ORG}/imports"): (
            Call(lambda role: "/imports", lambda role: {"format": "csv"}),
            statuses(422, "admin", "ingest"),
        ),
        ("GET", f"{ORG}/imports/{{job_id}}"): (
            Call(lambda role: "/imports/imp_0000000000000000"),
            statuses(404, "admin", "ingest"),
        ),
        ("GET", f"{ORG}/settings"): (Call(lambda role: "/settings"), statuses(200, "admin")),
        ("GET", f"{ORG}/providers"): (Call(lambda role: "/providers"), statuses(200, "admin")),
        ("GET", f"{ORG}/provider-events"): (
            Call(lambda role: "/provider-events"),
            statuses(200, "admin"),
        ),
        ("PUT", f"{ORG}/providers/{{provider}}"): (
            Call(lambda role: "/providers/twilio", lambda role: {"secret": f"token-{role}"}),
            statuses(200, "admin"),
        ),
        ("PATCH", f"{ORG}/settings"): (
            Call(lambda role: "/settings", lambda role: {"attribution_window_days": 21}),
            statuses(200, "admin"),
        ),
        ("GET", f"{ORG}/keys"): (Call(lambda role: "/keys"), statuses(200, "admin")),
        ("POST", f"{ORG}/keys"): (
            Call(lambda role: "/keys", lambda role: {"role": "viewer", "label": role}),
            statuses(201, "admin"),
        ),
        ("DELETE", f"{ORG}/keys/{{key_id}}"): (
            Call(lambda role: f"/keys/spare-{role}"),
            statuses(200, "admin"),
        ),
        ("GET", f"{ANALYTICS}/risk-metrics"): (
            Call(lambda role: "/risk-metrics", api="reengagement"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ANALYTICS}/overview"): (
            Call(lambda role: "/overview", api="reengagement"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ANALYTICS}/kpis"): (
            Call(lambda role: "/kpis", api="reengagement"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ANALYTICS}/performance"): (
            Call(lambda role: "/performance", api="reengagement"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ANALYTICS}/trends"): (
            Call(lambda role: "/trends?period=7d", api="reengagement"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ANALYTICS}/patients/prioritized"): (
            Call(lambda role: "/patients/prioritized", api="reengagement"),
            statuses(200, "admin", "staff"),
        ),
        # The alert inbox names patients; a viewer sees the counts and the rules.
        ("GET", f"{ORG}/alerts"): (Call(lambda role: "/alerts"), statuses(200, "admin", "staff")),
        ("GET", f"{ORG}/alerts/summary"): (
            Call(lambda role: "/alerts/summary"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ORG}/alerts/rules"): (
            Call(lambda role: "/alerts/rules"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("PATCH", f"{ORG}/alerts/rules"): (
            Call(lambda role: "/alerts/rules", lambda role: {"critical_share": {"above_pct": 6}}),
            statuses(200, "admin"),
        ),
        ("GET", f"{ORG}/alerts/{{alert_id}}"): (
            Call(lambda role: f"/alerts/{NO_ALERT}"),
            statuses(404, "admin", "staff"),
        ),
        ("POST", f"{ORG}/alerts/{{alert_id}}/acknowledge"): (
            Call(lambda role: f"/alerts/{NO_ALERT}/acknowledge"),
            statuses(404, "admin", "staff"),
        ),
        ("POST", f"{ORG}/alerts/{{alert_id}}/resolve"): (
            Call(lambda role: f"/alerts/{NO_ALERT}/resolve"),
            statuses(404, "admin", "staff"),
        ),
        ("GET", f"{ORG}/webhook-endpoints"): (
            Call(lambda role: "/webhook-endpoints"),
            statuses(200, "admin"),
        ),
        ("POST", f"{ORG}/webhook-endpoints"): (
            Call(
                lambda role: "/webhook-endpoints",
                lambda role: {"url": f"http://127.0.0.1:9/{role}"},
            ),
            statuses(201, "admin"),
        ),
        ("GET", f"{ORG}/webhook-endpoints/{{endpoint_id}}"): (
            Call(lambda role: f"/webhook-endpoints/{NO_ENDPOINT}"),
            statuses(404, "admin"),
        ),
        ("PATCH", f"{ORG}/webhook-endpoints/{{endpoint_id}}"): (
            Call(
                lambda role: f"/webhook-endpoints/{NO_ENDPOINT}", lambda role: {"description": role}
            ),
            statuses(404, "admin"),
        ),
        ("DELETE", f"{ORG}/webhook-endpoints/{{endpoint_id}}"): (
            Call(lambda role: f"/webhook-endpoints/{NO_ENDPOINT}"),
            statuses(404, "admin"),
        ),
        ("POST", f"{ORG}/webhook-endpoints/{{endpoint_id}}/rotate-secret"): (
            Call(lambda role: f"/webhook-endpoints/{NO_ENDPOINT}/rotate-secret"),
            statuses(404, "admin"),
        ),
        ("POST", f"{ORG}/webhook-endpoints/{{endpoint_id}}/test"): (
            Call(lambda role: f"/webhook-endpoints/{NO_ENDPOINT}/test"),
            statuses(404, "admin"),
        ),
        # No recipients are configured: the admin learns so (409).
        ("POST", f"{ORG}/digest/test"): (Call(lambda role: "/digest/test"), statuses(409, "admin")),
        ("GET", f"{ORG}/deliveries"): (Call(lambda role: "/deliveries"), statuses(200, "admin")),
        ("GET", f"{ORG}/jobs"): (Call(lambda role: "/jobs"), statuses(200, "admin")),
        ("PUT", f"{ORG}/providers/twilio/sending"): (
            Call(
                lambda role: "/providers/twilio/sending",
                lambda role: {"account_sid": SID, "sender": "+61255501234"},
            ),
            statuses(200, "admin"),
        ),
        ("PUT", f"{ORG}/providers/sendgrid/sending"): (
            Call(
                lambda role: "/providers/sendgrid/sending",
                lambda role: {"api_key": "SG.k0123456789.abcdefgh", "from_email": "a@b.example"},
            ),
            statuses(200, "admin"),
        ),
        # Check-ins: admins set campaigns up, staff approve the batches, which name patients;
        # a viewer sees the counts and the uplift.
        ("POST", f"{ORG}/checkins/campaigns"): (
            Call(
                lambda role: "/checkins/campaigns",
                lambda role: {"booking_link": "https://b.example", "clinic_phone": "02 5550 1234"},
            ),
            statuses(201, "admin"),
        ),
        ("GET", f"{ORG}/checkins/campaigns"): (
            Call(lambda role: "/checkins/campaigns"),
            statuses(200, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ORG}/checkins/campaigns/{{campaign_id}}"): (
            Call(lambda role: f"/checkins/campaigns/{NO_CAMPAIGN}"),
            statuses(404, "admin", "staff", "viewer"),
        ),
        ("PATCH", f"{ORG}/checkins/campaigns/{{campaign_id}}"): (
            Call(lambda role: f"/checkins/campaigns/{NO_CAMPAIGN}", lambda role: {"name": role}),
            statuses(404, "admin"),
        ),
        ("GET", f"{ORG}/checkins/campaigns/{{campaign_id}}/preview"): (
            Call(lambda role: f"/checkins/campaigns/{NO_CAMPAIGN}/preview"),
            statuses(404, "admin", "staff"),
        ),
        ("GET", f"{ORG}/checkins/campaigns/{{campaign_id}}/batches"): (
            Call(lambda role: f"/checkins/campaigns/{NO_CAMPAIGN}/batches"),
            statuses(404, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ORG}/checkins/campaigns/{{campaign_id}}/uplift"): (
            Call(lambda role: f"/checkins/campaigns/{NO_CAMPAIGN}/uplift"),
            statuses(404, "admin", "staff", "viewer"),
        ),
        ("GET", f"{ORG}/checkins/batches/{{batch_id}}"): (
            Call(lambda role: f"/checkins/batches/{NO_BATCH}"),
            statuses(404, "admin", "staff"),
        ),
        ("POST", f"{ORG}/checkins/batches/{{batch_id}}/approve"): (
            Call(lambda role: f"/checkins/batches/{NO_BATCH}/approve"),
            statuses(404, "admin", "staff"),
        ),
        ("POST", f"{ORG}/checkins/batches/{{batch_id}}/cancel"): (
            Call(lambda role: f"/checkins/batches/{NO_BATCH}/cancel"),
            statuses(404, "admin", "staff"),
        ),
    }
)


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every API route, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            inner_prefix = prefix + getattr(route.include_context, "prefix", "")
            yield from api_routes(route.original_router.routes, inner_prefix)
        elif hasattr(route, "routes"):  # a mount or a router of older FastAPI versions
            yield from api_routes(list(route.routes), prefix + getattr(route, "path", ""))


def test_matrix_covers_every_api_route(app: FastAPI) -> None:
    routes = {(method, path) for method, path in api_routes(app.routes) if path.startswith("/api/")}
    assert routes == set(MATRIX)


@pytest.fixture
def stocked(client: TestClient, engine: Engine, org: OrgFixture) -> OrgFixture:
    """One record of each kind (p1, a1, c1, f1), and a spare key per role to revoke."""
    body = {kind: [KINDS[kind](SEEDED_IDS[kind])] for kind in KINDS}
    assert client.post(org.url("/batch"), json=body, headers=org.headers()).status_code == 200
    with make_sessionmaker(engine)() as session:
        for role in ROLES:
            row, _ = auth_service.create_key(session, org.id, "viewer", label=f"spare-{role}")
            org.key_ids[f"spare-{role}"] = row.id
        session.commit()
    return org


def concrete(org: OrgFixture, path: str) -> str:
    """Replace the spare key's name by its id."""
    if path.startswith("/keys/spare-"):
        return f"/keys/{org.key_ids[path.removeprefix('/keys/')]}"
    return path


@pytest.mark.parametrize("route", list(MATRIX), ids=[f"{m} {p}" for m, p in MATRIX])
def test_role_matrix(client: TestClient, stocked: OrgFixture, route: tuple[str, str]) -> None:
    method, _ = route
    call, expected = MATRIX[route]
    got = {}
    for role in ROLES:
        path = concrete(stocked, call.path(role))
        body = call.body(role) if call.body else None
        r = client.request(
            method, call.url(stocked.id, path), json=body, headers=stocked.headers(role)
        )
        got[role] = r.status_code
        if r.status_code == 403:
            a = "an" if role in ("admin", "ingest") else "a"
            assert r.json()["detail"].startswith(f"{a} '{role}' key may not do this (it needs '")
    assert got == expected


def test_forbidden_writes_store_nothing(
    client: TestClient, engine: Engine, stocked: OrgFixture
) -> None:
    before = snapshot(engine, stocked.id)
    for (method, _), (call, expected) in MATRIX.items():
        if expected["viewer"] != 403:
            continue
        path = concrete(stocked, call.path("viewer"))
        body = call.body("viewer") if call.body else None
        headers = stocked.headers("viewer")
        r = client.request(method, call.url(stocked.id, path), json=body, headers=headers)
        assert r.status_code == 403
    assert snapshot(engine, stocked.id) == before
    keys = client.get(stocked.url("/keys"), headers=stocked.headers()).json()
    assert all(key["revoked_at"] is None for key in keys)
    settings = client.get(stocked.url("/settings"), headers=stocked.headers()).json()
    assert settings["attribution_window_days"] == 14


def test_other_orgs_paths_answer_as_if_they_did_not_exist(
    client: TestClient, engine: Engine, stocked: OrgFixture, other_org: OrgFixture
) -> None:
    victim = other_org
    victim_before = snapshot(engine, victim.id)
    for (method, _), (call, _) in MATRIX.items():
        for role in ROLES:
            path = call.path(role)
            if path.startswith("/keys/spare-"):
                path = f"/keys/{victim.key_ids['staff']}"  # a real key of the other org
            body = call.body(role) if call.body else None
            headers = stocked.headers(role)
            theirs = client.request(method, call.url(victim.id, path), json=body, headers=headers)
            missing = client.request(
                method, call.url("org-does-not-exist", path), json=body, headers=headers
            )
            assert theirs.status_code == 404, (method, path, role, theirs.text)
            assert missing.status_code == 404
            assert theirs.json() == missing.json() == {"detail": "Not Found"}
            assert theirs.headers.get("content-type") == missing.headers.get("content-type")
    assert snapshot(engine, victim.id) == victim_before
    # The victim's staff key was not revoked.
    assert client.get(victim.url("/patients"), headers=victim.headers("staff")).status_code == 200


def _bad_headers(org: OrgFixture) -> dict[str, dict[str, str]]:
    key = org.keys["admin"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    return {
        "missing": {},
        "basic-scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "token-scheme": {"Authorization": f"Token {key}"},
        "key-without-scheme": {"Authorization": key},
        "empty-bearer": {"Authorization": "Bearer "},
        "unknown-key": {"Authorization": "Bearer rk_000000000000_notarealkey"},
        "tampered-key": {"Authorization": f"Bearer {tampered}"},
    }


def _assert_401(r: Any) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"detail": "missing or invalid API key: send 'Authorization: Bearer <key>'"}


@pytest.mark.parametrize(
    "variant",
    [
        "missing",
        "basic-scheme",
        "token-scheme",
        "key-without-scheme",
        "empty-bearer",
        "unknown-key",
        "tampered-key",
    ],
)
def test_bad_credentials_get_401_before_the_body_is_read(
    client: TestClient, engine: Engine, stocked: OrgFixture, variant: str
) -> None:
    headers = _bad_headers(stocked)[variant]
    before = snapshot(engine, stocked.id)
    for (method, _), (call, _) in MATRIX.items():
        path = concrete(stocked, call.path("admin"))
        content = b'{"not": json' if method in ("PUT", "POST", "PATCH") else None
        for url in (call.url(stocked.id, path), call.url("org-does-not-exist", path)):
            r = client.request(
                method,
                url,
                content=content,
                headers={**headers, "Content-Type": "application/json"},
            )
            _assert_401(r)
    _assert_401(client.get("/api/v1/no-such-route", headers=headers))
    assert snapshot(engine, stocked.id) == before


def test_scheme_is_case_insensitive(client: TestClient, org: OrgFixture) -> None:
    r = client.get(org.url("/patients"), headers={"Authorization": f"bearer {org.keys['staff']}"})
    assert r.status_code == 200


def test_key_revoked_through_the_api_gets_401(client: TestClient, org: OrgFixture) -> None:
    staff = org.headers("staff")
    assert client.get(org.url("/patients"), headers=staff).status_code == 200
    r = client.delete(org.url(f"/keys/{org.key_ids['staff']}"), headers=org.headers())
    assert r.status_code == 200, r.text
    revoked_at = r.json()["revoked_at"]
    assert revoked_at is not None and r.json()["id"] == org.key_ids["staff"]
    _assert_401(client.get(org.url("/patients"), headers=staff))
    _assert_401(client.put(org.url("/patients/p1"), json=patient(), headers=staff))
    # Revoking again changes nothing; the other keys still work.
    again = client.delete(org.url(f"/keys/{org.key_ids['staff']}"), headers=org.headers())
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked_at
    listed = {k["id"]: k for k in client.get(org.url("/keys"), headers=org.headers()).json()}
    assert listed[org.key_ids["staff"]]["revoked_at"] == revoked_at
    assert listed[org.key_ids["ingest"]]["revoked_at"] is None
    assert client.get(org.url("/patients"), headers=org.headers()).status_code == 200


def test_a_malformed_key_id_is_refused_in_words(client: TestClient, org: OrgFixture) -> None:
    r = client.delete(org.url("/keys/NOT-A-KEY"), headers=org.headers())
    assert problems(r) == {"key_id": "must be a key id: 1-32 lowercase hexadecimal digits"}


def test_key_revoked_through_the_service_gets_401(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    ingest = org.headers("ingest")
    assert client.put(org.url("/patients/p1"), json=patient(), headers=ingest).status_code == 201
    with make_sessionmaker(engine)() as session:
        auth_service.revoke_key(session, org.key_ids["ingest"])
        session.commit()
    _assert_401(client.put(org.url("/patients/p2"), json=patient("p2"), headers=ingest))
    assert client.get(org.url("/patients/p2"), headers=org.headers()).status_code == 404


def test_admin_cannot_revoke_another_orgs_key(
    client: TestClient, org: OrgFixture, other_org: OrgFixture
) -> None:
    r = client.delete(org.url(f"/keys/{other_org.key_ids['staff']}"), headers=org.headers())
    assert r.status_code == 404
    other = other_org.headers("staff")
    assert client.get(other_org.url("/patients"), headers=other).status_code == 200
    bad = client.delete(org.url("/keys/NOT-HEX"), headers=org.headers())
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "key_id"


def test_new_key_is_shown_once_and_stored_only_as_a_hash(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    r = client.post(
        org.url("/keys"), json={"role": "ingest", "label": "importer"}, headers=org.headers()
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith(f"rk_{created['id']}_")
    assert (created["role"], created["label"], created["revoked_at"]) == (
        "ingest",
        "importer",
        None,
    )

    # The new key works, with its role's rights.
    new = {"Authorization": f"Bearer {key}"}
    assert client.put(org.url("/patients/p1"), json=patient(), headers=new).status_code == 201
    assert client.get(org.url("/patients"), headers=new).status_code == 403

    listed = client.get(org.url("/keys"), headers=org.headers()).json()
    assert {k["id"] for k in listed} == set(org.key_ids.values()) | {created["id"]}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert key not in str(listed)

    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey.__table__).where(ApiKey.org_id == org.id)).mappings()
        stored = [dict(row) for row in rows]
    assert key not in str(stored)
    row = next(row for row in stored if row["id"] == created["id"])
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()

    refused = client.post(org.url("/keys"), json={"role": "owner"}, headers=org.headers())
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "role"
