"""POST /batch: counts per kind, references within the batch, limits, and all-or-nothing.

The property tests draw communications and whole batches at random and check the API
against an oracle written from the contract's table, not from the code's own tables.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from reengage.models import Followup
from reengage.records import repository
from tests.factories import OrgFixture, appointment, communication, followup, patient
from tests.helpers import RECORD_MODELS, problems, row_counts, snapshot

KINDS = ("patients", "appointments", "communications", "followups")


def counts(created: int = 0, updated: int = 0, unchanged: int = 0) -> dict[str, int]:
    return {"created": created, "updated": updated, "unchanged": unchanged}


def post(client: TestClient, org: OrgFixture, body: Any, role: str = "ingest") -> Any:
    return client.post(org.url("/batch"), json=body, headers=org.headers(role))


def records_only(snap: dict[str, Any]) -> dict[str, Any]:
    return {kind: rows for kind, rows in snap.items() if kind in RECORD_MODELS}


def test_batch_creates_updates_and_counts(client: TestClient, org: OrgFixture) -> None:
    body = {
        "patients": [patient("p1"), patient("p2", name="Blake Example", phone=None)],
        # Appointments and communications name patients sent in the same batch.
        "appointments": [appointment("a1", "p1"), appointment("a2", "p2", status="scheduled")],
        "communications": [
            communication("c1", "p1"),
            communication(
                "c2",
                "p2",
                channel="phone",
                delivered_at=None,
                responded_at=None,
                connected_at="2026-03-01T09:01:00+10:00",
            ),
        ],
        "followups": [followup("f1", "p2")],
    }
    r = post(client, org, body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "patients": counts(created=2),
        "appointments": counts(created=2),
        "communications": counts(created=2),
        "followups": counts(created=1),
    }
    got = client.get(org.url("/communications/c2"), headers=org.headers()).json()
    assert got["connected_at"] == "2026-02-28T23:01:00Z"
    assert got["patient_id"] == "p2"

    # Again, with one patient changed, one appointment new, the rest identical.
    body["patients"][1] = patient("p2", name="Blake Example-Smith", phone=None)
    body["appointments"].append(appointment("a3", "p1", status="cancelled"))
    r = post(client, org, body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "patients": counts(updated=1, unchanged=1),
        "appointments": counts(created=1, unchanged=2),
        "communications": counts(unchanged=2),
        "followups": counts(unchanged=1),
    }
    assert client.get(org.url("/patients/p2"), headers=org.headers()).json()["name"] == (
        "Blake Example-Smith"
    )
    assert client.get(org.url("/appointments/a3"), headers=org.headers()).json()["status"] == (
        "cancelled"
    )


def test_batch_may_reference_stored_patients_and_omit_kinds(
    client: TestClient, org: OrgFixture
) -> None:
    assert post(client, org, {"patients": [patient("p1")]}).status_code == 200
    r = post(client, org, {"followups": [followup("f1", "p1")]})
    assert r.status_code == 200, r.text
    assert r.json()["followups"] == counts(created=1)
    assert r.json()["patients"] == counts()
    empty = post(client, org, {})
    assert empty.status_code == 200
    assert empty.json() == {kind: counts() for kind in KINDS}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"patients": [patient("p1"), patient("p2"), patient("p1", name="Other")]},
            {"patients[2].id": "twice"},
        ),
        (
            {
                "patients": [patient("p1")],
                "followups": [followup("f1", "p1"), followup("f1", "p1")],
            },
            {"followups[1].id": "twice"},
        ),
        (
            {"patients": [{k: v for k, v in patient("p1").items() if k != "id"}]},
            {"patients[0].id": "required"},
        ),
        (
            {"patients": [patient("p1")], "appointments": [appointment("a1", "p9")]},
            {"appointments[0].patient_id": "no patient 'p9'"},
        ),
        (
            {
                "patients": [patient("p1")],
                "communications": [communication("c1", "p1", channel="x")],
            },
            {"communications[0].channel": "'sms'"},
        ),
        (
            {"patients": [patient("p1", phone="12")], "visits": []},
            {"patients[0].phone": "E.164", "visits": "not part of a batch"},
        ),
        ({"patients": {"id": "p1"}}, {"patients": "list"}),
        ([patient("p1")], {"body": "object"}),
    ],
    ids=[
        "duplicate-patient",
        "duplicate-followup",
        "missing-id",
        "unknown-patient",
        "enum",
        "shape",
        "not-a-list",
        "not-an-object",
    ],
)
def test_batch_refusals(
    client: TestClient,
    engine: Engine,
    org: OrgFixture,
    body: Any,
    expected: dict[str, str],
) -> None:
    before = snapshot(engine, org.id)
    found = problems(post(client, org, body))
    assert set(found) == set(expected), found
    for field, word in expected.items():
        assert word in found[field], (field, found[field])
    assert snapshot(engine, org.id) == before


def test_one_answer_names_every_problem_of_every_record(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    """Problems of form (a bad phone, a bad timestamp, an unknown kind) and of rule (an
    unknown patient, a duplicate, an sms "opened") are all named in the first answer, in the
    order sent; an appointment of a batch patient that failed its own checks is not also
    called an unknown patient."""
    before = snapshot(engine, org.id)
    body = {
        "patients": [patient("p1"), patient("p2", phone="12"), patient("p1")],
        "appointments": [
            appointment("a1", "p2"),  # p2 is in the batch: its phone is its only problem
            appointment("a2", "p9"),
            appointment("a3", "p1", starts_at="tomorrow"),
        ],
        "communications": [
            communication("c1", "p1", opened_at="2026-03-01T10:00:00+00:00"),
            communication("c2", "p1", channel="fax"),
        ],
        "visits": [],
    }
    r = post(client, org, body)
    found = [(p["field"], p["type"]) for p in r.json()["detail"]]
    assert r.status_code == 422
    assert found == [
        ("visits", "extra_forbidden"),
        ("patients[1].phone", "value_error"),
        ("patients[2].id", "duplicate"),
        ("appointments[1].patient_id", "unknown_patient"),
        ("appointments[2].starts_at", "value_error"),
        ("communications[0].opened_at", "does_not_fit"),
        ("communications[1].channel", "literal_error"),
    ]
    reasons = problems(r)
    assert reasons["visits"] == (
        "is not part of a batch, which holds patients, appointments, communications, followups"
    )
    assert "no patient 'p9' in this org" in reasons["appointments[1].patient_id"]
    assert snapshot(engine, org.id) == before


def test_batch_over_10000_records_is_refused(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    minimal = [{"id": f"p{i}", "name": "N", "status": "active"} for i in range(6000)]
    body = {"patients": minimal, "followups": [followup(f"f{i}", "p0") for i in range(4001)]}
    found = problems(post(client, org, body))
    assert list(found) == ["body"]
    assert "at most 10,000" in found["body"] and "10,001" in found["body"]
    assert row_counts(engine, org.id) == dict.fromkeys(row_counts(engine, org.id), 0)


def _stock(client: TestClient, org: OrgFixture) -> None:
    body = {
        "patients": [patient("p1")],
        "appointments": [appointment("a1", "p1")],
        "communications": [communication("c1", "p1")],
        "followups": [followup("f1", "p1")],
    }
    assert post(client, org, body).status_code == 200


def _ten_thousand(last_communication: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """10,000 records: 2,500 of each kind, one of them an update of stored patient p1."""
    n = 2500
    patients = [patient("p1", name="Renamed Patient")]
    patients += [{"id": f"bp{i}", "name": f"Batch {i}", "status": "active"} for i in range(1, n)]
    appointments = [
        {
            "id": f"ba{i}",
            "patient_id": f"bp{i % (n - 1) + 1}",
            "starts_at": "2026-02-01T10:00:00+10:00",
            "status": "scheduled",
        }
        for i in range(n)
    ]
    communications = [
        {
            "id": f"bc{i}",
            "patient_id": f"bp{i % (n - 1) + 1}",
            "channel": "sms",
            "direction": "outbound",
            "sent_at": "2026-03-01T09:00:00Z",
        }
        for i in range(n - 1)
    ]
    communications.append(last_communication)
    followups = [
        {"id": f"bf{i}", "patient_id": "p1", "due_at": "2026-03-10T09:00:00Z"} for i in range(n)
    ]
    return {
        "patients": patients,
        "appointments": appointments,
        "communications": communications,
        "followups": followups,
    }


GOOD_LAST = {
    "id": "bc-last",
    "patient_id": "bp1",
    "channel": "email",
    "direction": "outbound",
    "sent_at": "2026-03-01T09:00:00Z",
    "opened_at": "2026-03-01T10:00:00Z",
}


@pytest.mark.parametrize(
    ("bad", "field", "word"),
    [
        ({"channel": "fax"}, "communications[2499].channel", "'sms'"),
        ({"patient_id": "ghost"}, "communications[2499].patient_id", "no patient 'ghost'"),
        ({"channel": "sms"}, "communications[2499].opened_at", "does not fit"),
    ],
    ids=["schema", "unknown-patient", "channel-rule"],
)
def test_batch_of_10000_with_one_bad_record_keeps_nothing(
    client: TestClient,
    engine: Engine,
    org: OrgFixture,
    bad: dict[str, Any],
    field: str,
    word: str,
) -> None:
    _stock(client, org)
    before = snapshot(engine, org.id)
    body = _ten_thousand({**GOOD_LAST, **bad})
    assert sum(len(items) for items in body.values()) == 10_000
    found = problems(post(client, org, body))
    assert list(found) == [field]
    assert word in found[field]
    after = snapshot(engine, org.id)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    assert after == before
    stored = client.get(org.url("/patients/p1"), headers=org.headers()).json()
    assert stored["name"] == patient()["name"]


def test_batch_of_exactly_10000_is_accepted(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    _stock(client, org)
    r = post(client, org, _ten_thousand(GOOD_LAST))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "patients": counts(created=2499, updated=1),
        "appointments": counts(created=2500),
        "communications": counts(created=2500),
        "followups": counts(created=2500),
    }
    totals = row_counts(engine, org.id)
    assert totals["patients"] == 2500
    assert totals["followups"] == 2501
    stored = client.get(org.url("/patients/p1"), headers=org.headers()).json()
    assert stored["name"] == "Renamed Patient"


def test_batch_failing_while_writing_keeps_nothing(
    client: TestClient, engine: Engine, org: OrgFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing even when the database fails after earlier kinds were written."""
    _stock(client, org)
    before = snapshot(engine, org.id)
    real_insert = repository.insert_rows

    def failing_insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
        if model is Followup:
            raise RuntimeError("simulated failure while writing followups")
        real_insert(session, model, rows)

    monkeypatch.setattr(repository, "insert_rows", failing_insert)
    body = {
        "patients": [patient("p1", name="Changed"), patient("p2")],
        "appointments": [appointment("a2", "p2")],
        "followups": [followup("f2", "p2")],
    }
    r = post(client, org, body)
    assert r.status_code == 500
    assert "error id" in r.json()["detail"]
    assert snapshot(engine, org.id) == before


