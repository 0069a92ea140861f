"""The frontend team's four examples are the shapes their code reads: every path of each one
is in our live answer, under the same name, with the same kind of value.

Read from the request itself (``shared/seed``), so a field renamed, moved or dropped here,
or added there, fails this test. Asked of a demo clinic, where every figure has something to
count, on each test database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage import seed_examples as examples
from reengage.demo import load_demo
from tests.factories import OrgFixture, make_org
from tests.seed import ENDPOINTS, kind_paths, mismatches, seed_examples

AS_OF = "2026-11-24T17:00:00+11:00"
# What each example's request asks (the seed names no parameters for its examples but the
# trends period, 30d); the list is asked for its at-risk patients, as the example shows one.
PARAMS: dict[str, dict[str, str]] = {
    "risk-metrics": {},
    "performance": {"timeframe": "last_30_days"},
    "patients/prioritized": {"risk_level": "all", "limit": "50"},
    "trends": {"period": "30d"},
}


@pytest.fixture(scope="module")
def clinic(engine: Engine) -> OrgFixture:
    org = make_org(engine, timezone="Australia/Sydney")
    load_demo(engine, org.id, 600, 1, datetime.fromisoformat(AS_OF))
    return org


def _answer(client: TestClient, org: OrgFixture, endpoint: str) -> Any:
    response = client.get(
        f"/api/v1/reengagement/{org.id}/{endpoint}",
        params={"as_of": AS_OF, **PARAMS[endpoint]},
        headers=org.headers("staff"),
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_field_of_the_seeds_example_is_in_the_answer(
    client: TestClient, clinic: OrgFixture, endpoint: str
) -> None:
    example = seed_examples()[endpoint]
    assert mismatches(example, _answer(client, clinic, endpoint)) == []


def test_the_seed_has_the_fields_the_contract_names() -> None:
    """The paths the contract calls out by name are in the seed as read: a parsing fault
    here (a comment left in, an example skipped) would make the test above check less."""
    paths = {e: kind_paths(x) for e, x in seed_examples().items()}
    assert paths["risk-metrics"]["risk_summary.critical_risk"] == "number"
    assert paths["performance"]["reengagement_metrics.conversion_rate"] == "number"
    assert paths["performance"]["communication_channels.sms.response_rate"] == "number"
    assert paths["patients/prioritized"]["patients[].id"] == "string"
    assert paths["patients/prioritized"]["patients[].missed_appointments_last_90d"] == "number"
    assert paths["patients/prioritized"]["patients[].reengagement_history[].success"] == "boolean"
    assert paths["trends"]["channel_performance_trends.phone.change_pct"] == "number"
    assert paths["trends"]["risk_distribution_changes.overall_improvement"] == "boolean"
    assert sum(len(p) for p in paths.values()) == 93


def test_a_renamed_field_is_caught() -> None:
    """The check itself: an answer with the old names of this project fails it."""
    example = seed_examples()["risk-metrics"]
    old = {**example, "risk_summary": {"critical": 12, "high": 8, "medium": 15, "low": 23}}
    assert mismatches(example, old) == [
        f"risk_summary.{name}: missing"
        for name in ("critical_risk", "high_risk", "medium_risk", "low_risk", "engaged")
    ]
    listed = seed_examples()["patients/prioritized"]
    entry = {**listed["patients"][0], "health_conditions": None, "id": 7}
    assert mismatches(listed, {**listed, "patients": [entry]}) == [
        "patients[].id: string expected, number found",
        "patients[].health_conditions: never list (always null)",
    ]


def test_the_documented_examples_are_the_seeds(app: FastAPI) -> None:
    """``/docs`` shows the frontend team's own examples, unedited."""
    documented = {
        "risk-metrics": examples.RISK_METRICS,
        "performance": examples.PERFORMANCE,
        "patients/prioritized": examples.PRIORITIZED_LIST,
        "trends": examples.TRENDS,
    }
    assert documented == seed_examples()
    spec = app.openapi()
    for endpoint, example in documented.items():
        ok = spec["paths"][f"/api/v1/reengagement/{{org_id}}/{endpoint}"]["get"]["responses"]
        content = ok["200"]["content"]["application/json"]
        assert content["example"] == example
        assert content["schema"]["$ref"].startswith("#/components/schemas/")


def test_every_field_of_the_analytics_answers_is_described(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    undescribed = []
    for name in ("RiskMetrics", "Performance", "PrioritizedList", "Trends"):
        for model in _models(schemas, name):
            for field, spec in schemas[model]["properties"].items():
                if not spec.get("description"):
                    undescribed.append(f"{model}.{field}")
    assert undescribed == []


def _models(schemas: dict[str, Any], name: str, seen: set[str] | None = None) -> list[str]:
    """``name`` and every model it refers to, depth first."""
    seen = seen if seen is not None else set()
    if name in seen:
        return []
    seen.add(name)
    out = [name]
    for ref in _refs(schemas[name]):
        out += _models(schemas, ref, seen)
    return out


def _refs(spec: Any) -> list[str]:
    if isinstance(spec, dict):
        found = [spec["$ref"].rsplit("/", 1)[1]] if "$ref" in spec else []
        return found + [r for value in spec.values() for r in _refs(value)]
    if isinstance(spec, list):
        return [r for value in spec for r in _refs(value)]
    return []
