"""What the alert tests share: running one job as the scheduler would, reading the inbox."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage.alerts.deliveries import Mailer, Outbound
from reengage.db.engine import make_sessionmaker
from reengage.jobs.catalog import JOBS
from reengage.jobs.scheduler import Context, Job, Scheduler
from tests.conftest import TEST_SECRET_KEY
from tests.factories import OrgFixture


def scheduler(engine: Engine, mailer: Mailer | None = None) -> Scheduler:
    context = Context(
        sessions=make_sessionmaker(engine),
        outbound=Outbound(TEST_SECRET_KEY, mailer, timeout=5.0),
        base_url="http://reengage.test",
    )
    return Scheduler(context, engine, JOBS, tick=0.5)


def run_job(engine: Engine, job: Job, org_id: str, mailer: Mailer | None = None) -> str:
    found = scheduler(engine, mailer)
    try:
        return found.run_job(job, org_id).outcome
    finally:
        found.locks.close()


def alerts_of(
    client: TestClient, org: OrgFixture, state: str | None = None, rule: str | None = None
) -> list[dict[str, Any]]:
    params: dict[str, str] = {}
    if state:
        params["state"] = state
    if rule:
        params["rule"] = rule
    r = client.get(org.url("/alerts"), params=params, headers=org.headers("staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["alerts"])
    return list(body["alerts"])