# --- properties ---------------------------------------------------------------------------

# The contract's table: which optional timestamps an outbound communication of each channel
# may carry. An inbound one carries none.
CONTRACT_ALLOWED = {
    "sms": {"delivered_at", "responded_at", "failed_at"},
    "email": {"delivered_at", "opened_at", "responded_at", "failed_at"},
    "phone": {"connected_at", "failed_at"},
}
OPTIONAL_TIMESTAMPS = ("delivered_at", "opened_at", "responded_at", "connected_at", "failed_at")
ZONES = [UTC, timezone(timedelta(hours=10)), timezone(timedelta(hours=-5, minutes=-30))]
SENT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def any_communication(draw: st.DrawFn) -> dict[str, Any]:
    """A communication, valid or not: enums, timestamps and offsets drawn independently."""
    record: dict[str, Any] = {
        "channel": draw(st.sampled_from(["sms", "email", "phone", "sms", "email", "phone", "fax"])),
        "direction": draw(st.sampled_from(["outbound", "inbound", "outbound", "Outbound"])),
        "sent_at": SENT.astimezone(draw(st.sampled_from(ZONES))).isoformat(),
        "_sent": SENT,
    }
    for name in OPTIONAL_TIMESTAMPS:
        minutes = draw(st.none() | st.integers(min_value=-30, max_value=300))
        if minutes is not None:
            at = SENT + timedelta(minutes=minutes)
            record[name] = at.astimezone(draw(st.sampled_from(ZONES))).isoformat()
            record[f"_{name}"] = at
    if draw(st.booleans()):
        record["failure_reason"] = "carrier rejected"
    return record


