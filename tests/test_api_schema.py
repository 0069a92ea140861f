"""The OpenAPI document against the answers: schemathesis generates requests from it, for
every operation, and holds every answer to it with all its checks (status codes, bodies,
headers, content types; no 500s; what is refused is refused with a documented status).

Each operation runs against one org with a clinic in it, with its admin key, so that the
generated requests reach the routes rather than stopping at the key check (which has its
own tests). The seed is fixed (``derandomize``): a failure here fails every run, and the
case it names can be sent again by hand. ``REENGAGE_FUZZ_EXAMPLES`` sets the cases per
operation (default 150: a few minutes for both databases).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy import Engine

from reengage.app import create_app
from reengage.config import Settings
from tests.factories import OrgFixture, make_org, patient
from tests.live_server import live_server

EXAMPLES = int(os.environ.get("REENGAGE_FUZZ_EXAMPLES", "150"))

# The rules a JSON schema cannot state, each answered 422 for a request the document calls
# well formed: (field, problem type, words in the reason). Everything else a well formed
# request gets must be a success, or a refusal of the key, the org, the record or a race.
RULES = (
    (re.compile(r"id"), "id_mismatch", "must match the id in the path"),
    (re.compile(r"(\w+\[\d+\]\.)?patient_id"), "unknown_patient", "no patient"),
    (re.compile(r"(communications\[\d+\]\.)?\w+"), "does_not_fit", ""),
    (re.compile(r"tier_thresholds"), "value_error", "strictly increasing"),
    (re.compile(r"kpis"), "value_error", "baseline"),  # both dates or neither, in order
    (re.compile(r"\w+\[\d+\]\.id"), "duplicate", "appears twice"),
    (re.compile(r"secret"), "value_error", "verification key"),  # SendGrid's: a public key
    (re.compile(r"digest\.recipients"), "value_error", "is not an email address"),
    (re.compile(r"digest\.at"), "value_error", "must be a local time"),
    (re.compile(r"url"), "invalid", "is not a URL this server can call"),
    (re.compile(r"from_email"), "value_error", "is not an email address"),
    # A check-in campaign's: sending hours within a day, templates' placeholders known and
    # filled in.
    (re.compile(r"schedule\.(start|end)"), "value_error", "must be a local time"),
    (re.compile(r"schedule"), "value_error", "start must be before end"),
    (re.compile(r"templates\.(sms|email)\.(body|subject)"), "value_error", "placeholder"),
    (re.compile(r"templates\.(sms|email)\.(body|subject)"), "value_error", "unmatched"),
    (re.compile(r"body"), "value_error", "the templates use"),
    (re.compile(r"booking_link"), "value_error", "http:// or https://"),
    (re.compile(r"clinic_phone"), "value_error", "must be a phone number"),
)
ACCEPTED = {200, 201, 202, 401, 403, 404, 409, 429}


def _refused_by_a_rule(problem: dict[str, Any]) -> bool:
    return any(
        field.fullmatch(str(problem.get("field"))) is not None
        and problem.get("type") == kind
        and words in str(problem.get("reason"))
        for field, kind, words in RULES
    )


@schemathesis.check
def valid_requests_are_refused_only_by_rules(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' positive_data_acceptance, with the 422s of ``RULES`` allowed."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code in ACCEPTED:
        return None
    if response.status_code == 422:
        detail = response.json().get("detail")
        if isinstance(detail, list) and detail and all(map(_refused_by_a_rule, detail)):
            return None
    raise AssertionError(
        f"a request the document calls valid got {response.status_code}: {response.text[:500]}"
    )


@schemathesis.check
def invalid_requests_are_refused(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' negative_data_rejection, for the cases it made invalid. A negative draw
    whose every mutation was drawn over again is a valid request (its phase says "Positive
    test case") and may well be accepted; schemathesis 4.32 still holds it to the check."""
    if case.meta is not None and case.meta.phase.data.description == "Positive test case":
        return None
    return negative_data_rejection(ctx, response, case)


@pytest.fixture(scope="session")
def fuzz_org(engine: Engine, app: FastAPI) -> OrgFixture:
    from fastapi.testclient import TestClient

    org = make_org(engine)
    with TestClient(app) as c:
        batch = {"patients": [patient("p1"), patient("p2", status="inactive")]}
        assert c.post(org.url("/batch"), json=batch, headers=org.headers()).status_code == 200
    return org


@pytest.fixture(scope="session")
def site(app: FastAPI) -> Iterator[str]:
    """The app served over HTTP, as a client sees it (schemathesis' probes included)."""
    with live_server(app) as base:
        yield base


# The document is the same on every database: read from an app that never connects (the
# per-database app of the test is the one called). schemathesis' lazy fixture loader needs
# a pytest internal that pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite:///:memory:")).openapi()
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_is_as_documented(
    case: schemathesis.Case, site: str, fuzz_org: OrgFixture
) -> None:
    if "org_id" in (case.path_parameters or {}):
        case.path_parameters["org_id"] = fuzz_org.id
    # The key goes where the case has one: a negative case that leaves it out is a case
    # about the missing key, and has to reach the app without it.
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    keyed = positive or "Authorization" in (case.headers or {})
    case.call_and_validate(
        base_url=site,
        headers=fuzz_org.headers() if keyed else None,
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[valid_requests_are_refused_only_by_rules, invalid_requests_are_refused],
    )
