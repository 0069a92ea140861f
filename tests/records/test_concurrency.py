"""Writes from many clients at once, over real HTTP: what provider webhooks and practice
system syncs send. Each write of an org waits for the one ahead (``reengage.db.locks``), so
none fails and the derived state ends where a rebuild from the records puts it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from reengage.db.engine import make_sessionmaker
from reengage.derived import upkeep
from reengage.orgs import service as orgs_service
from tests.factories import OrgFixture, communication, patient
from tests.live_server import live_server


def _answers(engine: Engine, base: str, org: OrgFixture) -> dict[str, Any]:
    """What the API says of the org: its patient, its list, its figures."""
    with httpx.Client(base_url=base, headers=org.headers(), timeout=60) as c:
        paths = (
            "/risk-metrics?as_of=2026-04-01T00:00:00Z",
            "/patients/prioritized?as_of=2026-04-01T00:00:00Z",
            "/performance?timeframe=last_90_days&as_of=2026-04-01T00:00:00Z",
            "/trends?period=90d&as_of=2026-04-01T00:00:00Z",
        )
        answers = {}
        for path in paths:
            r = c.get(org.analytics(path))
            assert r.status_code == 200, r.text
            answers[path] = r.json()
        return answers


def test_a_hundred_writes_for_one_patient_from_eight_clients(
    app: FastAPI, engine: Engine, org: OrgFixture
) -> None:
    def put(i: int) -> int:
        record = communication(
            f"c{i:03d}",
            "p1",
            sent_at=f"2026-03-{1 + i % 28:02d}T09:{i % 60:02d}:00+10:00",
            delivered_at=None,
            responded_at=None if i % 3 else f"2026-03-{1 + i % 28:02d}T11:00:00+10:00",
        )
        with httpx.Client(base_url=base, headers=org.headers(), timeout=60) as c:
            return c.put(org.url(f"/communications/c{i:03d}"), json=record).status_code

    with live_server(app) as base:
        with httpx.Client(base_url=base, headers=org.headers()) as c:
            assert c.put(org.url("/patients/p1"), json=patient("p1")).status_code == 201
        with ThreadPoolExecutor(8) as pool:
            statuses = Counter(pool.map(put, range(100)))
        assert statuses == {201: 100}
        written = _answers(engine, base, org)
        with make_sessionmaker(engine)() as session:
            upkeep.rebuild(session, org.id, orgs_service.get_settings(session, org.id))
            session.commit()
        assert _answers(engine, base, org) == written
    performance = written["/performance?timeframe=last_90_days&as_of=2026-04-01T00:00:00Z"]
    assert performance["reengagement_metrics"]["outreach_attempts"] == 100
    assert performance["reengagement_metrics"]["successful_contacts"] == 34  # i % 3 == 0


def test_thirty_two_creates_of_one_record_make_one(
    app: FastAPI, engine: Engine, org: OrgFixture
) -> None:
    def put(i: int) -> tuple[int, str]:
        body = patient("p-new", name=f"Avery Concurrent{i}")
        with httpx.Client(base_url=base, headers=org.headers(), timeout=60) as c:
            r = c.put(org.url("/patients/p-new"), json=body)
        return r.status_code, r.text

    with live_server(app) as base:
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(put, range(32)))
        statuses = Counter(status for status, _ in answers)
        assert statuses[201] == 1 and set(statuses) <= {200, 201, 409}, answers
        with httpx.Client(base_url=base, headers=org.headers()) as c:
            stored = c.get(org.url("/patients/p-new")).json()
    assert stored["name"].startswith("Avery Concurrent")
