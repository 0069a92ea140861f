"""The request body cap: refused with 413 before parsing, declared length or not."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.app import create_app
from reengage.config import Settings
from tests.factories import OrgFixture, patient


def _small_app_client(engine: Engine) -> TestClient:
    return TestClient(create_app(Settings(max_body_bytes=2000), engine=engine))


def test_declared_length_over_cap_is_refused(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    big = patient(health_conditions=["x" * 100] * 30)
    r = client.put(org.url("/patients/p1"), json=big, headers=org.headers("staff"))
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"
    assert "2,000 bytes" in r.json()["detail"][0]["reason"]
    r = client.get(org.url("/patients/p1"), headers=org.headers("staff"))
    assert r.status_code == 404


def test_chunked_body_over_cap_is_refused(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    payload = json.dumps(patient(health_conditions=["y" * 100] * 30)).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    r = client.put(
        org.url("/patients/p1"),
        content=chunks(),
        headers={**org.headers("staff"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_chunked_body_under_cap_is_accepted(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    payload = json.dumps(patient()).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 100):
            yield payload[start : start + 100]

    r = client.put(
        org.url("/patients/p1"),
        content=chunks(),
        headers={**org.headers("staff"), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Avery Testpatient"


def test_unauthenticated_oversized_body_gets_401(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    r = client.put(org.url("/patients/p1"), content=b"x" * 5000)
    assert r.status_code == 401
