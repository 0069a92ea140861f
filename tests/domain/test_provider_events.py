"""The providers' reports as rules (``domain.provider_events``): each status's meaning,
the consent keywords, and that a message only moves forward, whatever order and however
often its reports arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reengage.domain import provider_events as rules
from reengage.domain.provider_events import Step
from reengage.domain.records import communication_problems

SENT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "code", "step"),
    [
        ("delivered", None, Step("delivered_at")),
        ("open", None, Step("opened_at")),
        ("click", None, Step("opened_at")),
        ("bounce", "5.1.1", Step("failed_at", "sendgrid bounce 5.1.1")),
        ("dropped", None, Step("failed_at", "sendgrid dropped")),
        ("processed", None, None),
        ("deferred", "4.0.0", None),
    ],
)
def test_each_sendgrid_event(event: str, code: str | None, step: Step | None) -> None:
    assert rules.sendgrid_step(event, code) == step


@pytest.mark.parametrize(
    ("status", "step"),
    [
        ("delivered", Step("delivered_at")),
        ("read", Step("delivered_at")),
        ("undelivered", Step("failed_at", "twilio undelivered (error 30003)")),
        ("failed", Step("failed_at", "twilio failed (error 30003)")),
        ("canceled", Step("failed_at", "twilio canceled (error 30003)")),
        ("sent", None),
        ("Queued", None),
    ],
)
def test_each_twilio_message_status(status: str, step: Step | None) -> None:
    assert rules.twilio_message_step(status, "30003") == step


def test_twilio_call_statuses() -> None:
    assert rules.twilio_call_step("completed", 40) == Step("connected_at")
    assert rules.twilio_call_step("completed", 0) is None
    assert rules.twilio_call_step("busy", None) is None
    assert rules.twilio_call_step("no-answer", None) is None
    assert rules.twilio_call_step("failed", None) == Step("failed_at", "twilio call failed")


@pytest.mark.parametrize(
    ("body", "consent"),
    [
        ("STOP", "opted_out"), (" stop ", "opted_out"), ("Stop!", "opted_out"),
        ("stop all", "opted_out"), ("unsubscribe", "opted_out"), ("END", "opted_out"),
        ("quit", "opted_out"), ("REVOKE", "opted_out"), ("opt out", "opted_out"),
        ("cancel", "opted_out"), ("START", "opted_in"), ("yes", "opted_in"),
        ("Unstop", "opted_in"), ("HELP", "asked_for_help"),
        ("please stop calling", None), ("Yes I'll come Tuesday", None), ("", None),
    ],
)  # fmt: skip
def test_consent_keywords_are_the_message_alone(body: str, consent: str | None) -> None:
    assert rules.consent_keyword(body) == consent


def test_consent_changes_one_channel() -> None:
    assert rules.with_consent(["email"], "sms", "opted_out") == ["email", "sms"]
    assert rules.with_consent(["sms", "email"], "sms", "opted_in") == ["email"]
    assert rules.with_consent(["sms"], "sms", "opted_out") == ["sms"]


STEPS = st.sampled_from(
    [
        Step("delivered_at"),
        Step("opened_at"),
        Step("connected_at"),
        Step("failed_at", "provider failed"),
    ]
)


def _play(channel: str, reports: list[tuple[Step, int]]) -> dict[str, Any]:
    comm: dict[str, Any] = {
        "channel": channel,
        "direction": "outbound",
        "sent_at": SENT,
        **dict.fromkeys(
            ("delivered_at", "opened_at", "responded_at", "connected_at", "failed_at"), None
        ),
        "failure_reason": None,
    }
    for step, minutes in reports:
        comm.update(rules.advanced(comm, step, SENT + timedelta(minutes=minutes)) or {})
    return comm


@given(
    channel=st.sampled_from(["sms", "email", "phone"]),
    reports=st.lists(st.tuples(STEPS, st.integers(-60, 600)), max_size=8),
)
def test_a_message_only_moves_forward_and_replays_change_nothing(
    channel: str, reports: list[tuple[Step, int]]
) -> None:
    once = _play(channel, reports)
    assert _play(channel, reports + reports) == once  # every report again: nothing moves
    # Always a communication the records API accepts.
    assert communication_problems(channel, "outbound", SENT, once, once["failure_reason"]) == []
    # Never both failed and delivered, opened or connected.
    if once["failed_at"] is not None:
        assert once["delivered_at"] is None and once["opened_at"] is None
        assert once["connected_at"] is None
    # The first report of each kind that could apply is the one kept.
    for field in {step.field for step, _ in reports}:
        if once[field] is not None:
            first = next(m for s, m in reports if s.field == field)
            assert once[field] == max(SENT, SENT + timedelta(minutes=first))
