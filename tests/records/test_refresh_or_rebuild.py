"""A write that touches most of an org's patients rebuilds its derived state instead of
refreshing those patients one by one (``records.service.refresh_derived``): the two must
leave the same rows, on both databases, whatever the clinic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, select

from reengage import clock
from reengage.models import AttemptOutcome, DailyRollup, PatientState, RiskSpan
from reengage.records import service as records
from tests.factories import make_org
from tests.strategies import BASE, clinics

DERIVED = (PatientState, AttemptOutcome, RiskSpan, DailyRollup)


def _derived(engine: Engine, org_id: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for model in DERIVED:
            table: Any = model.__table__
            columns = [c for c in table.columns if c.name != "org_id"]
            rows = conn.execute(select(*columns).where(table.c.org_id == org_id)).all()
            out[table.name] = sorted(tuple(row) for row in rows)
    return out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(clinic=clinics())
def test_rebuilding_after_a_big_write_leaves_what_refreshing_would(
    client: TestClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    clinic: dict[str, list[dict[str, Any]]],
) -> None:
    orgs = {}
    with clock.frozen_at(BASE - timedelta(days=200)):
        for way, least in (("rebuilt", 1), ("refreshed", 10**9)):
            monkeypatch.setattr(records, "REBUILD_MIN", least)
            org = orgs[way] = make_org(engine, timezone="Australia/Sydney")
            r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
            assert r.status_code == 200, r.text
    rebuilt, refreshed = (_derived(engine, org.id) for org in orgs.values())
    assert rebuilt == refreshed
    assert len(rebuilt["patient_state"]) == len(clinic["patients"])
