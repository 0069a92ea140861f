"""What a messaging provider's report means for one of our communications, as plain rules.

Providers report each step of a message (Twilio's status callbacks, SendGrid's events); each
step is a change to one timestamp of the outbound communication that carries the provider's
message id. The rules here keep a message moving forward only: a step already recorded, one
the channel does not have, or one after the message's outcome is settled (delivered or
failed, a call connected) changes nothing, so replays and late or reordered callbacks are
harmless. Consent keywords follow the carriers' (and Twilio's) standard opt-out words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from reengage.domain.vocabulary import allowed_timestamps

Field = Literal["delivered_at", "opened_at", "connected_at", "failed_at"]
Consent = Literal["opted_out", "opted_in", "asked_for_help"]

# Twilio's standard keywords (Advanced Opt-Out's defaults), matched on the message alone.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# SendGrid events that withdraw (or give back) consent to email.
EMAIL_OPT_OUT_EVENTS = frozenset({"unsubscribe", "group_unsubscribe", "spamreport"})
EMAIL_OPT_IN_EVENTS = frozenset({"group_resubscribe"})


@dataclass(frozen=True)
class Step:
    """One step a provider reported: which timestamp it sets, and for a failure the reason,
    keeping the provider's own code."""

    field: Field
    reason: str | None = None


def twilio_message_step(status: str, error_code: str | None) -> Step | None:
    """A Twilio Messaging status (``MessageStatus``); None for the steps before the outcome
    (queued, sending, sent...), which the communication's ``sent_at`` already records."""
    status = status.lower()
    if status in ("delivered", "read"):
        return Step("delivered_at")
    if status in ("failed", "undelivered", "canceled"):
        code = f" (error {error_code})" if error_code else ""
        return Step("failed_at", f"twilio {status}{code}")
    return None


def twilio_call_step(status: str, duration_seconds: int | None) -> Step | None:
    """A Twilio Voice status (``CallStatus``): a completed call that lasted is connected; a
    failed one failed; busy and no-answer leave it not connected (nothing to set)."""
    status = status.lower()
    if status == "completed" and duration_seconds:
        return Step("connected_at")
    if status == "failed":
        return Step("failed_at", "twilio call failed")
    return None


def sendgrid_step(event: str, status_code: str | None) -> Step | None:
    """A SendGrid Event Webhook event on a message (consent events are ``email_consent``)."""
    if event == "delivered":
        return Step("delivered_at")
    if event in ("open", "click"):  # a click is an open the pixel missed
        return Step("opened_at")
    if event in ("bounce", "dropped"):
        code = f" {status_code}" if status_code else ""
        return Step("failed_at", f"sendgrid {event}{code}")
    return None


SETTLED_BY: dict[str, tuple[str, ...]] = {
    # A message that failed is not delivered, opened or connected later, and one that was
    # delivered, opened, answered or connected does not fail afterwards.
    "delivered_at": ("failed_at",),
    "opened_at": ("failed_at",),
    "connected_at": ("failed_at",),
    "failed_at": ("delivered_at", "opened_at", "responded_at", "connected_at"),
}


def advanced(communication: Mapping[str, Any], step: Step, at: datetime) -> dict[str, Any] | None:
    """The changes a step makes to an outbound communication (its stored values), or None
    when it makes none. ``at`` is when the provider says it happened; never before
    ``sent_at`` (the clinic's clock and the provider's differ)."""
    if communication["direction"] != "outbound":
        return None
    if step.field not in allowed_timestamps(communication["channel"], "outbound"):
        return None
    if communication.get(step.field) is not None:
        return None
    if any(communication.get(other) is not None for other in SETTLED_BY[step.field]):
        return None
    changes: dict[str, Any] = {step.field: max(at, communication["sent_at"])}
    if step.field == "failed_at":
        changes["failure_reason"] = step.reason
    return changes


def consent_keyword(body: str) -> Consent | None:
    """What an inbound SMS says about consent: the message alone, ignoring case, spaces and
    a closing full stop or exclamation mark ("stop", " Stop! ")."""
    word = "".join(body.split()).upper().rstrip(".!")
    if word in OPT_OUT_WORDS:
        return "opted_out"
    if word in OPT_IN_WORDS:
        return "opted_in"
    if word in HELP_WORDS:
        return "asked_for_help"
    return None


def with_consent(opt_outs: Sequence[str], channel: str, change: Consent) -> list[str]:
    """A patient's opt-outs after a consent change to one channel."""
    kept = [c for c in opt_outs if c != channel]
    return [*kept, channel] if change == "opted_out" else kept


def answerable(communications: Sequence[Any]) -> list[Any]:
    """The messages a reply can answer, in the order given (newest first, by the caller's
    reading): our SMS and emails with no reply and no failure. The dashboard's "patient
    replied" and an inbound SMS from a provider both answer the first."""
    return [
        c
        for c in communications
        if c.direction == "outbound"
        and c.channel in ("sms", "email")
        and c.responded_at is None
        and c.failed_at is None
    ]