def expected_fields(record: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(fields refused by type, fields refused by the contract's rules) for one record."""
    by_type = set()
    if record["channel"] not in CONTRACT_ALLOWED:
        by_type.add("channel")
    if record["direction"] not in ("outbound", "inbound"):
        by_type.add("direction")
    if by_type:
        return by_type, set()
    allowed = CONTRACT_ALLOWED[record["channel"]] if record["direction"] == "outbound" else set()
    by_rule = {
        name
        for name in OPTIONAL_TIMESTAMPS
        if name in record and (name not in allowed or record[f"_{name}"] < record["_sent"])
    }
    if "failure_reason" in record and "failed_at" not in record:
        by_rule.add("failure_reason")
    return by_type, by_rule


@PROPERTY_SETTINGS
@given(drawn=st.lists(any_communication(), min_size=1, max_size=4))
def test_batch_accepts_exactly_the_communications_the_rules_allow(
    client: TestClient, org: OrgFixture, drawn: list[dict[str, Any]]
) -> None:
    prefix = uuid.uuid4().hex[:8]
    sent = [
        {k: v for k, v in record.items() if not k.startswith("_")}
        | {"id": f"{prefix}-{i}", "patient_id": f"{prefix}-p"}
        for i, record in enumerate(drawn)
    ]
    body = {"patients": [patient(f"{prefix}-p")], "communications": sent}
    by_type: set[str] = set()
    by_rule: set[str] = set()
    for i, record in enumerate(drawn):
        types, rules = expected_fields(record)
        by_type |= {f"communications[{i}].{name}" for name in types}
        by_rule |= {f"communications[{i}].{name}" for name in rules}

    r = post(client, org, body)
    if by_type or by_rule:
        # One answer names them all: a record's bad type beside another's broken rule.
        assert set(problems(r)) == by_type | by_rule
        assert (
            client.get(org.url(f"/patients/{prefix}-p"), headers=org.headers()).status_code == 404
        )
    else:
        assert r.status_code == 200, r.text
        assert r.json()["communications"] == counts(created=len(sent))
        for record in sent:
            url = org.url(f"/communications/{record['id']}")
            assert client.get(url, headers=org.headers()).json()["channel"] == record["channel"]


TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
OPTIONAL_TEXT = st.none() | st.just("") | TEXT


def instants() -> st.SearchStrategy[str]:
    return st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(ZONES),
    ).map(datetime.isoformat)


@st.composite
def valid_batch(draw: st.DrawFn, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """A batch the contract allows, with varied optional fields, offsets and blanks."""
    n_patients = draw(st.integers(min_value=1, max_value=3))
    pids = [f"{prefix}-p{i}" for i in range(n_patients)]
    channels = st.lists(st.sampled_from(["sms", "email", "phone"]), unique=True)
    patients = [
        {
            "id": pid,
            "name": draw(TEXT.filter(lambda s: s.strip())),
            "phone": draw(st.none() | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)),
            "email": draw(st.none() | st.emails(domains=st.just("example.org"))),
            "status": draw(st.sampled_from(["active", "discharged", "inactive", "deceased"])),
            "registered_at": draw(st.none() | instants()),
            "communication_preferences": draw(channels),
            "opt_outs": draw(channels),
            "health_conditions": draw(st.lists(TEXT, max_size=3)),
            "referral_source": draw(OPTIONAL_TEXT),
        }
        for pid in pids
    ]
    appointments = [
        {
            "id": f"{prefix}-a{i}",
            "patient_id": draw(st.sampled_from(pids)),
            "starts_at": draw(instants()),
            "status": draw(
                st.sampled_from(
                    ["scheduled", "completed", "no_show", "late_cancelled", "cancelled"]
                )
            ),
            "booked_at": draw(st.none() | instants()),
            "type": draw(OPTIONAL_TEXT),
        }
        for i in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    communications = []
    for i in range(draw(st.integers(min_value=0, max_value=3))):
        channel = draw(st.sampled_from(sorted(CONTRACT_ALLOWED)))
        outbound = draw(st.booleans())
        record: dict[str, Any] = {
            "id": f"{prefix}-c{i}",
            "patient_id": draw(st.sampled_from(pids)),
            "channel": channel,
            "direction": "outbound" if outbound else "inbound",
            "sent_at": SENT.astimezone(draw(st.sampled_from(ZONES))).isoformat(),
            "provider_message_id": draw(OPTIONAL_TEXT),
        }
        for name in sorted(CONTRACT_ALLOWED[channel]) if outbound else ():
            seconds = draw(st.none() | st.integers(min_value=0, max_value=10**6))
            if seconds is not None:
                at = SENT + timedelta(seconds=seconds, microseconds=draw(st.integers(0, 999_999)))
                record[name] = at.astimezone(draw(st.sampled_from(ZONES))).isoformat()
        if "failed_at" in record:
            record["failure_reason"] = draw(OPTIONAL_TEXT)
        communications.append(record)
    followups = [
        {
            "id": f"{prefix}-f{i}",
            "patient_id": draw(st.sampled_from(pids)),
            "due_at": draw(instants()),
            "completed_at": draw(st.none() | instants()),
            "reason": draw(OPTIONAL_TEXT),
        }
        for i in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    return {
        "patients": patients,
        "appointments": appointments,
        "communications": communications,
        "followups": followups,
    }


@PROPERTY_SETTINGS
@given(data=st.data())
def test_sending_a_valid_batch_twice_changes_nothing_the_second_time(
    client: TestClient, engine: Engine, org: OrgFixture, data: st.DataObject
) -> None:
    body = data.draw(valid_batch(uuid.uuid4().hex[:8]))
    first = post(client, org, body)
    assert first.status_code == 200, first.text
    assert first.json() == {kind: counts(created=len(body[kind])) for kind in KINDS}
    before = records_only(snapshot(engine, org.id))
    second = post(client, org, body)
    assert second.status_code == 200, second.text
    assert second.json() == {kind: counts(unchanged=len(body[kind])) for kind in KINDS}
    assert records_only(snapshot(engine, org.id)) == before
