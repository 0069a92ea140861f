"""What an attacker or an unlucky integration sends (issue #18): each answered with a 4xx in
the one error shape, never a 500, and nothing written.

Values the rules cannot compute with (years 1 and 9999), bodies Python cannot hold, labels
the database cannot store, forged client addresses, a role that may not write sending
junk, the last admin key revoked, key guessing, a 405 that names one method of several.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.app import create_app
from reengage.config import Settings
from tests.factories import OrgFixture, appointment, communication, followup, patient
from tests.helpers import problems, row_counts, snapshot

EDGES = (
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
    "9000-01-01T00:00:00+00:00",
    "8999-12-31T23:59:59-12:00",  # 9000 in UTC
    "1900-01-01T09:00:00+10:00",  # 1899 in UTC
)


@pytest.mark.parametrize("stamp", EDGES)
def test_timestamps_at_the_calendars_edges_are_refused_by_name(
    client: TestClient, engine: Engine, org: OrgFixture, stamp: str
) -> None:
    h = org.headers()
    assert client.put(org.url("/patients/p1"), json=patient("p1"), headers=h).status_code == 201
    before = snapshot(engine, org.id)
    sent: list[tuple[str, dict[str, Any], str]] = [
        ("/patients/p2", patient("p2", registered_at=stamp), "registered_at"),
        ("/appointments/a1", appointment("a1", "p1", starts_at=stamp), "starts_at"),
        ("/appointments/a2", appointment("a2", "p1", booked_at=stamp), "booked_at"),
        ("/communications/c1", communication("c1", "p1", sent_at=stamp), "sent_at"),
        ("/communications/c2", communication("c2", "p1", responded_at=stamp), "responded_at"),
        ("/followups/f1", followup("f1", "p1", due_at=stamp), "due_at"),
    ]
    for path, body, field in sent:
        r = client.put(org.url(path), json=body, headers=h)
        assert r.status_code == 422, (path, r.text)
        assert problems(r) == {
            field: "is out of range: must fall in the years 1900 to 8999, in UTC too"
        }
    batch = {
        "patients": [patient("p3")],
        "communications": [communication("c3", "p3", sent_at=stamp)],
        "followups": [followup("f3", "p3", due_at=stamp)],
    }
    r = client.post(org.url("/batch"), json=batch, headers=h)
    assert r.status_code == 422
    assert set(problems(r)) == {"communications[0].sent_at", "followups[0].due_at"}
    assert snapshot(engine, org.id) == before
    r = client.get(org.analytics(f"/risk-metrics?as_of={stamp.replace('+', '%2B')}"), headers=h)
    assert r.status_code == 422 and set(problems(r)) == {"as_of"}


def test_the_first_and_last_instants_in_range_are_kept_and_computed(
    client: TestClient, org: OrgFixture
) -> None:
    h = org.headers()
    assert client.put(org.url("/patients/p1"), json=patient("p1"), headers=h).status_code == 201
    for cid, stamp in (("c1", "1900-01-01T00:00:00Z"), ("c2", "8999-12-31T23:59:59Z")):
        body = communication(cid, "p1", sent_at=stamp, delivered_at=None, responded_at=None)
        r = client.put(org.url(f"/communications/{cid}"), json=body, headers=h)
        assert r.status_code == 201, r.text
        assert client.get(org.url(f"/communications/{cid}"), headers=h).json()["sent_at"] == stamp
    for as_of in ("2026-06-01", "8999-12-30"):
        r = client.get(org.analytics(f"/patients/prioritized?as_of={as_of}"), headers=h)
        assert r.status_code == 200, r.text
        r = client.get(org.analytics(f"/trends?period=1y&as_of={as_of}"), headers=h)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("x" * 201, "String should have at most 200 characters"),
        ("front\x00desk", "must not contain the NUL control character (\\u0000)"),
    ],
)
def test_a_key_label_the_database_cannot_hold_is_refused(
    client: TestClient, org: OrgFixture, label: str, reason: str
) -> None:
    before = client.get(org.url("/keys"), headers=org.headers()).json()
    r = client.post(org.url("/keys"), json={"role": "staff", "label": label}, headers=org.headers())
    assert r.status_code == 422 and problems(r) == {"label": reason}
    assert len(client.get(org.url("/keys"), headers=org.headers()).json()) == len(before)


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("viewer", "PUT", "/patients/p1"),
        ("viewer", "PUT", "/communications/c1"),
        ("viewer", "POST", "/batch"),
        ("staff", "PATCH", "/settings"),
        ("staff", "POST", "/keys"),
        ("ingest", "PATCH", "/settings"),
    ],
)
def test_a_role_that_may_not_write_learns_that_before_its_body_is_read(
    client: TestClient, org: OrgFixture, role: str, method: str, path: str
) -> None:
    headers = {**org.headers(role), "Content-Type": "application/json"}
    for body in (b'{"id": ', b"[" * 2000, b'{"name": "\xff"}'):
        r = client.request(method, org.url(path), content=body, headers=headers)
        assert r.status_code == 403, (body[:10], r.text)
        assert "may not do this" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000 + b"]" * 1000, "nests arrays or objects too deeply to read"),
        (b'{"name": "\xff\xfe"}', "is not UTF-8 text: send JSON encoded as UTF-8"),
        (b'{"name": 1' + b"9" * 5000 + b"}", "a number with thousands of digits"),
        (b'{"id": ', "JSON decode error"),
    ],
)
def test_bodies_python_cannot_hold_get_the_error_shape(
    client: TestClient, engine: Engine, org: OrgFixture, body: bytes, reason: str
) -> None:
    headers = {**org.headers(), "Content-Type": "application/json"}
    for path in ("/patients/p1", "/batch"):
        method = "POST" if path == "/batch" else "PUT"
        r = client.request(method, org.url(path), content=body, headers=headers)
        assert r.status_code == 422, r.text
        [problem] = r.json()["detail"]
        assert problem["type"] == "json_invalid" and reason in problem["reason"], problem
    assert row_counts(engine, org.id)["patients"] == 0


def test_a_405_names_every_method_of_the_path(client: TestClient, org: OrgFixture) -> None:
    h = org.headers()
    r = client.delete(org.url("/patients/p1"), headers=h)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, PUT"
    r = client.post(org.url("/settings"), headers=h)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, PATCH"
    r = client.put(org.url("/keys"), headers=h)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"


def test_the_orgs_last_admin_key_cannot_be_revoked(client: TestClient, org: OrgFixture) -> None:
    admin = org.key_ids["admin"]
    r = client.delete(org.url(f"/keys/{admin}"), headers=org.headers())
    assert r.status_code == 409 and "last admin key" in r.json()["detail"]
    assert client.get(org.url("/keys"), headers=org.headers()).status_code == 200
    r = client.post(org.url("/keys"), json={"role": "admin"}, headers=org.headers())
    assert r.status_code == 201
    second = {"Authorization": f"Bearer {r.json()['key']}"}
    assert client.delete(org.url(f"/keys/{admin}"), headers=second).status_code == 200
    assert client.get(org.url("/keys"), headers=org.headers()).status_code == 401
    r = client.delete(org.url(f"/keys/{r.json()['id']}"), headers=second)
    assert r.status_code == 409  # now this one is the last


def test_every_api_answer_is_not_stored_by_caches(client: TestClient, org: OrgFixture) -> None:
    h = org.headers()
    answers = [
        client.put(org.url("/patients/p1"), json=patient("p1"), headers=h),
        client.get(org.url("/patients/p1"), headers=h),
        client.get(org.analytics("/patients/prioritized"), headers=h),
        client.get(org.url("/patients/nobody"), headers=h),
        client.get(org.url("/patients/p1")),  # 401
        client.put(org.url("/patients/p1"), json={}, headers=h),  # 422
    ]
    assert [r.headers.get("Cache-Control") for r in answers] == ["no-store"] * len(answers)


def _client_ip_of_last_read(engine: Engine, org: OrgFixture) -> Any:
    return snapshot(engine, org.id)["audit_log"][-1]["client_ip"]


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    app: FastAPI, engine: Engine, org: OrgFixture
) -> None:
    h = org.headers()
    assert TestClient(app).put(org.url("/patients/p1"), json=patient("p1"), headers=h)
    forged = {**h, "X-Forwarded-For": "198.51.100.7"}
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        assert c.get(org.url("/patients/p1"), headers=forged).status_code == 200
        assert _client_ip_of_last_read(engine, org) == "127.0.0.1"
        long = {**h, "X-Forwarded-For": "1234:" * 40}
        assert c.get(org.url("/patients/p1"), headers=long).status_code == 200
        assert _client_ip_of_last_read(engine, org) == "127.0.0.1"
    trusting = create_app(Settings(trusted_proxies="127.0.0.1,10.1.0.0/16"), engine=engine)
    with TestClient(trusting, client=("10.1.2.3", 40000)) as c:
        assert c.get(org.url("/patients/p1"), headers=forged).status_code == 200
        assert _client_ip_of_last_read(engine, org) == "198.51.100.7"
        junk = {**h, "X-Forwarded-For": "not-an-address" + "x" * 100}
        assert c.get(org.url("/patients/p1"), headers=junk).status_code == 200
        assert _client_ip_of_last_read(engine, org) is None  # not an address: not kept
    with TestClient(trusting, client=("192.0.2.1", 40000)) as c:  # not a trusted proxy
        assert c.get(org.url("/patients/p1"), headers=forged).status_code == 200
        assert _client_ip_of_last_read(engine, org) == "192.0.2.1"


def test_key_failures_are_limited_per_client_and_per_org(engine: Engine, org: OrgFixture) -> None:
    app = create_app(
        Settings(key_failures_per_client="3/minute", key_failures_per_org="5/minute"),
        engine=engine,
    )
    url = org.analytics("/risk-metrics")
    with TestClient(app, client=("192.0.2.10", 1)) as guesser:
        for _ in range(3):
            r = guesser.get(url, headers={"Authorization": "Bearer rk_nope_nope"})
            assert r.status_code == 401
        r = guesser.get(url, headers={"Authorization": "Bearer rk_nope_nope"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "too many failed key checks from this address" in r.json()["detail"]
        assert guesser.get(url, headers=org.headers()).status_code == 429  # whatever it sends
    with TestClient(app, client=("192.0.2.11", 1)) as other:
        assert other.get(url, headers=org.headers()).status_code == 200
    # A guess at the admin key's secret, from many addresses: that key id waits, the
    # org's other keys do not.
    wrong = {"Authorization": f"Bearer rk_{org.key_ids['admin']}_{'A' * 43}"}
    for i in range(5):
        with TestClient(app, client=(f"192.0.2.{100 + i}", 1)) as c:
            assert c.get(url, headers=wrong).status_code == 401
    with TestClient(app, client=("192.0.2.200", 1)) as c:
        r = c.get(url, headers=org.headers())
        assert r.status_code == 429 and "for this key" in r.json()["detail"]
        assert c.get(url, headers=org.headers("staff")).status_code == 200
    # The dashboard's sign-in counts and refuses the same way.
    with TestClient(app, client=("192.0.2.50", 1)) as browser:
        for expected in (401, 401, 401, 429):
            page = browser.get("/sign-in")
            token = page.text.split('name="sign_in_token" value="')[1].split('"')[0]
            r = browser.post("/sign-in", data={"api_key": "rk_x_y", "sign_in_token": token})
            assert r.status_code == expected
        assert "Retry-After" in r.headers and "too many failed key checks" in r.text
