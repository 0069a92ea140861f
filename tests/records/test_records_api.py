"""The per-record write and read endpoints: upserts, reads, pages, and every refusal.

Every refusal is checked for the exact field it names, a reason in words, and that nothing
was stored: neither the record nor an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage import clock
from reengage.records.schemas import ID_RULE
from tests.factories import OrgFixture, appointment, communication, followup, patient
from tests.helpers import problems, snapshot, utc

T1 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

FACTORIES: dict[str, Callable[..., dict[str, Any]]] = {
    "patients": patient,
    "appointments": appointment,
    "communications": communication,
    "followups": followup,
}
FIRST_IDS = {"patients": "p1", "appointments": "a1", "communications": "c1", "followups": "f1"}
TIMESTAMPS = {
    "patients": ("registered_at",),
    "appointments": ("starts_at", "booked_at"),
    "communications": (
        "sent_at",
        "delivered_at",
        "opened_at",
        "responded_at",
        "connected_at",
        "failed_at",
    ),
    "followups": ("due_at", "completed_at"),
}
# Every field of each kind's answer: what was sent, plus the two server timestamps.
OPTIONAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "patients": {},
    "appointments": {},
    "communications": {
        "opened_at": None,
        "connected_at": None,
        "failed_at": None,
        "failure_reason": None,
        "provider_message_id": None,
    },
    "followups": {"completed_at": None},
}
# One changed field per kind, to prove an update is stored.
CHANGES: dict[str, dict[str, Any]] = {
    "patients": {"phone": "+61400000999", "opt_outs": ["email"]},
    "appointments": {"status": "no_show", "starts_at": "2026-02-01T11:00:00+10:00"},
    "communications": {"responded_at": None, "provider_message_id": "msg-77"},
    "followups": {"completed_at": "2026-03-09T16:00:00-05:00"},
}


def expected_answer(kind: str, sent: dict[str, Any], at: datetime) -> dict[str, Any]:
    """What the API must answer for ``sent``: every field, timestamps as UTC instants."""
    body = {**OPTIONAL_DEFAULTS[kind], **sent}
    for name in TIMESTAMPS[kind]:
        body[name] = utc(body.get(name))
    return body | {"received_at": utc(at.isoformat()), "updated_at": utc(at.isoformat())}


def seed_patient(client: TestClient, org: OrgFixture, pid: str = "p1", **fields: Any) -> None:
    r = client.put(org.url(f"/patients/{pid}"), json=patient(pid, **fields), headers=org.headers())
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("kind", list(FACTORIES))
def test_put_creates_updates_and_is_idempotent(
    client: TestClient, engine: Engine, org: OrgFixture, kind: str
) -> None:
    if kind != "patients":
        seed_patient(client, org)
    record_id = FIRST_IDS[kind]
    url = org.url(f"/{kind}/{record_id}")
    sent = FACTORIES[kind](record_id)
    headers = org.headers("ingest")

    with clock.frozen_at(T1):
        created = client.put(url, json=sent, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json() == expected_answer(kind, sent, T1)

    read = client.get(url, headers=org.headers("staff"))
    assert read.status_code == 200
    assert read.json() == created.json()

    # The same record again, a day later: nothing changes, not even updated_at.
    before = snapshot(engine, org.id)
    with clock.frozen_at(T2):
        again = client.put(url, json=sent, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == created.json()
    after = snapshot(engine, org.id)
    assert after[kind] == before[kind]

    # The same instants written with other offsets are the same record.
    shifted = dict(sent)
    for name in TIMESTAMPS[kind]:
        if shifted.get(name) is not None:
            shifted[name] = datetime.fromisoformat(shifted[name]).astimezone(UTC).isoformat()
    with clock.frozen_at(T2):
        same_instants = client.put(url, json=shifted, headers=headers)
    assert same_instants.status_code == 200
    assert same_instants.json()["updated_at"] == utc(T1.isoformat())

    changed = {**sent, **CHANGES[kind]}
    with clock.frozen_at(T2):
        updated = client.put(url, json=changed, headers=headers)
    assert updated.status_code == 200, updated.text
    want = expected_answer(kind, changed, T1) | {"updated_at": utc(T2.isoformat())}
    assert updated.json() == want
    assert client.get(url, headers=org.headers("staff")).json() == want


def test_put_without_id_in_body_takes_the_path_id(client: TestClient, org: OrgFixture) -> None:
    body = patient("ignored")
    del body["id"]
    r = client.put(org.url("/patients/p-from-path"), json=body, headers=org.headers())
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "p-from-path"
    assert client.get(org.url("/patients/p-from-path"), headers=org.headers()).status_code == 200


def test_minimal_patient_gets_empty_defaults(client: TestClient, org: OrgFixture) -> None:
    body = {"id": "p1", "name": "  Robin Minimal  ", "status": "inactive", "email": ""}
    r = client.put(org.url("/patients/p1"), json=body, headers=org.headers())
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["name"] == "Robin Minimal"
    assert got["email"] is None  # a blank optional value is absent, not ""
    assert got["communication_preferences"] == []
    assert got["opt_outs"] == []
    assert got["health_conditions"] == []
    assert got["registered_at"] is None
    assert got["phone"] is None


def test_timestamps_are_answered_in_utc(client: TestClient, org: OrgFixture) -> None:
    seed_patient(client, org, registered_at="2026-01-05T09:00:00.250+10:00")
    got = client.get(org.url("/patients/p1"), headers=org.headers()).json()
    assert got["registered_at"] == "2026-01-04T23:00:00.250000Z"
    body = followup("f1", due_at="2026-03-10T09:00:00-05:30", completed_at="2026-03-10T14:30:00Z")
    r = client.put(org.url("/followups/f1"), json=body, headers=org.headers())
    assert r.status_code == 201, r.text
    assert r.json()["due_at"] == "2026-03-10T14:30:00Z"
    assert r.json()["completed_at"] == "2026-03-10T14:30:00Z"


def test_get_unknown_record_is_404(client: TestClient, org: OrgFixture) -> None:
    for kind in FACTORIES:
        r = client.get(org.url(f"/{kind}/nothing-here"), headers=org.headers())
        assert r.status_code == 404
        assert "nothing-here" in r.json()["detail"]


def test_list_pages_in_id_order(client: TestClient, org: OrgFixture) -> None:
    ids = ["p10", "p2", "P3", "p-4", "p.5", "p_6", "p:7", "a9", "Z1"]
    for pid in ids:
        seed_patient(client, org, pid)
    seen: list[str] = []
    for offset in range(0, 12, 4):
        r = client.get(
            org.url("/patients"), params={"limit": 4, "offset": offset}, headers=org.headers()
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["total"], page["limit"], page["offset"]) == (len(ids), 4, offset)
        assert len(page["items"]) == min(4, len(ids) - offset)
        seen += [item["id"] for item in page["items"]]
    assert seen == sorted(ids)

    first = client.get(org.url("/patients"), headers=org.headers()).json()
    assert first["limit"] == 50 and first["offset"] == 0
    single = client.get(org.url("/patients/P3"), headers=org.headers()).json()
    assert next(item for item in first["items"] if item["id"] == "P3") == single

    past_end = client.get(org.url("/patients"), params={"offset": 100}, headers=org.headers())
    assert past_end.json() == {"items": [], "total": len(ids), "limit": 50, "offset": 100}


def test_list_filters_by_patient(
    client: TestClient, org: OrgFixture, other_org: OrgFixture
) -> None:
    seed_patient(client, org, "p1")
    seed_patient(client, org, "p2")
    headers = org.headers()
    for aid, pid in [("a3", "p1"), ("a1", "p1"), ("a2", "p2"), ("a4", "p1")]:
        r = client.put(org.url(f"/appointments/{aid}"), json=appointment(aid, pid), headers=headers)
        assert r.status_code == 201, r.text
    # Another org's records with the same ids never show.
    seed_patient(client, other_org, "p1")
    r = client.put(
        other_org.url("/appointments/a9"), json=appointment("a9", "p1"), headers=other_org.headers()
    )
    assert r.status_code == 201

    page = client.get(org.url("/appointments"), params={"patient_id": "p1"}, headers=headers)
    assert page.status_code == 200
    assert [item["id"] for item in page.json()["items"]] == ["a1", "a3", "a4"]
    assert page.json()["total"] == 3
    everything = client.get(org.url("/appointments"), headers=headers).json()
    assert [item["id"] for item in everything["items"]] == ["a1", "a2", "a3", "a4"]
    none = client.get(org.url("/appointments"), params={"patient_id": "nobody"}, headers=headers)
    assert none.json()["items"] == [] and none.json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/patients", {"limit": 0}, "limit"),
        ("/patients", {"limit": 501}, "limit"),
        ("/patients", {"offset": -1}, "offset"),
        ("/patients", {"offset": 10**20}, "offset"),
        ("/patients", {"limit": "ten"}, "limit"),
        ("/appointments", {"patient_id": "bad id"}, "patient_id"),
        ("/patients", {"patient_id": "p1"}, "patient_id"),
    ],
)
def test_list_refuses_bad_query(
    client: TestClient, org: OrgFixture, path: str, params: dict[str, Any], field: str
) -> None:
    found = problems(client.get(org.url(path), params=params, headers=org.headers()))
    assert list(found) == [field]


# --- refusals -----------------------------------------------------------------------------

LATER = "2026-03-01T09:30:00+10:00"


def _without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in names}


# (kind, body builder given the id, {field: a word the reason must contain})
REFUSALS: list[tuple[str, Callable[[str], Any], dict[str, str]]] = [
    # a patient the org does not have
    ("appointments", lambda i: appointment(i, "ghost"), {"patient_id": "no patient 'ghost'"}),
    ("communications", lambda i: communication(i, "ghost"), {"patient_id": "no patient"}),
    ("followups", lambda i: followup(i, "ghost"), {"patient_id": "no patient"}),
    # unknown enum values
    ("patients", lambda i: patient(i, status="alive"), {"status": "'discharged'"}),
    ("appointments", lambda i: appointment(i, status="done"), {"status": "'no_show'"}),
    ("communications", lambda i: communication(i, channel="fax"), {"channel": "'sms'"}),
    ("communications", lambda i: communication(i, direction="sideways"), {"direction": "inbound"}),
    ("patients", lambda i: patient(i, opt_outs=["sms", "fax"]), {"opt_outs[1]": "'email'"}),
    (
        "patients",
        lambda i: patient(i, communication_preferences=["pigeon"]),
        {"communication_preferences[0]": "'phone'"},
    ),
    ("patients", lambda i: patient(i, opt_outs=["sms", "sms"]), {"opt_outs": "twice"}),
    ("patients", lambda i: patient(i, status="Active"), {"status": "'active'"}),
    # malformed phone (not E.164) and email
    ("patients", lambda i: patient(i, phone="0412345678"), {"phone": "E.164"}),
    ("patients", lambda i: patient(i, phone="+61 412 345 678"), {"phone": "E.164"}),
    ("patients", lambda i: patient(i, phone="+0412345678"), {"phone": "E.164"}),
    ("patients", lambda i: patient(i, phone="+61400000001\n"), {"phone": "E.164"}),
    ("patients", lambda i: patient(i, phone="+1234567890123456"), {"phone": "E.164"}),
    ("patients", lambda i: patient(i, phone=61412345678), {"phone": "string"}),
    ("patients", lambda i: patient(i, email="not-an-address"), {"email": "email address"}),
    ("patients", lambda i: patient(i, email="a@b.org\nBcc: x@y.org"), {"email": "email"}),
    # malformed timestamps
    (
        "patients",
        lambda i: patient(i, registered_at="2026-13-01T09:00:00Z"),
        {"registered_at": "ISO"},
    ),
    ("patients", lambda i: patient(i, registered_at="yesterday"), {"registered_at": "ISO 8601"}),
    (
        "patients",
        lambda i: patient(i, registered_at="2026-01-05T09:00:00"),
        {"registered_at": "offset"},
    ),
    ("patients", lambda i: patient(i, registered_at="2026-01-05"), {"registered_at": "offset"}),
    ("appointments", lambda i: appointment(i, starts_at=1767222000), {"starts_at": "string"}),
    (
        "appointments",
        lambda i: appointment(i, booked_at="2026-01-20 15:30"),
        {"booked_at": "offset"},
    ),
    ("communications", lambda i: communication(i, sent_at="2026-03-01"), {"sent_at": "offset"}),
    ("followups", lambda i: followup(i, due_at="10/03/2026 09:00"), {"due_at": "ISO 8601"}),
    (
        "followups",
        lambda i: followup(i, completed_at="0001-01-01T00:00:00+10:00"),
        {"completed_at": "range"},
    ),
    (
        "appointments",
        lambda i: appointment(i, starts_at="9999-12-31T23:00:00-05:00"),
        {"starts_at": "range"},
    ),
    # communication fields that do not fit the channel or direction
    ("communications", lambda i: communication(i, opened_at=LATER), {"opened_at": "'sms'"}),
    ("communications", lambda i: communication(i, connected_at=LATER), {"connected_at": "'sms'"}),
    (
        "communications",
        lambda i: communication(i, channel="phone", connected_at=LATER),
        {"delivered_at": "'phone'", "responded_at": "'phone'"},
    ),
    (
        "communications",
        lambda i: _without(communication(i, channel="phone"), "delivered_at"),
        {"responded_at": "does not fit"},
    ),
    (
        "communications",
        lambda i: communication(i, channel="email", opened_at=LATER, connected_at=LATER),
        {"connected_at": "'email'"},
    ),
    (
        "communications",
        lambda i: communication(i, direction="inbound"),
        {"delivered_at": "only sent_at", "responded_at": "only sent_at"},
    ),
    (
        "communications",
        lambda i: _without(
            communication(i, direction="inbound", channel="phone", failed_at=LATER),
            "delivered_at",
            "responded_at",
        ),
        {"failed_at": "only sent_at"},
    ),
    # a timestamp before sent_at (compared as instants, whatever the offsets)
    (
        "communications",
        lambda i: communication(i, responded_at="2026-02-28T22:59:59Z"),
        {"responded_at": "before sent_at"},
    ),
    (
        "communications",
        lambda i: communication(i, delivered_at="2026-03-01T08:59:00+10:00", responded_at=None),
        {"delivered_at": "before sent_at"},
    ),
    (
        "communications",
        lambda i: communication(i, failed_at="2026-03-01T08:00:00+10:00", failure_reason="bounce"),
        {"failed_at": "before sent_at"},
    ),
    (
        "communications",
        lambda i: communication(i, failure_reason="carrier rejected"),
        {"failure_reason": "failed_at"},
    ),
    # missing required fields
    ("patients", lambda i: _without(patient(i), "name"), {"name": "required"}),
    ("patients", lambda i: _without(patient(i), "status"), {"status": "required"}),
    ("patients", lambda i: patient(i, name="   "), {"name": "at least 1"}),
    ("appointments", lambda i: _without(appointment(i), "starts_at"), {"starts_at": "required"}),
    ("appointments", lambda i: _without(appointment(i), "patient_id"), {"patient_id": "required"}),
    (
        "communications",
        lambda i: _without(communication(i), "channel", "sent_at"),
        {"channel": "required", "sent_at": "required"},
    ),
    ("followups", lambda i: _without(followup(i), "due_at"), {"due_at": "required"}),
    ("followups", lambda i: followup(i, due_at=None), {"due_at": "string"}),
    # unknown fields
    ("patients", lambda i: patient(i, nickname="Ave"), {"nickname": "not permitted"}),
    ("appointments", lambda i: appointment(i, start_at=LATER), {"start_at": "not permitted"}),
    ("communications", lambda i: communication(i, read_at=LATER), {"read_at": "not permitted"}),
    ("followups", lambda i: followup(i, org_id="org_other"), {"org_id": "not permitted"}),
    # wrong shapes
    (
        "patients",
        lambda i: patient(i, health_conditions="back pain"),
        {"health_conditions": "list"},
    ),
    ("patients", lambda i: patient(i, name="x" * 301), {"name": "300"}),
    ("patients", lambda i: patient(i, referral_source="r" * 201), {"referral_source": "200"}),
    ("patients", lambda i: patient(i, name="Nul\x00Byte"), {"name": "control"}),
    (
        "patients",
        lambda i: patient(i, health_conditions=["ok", "bad\x00"]),
        {"health_conditions[1]": "control"},
    ),
    ("followups", lambda i: followup(i, reason="x\x00"), {"reason": "control"}),
    ("patients", lambda i: [patient(i)], {"body": "object"}),
    ("patients", lambda i: patient(i, id="P-OTHER"), {"id": "must match the id in the path"}),
    ("appointments", lambda i: appointment(i, id=7), {"id": "string"}),
    ("appointments", lambda i: appointment(i, patient_id="bad id"), {"patient_id": "letters"}),
]


def _case_id(case: tuple[str, Callable[[str], Any], dict[str, str]]) -> str:
    kind, _, fields = case
    return f"{kind}-{'+'.join(fields)}"


@pytest.fixture
def stocked_org(client: TestClient, org: OrgFixture) -> OrgFixture:
    """An org that already holds one record of each kind (ids p1, a1, c1, f1)."""
    seed_patient(client, org)
    for kind in ("appointments", "communications", "followups"):
        record_id = FIRST_IDS[kind]
        r = client.put(
            org.url(f"/{kind}/{record_id}"), json=FACTORIES[kind](record_id), headers=org.headers()
        )
        assert r.status_code == 201, r.text
    return org


@pytest.mark.parametrize("case", REFUSALS, ids=[_case_id(case) for case in REFUSALS])
def test_refusal_names_field_and_stores_nothing(
    client: TestClient,
    engine: Engine,
    stocked_org: OrgFixture,
    case: tuple[str, Callable[[str], Any], dict[str, str]],
) -> None:
    org = stocked_org
    kind, build, expected = case
    before = snapshot(engine, org.id)
    # Once as an update of the stored record, once as a new record.
    for record_id in (FIRST_IDS[kind], "fresh-1"):
        body = build(record_id)
        r = client.put(org.url(f"/{kind}/{record_id}"), json=body, headers=org.headers("ingest"))
        found = problems(r)
        assert set(found) == set(expected), found
        for field, word in expected.items():
            assert word.lower() in found[field].lower(), (field, found[field])
    assert snapshot(engine, org.id) == before
    assert client.get(org.url(f"/{kind}/fresh-1"), headers=org.headers()).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/patients/bad%20id"),
        ("GET", "/patients/bad%20id"),
        ("PUT", "/appointments/-leading-dash"),
        ("GET", "/followups/" + "x" * 129),
        ("PUT", "/communications/caf%C3%A9"),
    ],
)
def test_invalid_path_id_is_refused(
    client: TestClient, engine: Engine, stocked_org: OrgFixture, method: str, path: str
) -> None:
    org = stocked_org
    before = snapshot(engine, org.id)
    kind = path.split("/")[1]
    body = _without(FACTORIES[kind](), "id") if method == "PUT" else None
    r = client.request(method, org.url(path), json=body, headers=org.headers())
    found = problems(r)
    assert found == {"record_id": f"must be {ID_RULE}"}
    assert snapshot(engine, org.id) == before


def test_an_invalid_patient_filter_is_refused_in_words(
    client: TestClient, stocked_org: OrgFixture
) -> None:
    r = client.get(
        stocked_org.url("/appointments"),
        params={"patient_id": "p 1"},
        headers=stocked_org.headers(),
    )
    assert problems(r) == {"patient_id": f"must be {ID_RULE}"}


def test_malformed_json_is_refused(client: TestClient, engine: Engine, org: OrgFixture) -> None:
    before = snapshot(engine, org.id)
    r = client.put(
        org.url("/patients/p1"),
        content=b'{"id": "p1", "name": ',
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    found = problems(r)
    assert list(found) == ["body"]
    assert "JSON" in found["body"]
    assert snapshot(engine, org.id) == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (rb'{"name": "Half \ud800 surrogate", "status": "active"}', "name"),
        (
            rb'{"name": "A", "status": "active", "health_conditions": ["\udc00"]}',
            "health_conditions[0]",
        ),
        (rb'{"name": "A", "status": "active", "email": "a\u0000@example.org"}', "email"),
        (rb'{"name": "A", "status": "active", "referral_source": "GP\u0000"}', "referral_source"),
    ],
)
def test_text_a_database_cannot_store_is_refused(
    client: TestClient, engine: Engine, org: OrgFixture, raw: bytes, field: str
) -> None:
    """JSON escapes can carry NUL or half a surrogate pair: a 422, not a 500 from the driver."""
    before = snapshot(engine, org.id)
    r = client.put(
        org.url("/patients/p1"),
        content=raw,
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    assert list(problems(r)) == [field]
    assert snapshot(engine, org.id) == before


def test_refusal_lists_every_problem_at_once(client: TestClient, org: OrgFixture) -> None:
    body = patient("p1", status="alive", phone="12345", registered_at="2026-01-05", extra=1)
    found = problems(client.put(org.url("/patients/p1"), json=body, headers=org.headers()))
    assert set(found) == {"status", "phone", "registered_at", "extra"}


def test_update_moving_record_to_unknown_patient_is_refused(
    client: TestClient, engine: Engine, stocked_org: OrgFixture, other_org: OrgFixture
) -> None:
    org = stocked_org
    # A patient of another org does not count as one of this org's.
    seed_patient(client, other_org, "p-elsewhere")
    before = snapshot(engine, org.id)
    r = client.put(
        org.url("/appointments/a1"), json=appointment("a1", "p-elsewhere"), headers=org.headers()
    )
    assert "no patient 'p-elsewhere'" in problems(r)["patient_id"]
    assert snapshot(engine, org.id) == before
