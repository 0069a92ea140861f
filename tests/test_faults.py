"""The database gone: every request answered 503 with ``Retry-After`` (the API in JSON, the
dashboard in its own page), one log line per kind of failure per interval, ``/healthz``
alive and ``/readyz`` not; and the operator's metrics, which count it."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from reengage.app import create_app
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine
from tests.conftest import PG_ADMIN_URL
from tests.factories import OrgFixture, make_org, patient
from tests.helpers import assert_no_phi, logged_text
from tests.live_server import free_port

TOKEN = "metrics-token-for-the-tests"


@pytest.fixture
def outage(database_url: str, tmp_path: Path) -> Iterator[tuple[FastAPI, OrgFixture, Engine]]:
    """An app on a database of its own, with an org in it; ``gone`` below takes it away."""
    if database_url.startswith("sqlite"):
        folder = tmp_path / "db"
        folder.mkdir()
        url = f"sqlite:///{folder}/reengage.db"
    else:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/outage_{free_port()}"
        admin = make_engine(PG_ADMIN_URL)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
        admin.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    app = create_app(Settings(database_url=url, metrics_token=TOKEN), engine=engine)
    org = make_org(engine)
    yield app, org, engine
    engine.dispose()
    if not url.startswith("sqlite"):
        admin = make_engine(PG_ADMIN_URL)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


def gone(engine: Engine) -> None:
    """The database stops answering: PostgreSQL's database dropped under the open pool, or
    SQLite's file and folder removed."""
    url = engine.url
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        assert url.database
        shutil.rmtree(Path(url.database).parent)
        return
    admin = make_engine(PG_ADMIN_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()


def test_the_database_gone_is_a_503_logged_once(
    outage: tuple[FastAPI, OrgFixture, Engine], caplog: pytest.LogCaptureFixture
) -> None:
    app, org, engine = outage
    caplog.set_level(logging.INFO)
    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/readyz").status_code == 200
        r = c.put(org.url("/patients/p1"), json=patient("p1"), headers=org.headers())
        assert r.status_code == 201
        gone(engine)
        for _ in range(20):
            r = c.get(org.analytics("/risk-metrics"), headers=org.headers())
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "5"
            assert "database is unavailable" in r.json()["detail"]
        r = c.put(org.url("/patients/p2"), json=patient("p2"), headers=org.headers())
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/json")
        assert c.get("/healthz").status_code == 200  # the process itself is fine
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
        assert ready.json()["status"] == "unavailable"
        page = c.get("/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text)
        assert token
        r = c.post("/sign-in", data={"api_key": org.keys["staff"], "sign_in_token": token.group(1)})
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
        assert "<h1>" in r.text and "database is unavailable" in r.text
        scraped = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    failures = [
        rec.getMessage()
        for rec in caplog.records
        if rec.name == "reengage.errors" and "request failed" in rec.getMessage()
    ]
    assert len(failures) == 1, failures  # 22 failed requests, one kind, one line
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert "Traceback" not in logged_text(caplog.records)
    assert_no_phi(logged_text(caplog.records))
    counted = re.findall(r'^reengage_database_errors_total\{kind="([^"]+)"\} (\S+)$', scraped, re.M)
    assert counted and sum(float(n) for _, n in counted) >= 22


def test_readyz_names_a_schema_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    migrate.upgrade(url, revision="0001")
    with TestClient(create_app(Settings(database_url=url))) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert "reengage db upgrade" in r.json()["detail"]


def test_metrics_need_the_operators_token(
    outage: tuple[FastAPI, OrgFixture, Engine], engine: Engine
) -> None:
    app, org, _ = outage
    with TestClient(app) as c:
        for _ in range(3):
            assert c.get(org.analytics("/risk-metrics"), headers=org.headers()).status_code == 200
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        # An org's admin key is not the operator's token: the totals are every org's.
        assert c.get("/metrics", headers=org.headers()).status_code == 401
        r = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    route = "/api/v1/reengagement/{org_id}/risk-metrics"
    series = f'reengage_requests_total{{method="GET",route="{route}",status="200"}}'
    line = re.search(rf"^{re.escape(series)} (\S+)$", r.text, re.M)
    assert line and float(line.group(1)) >= 3
    assert f'reengage_request_seconds_bucket{{le="0.005",method="GET",route="{route}"}}' in r.text
    assert org.id not in r.text and org.keys["admin"] not in r.text
    with TestClient(create_app(Settings(), engine=engine)) as c:
        assert c.get("/metrics").status_code == 404  # off unless the operator sets a token
