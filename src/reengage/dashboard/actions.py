"""What staff record from the call list, turned into records and written through the same
service as the records API (so validation, derived state and the audit trail are the same).

Each outcome is one communication, timestamped now:

- ``called_connected``: an outbound phone call, connected (a successful contact);
- ``called_no_answer``: an outbound phone call never connected (a failed contact);
- ``sms_sent`` / ``email_sent``: an outbound message, not yet answered;
- ``replied``: the patient answered the SMS or email staff chose among the unanswered ones
  (it gets ``responded_at``), or wrote to us unprompted (``new-sms``, ``new-email``: an
  inbound message).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reengage import clock
from reengage.dashboard.views import local_text
from reengage.domain.provider_events import answerable
from reengage.models import Patient
from reengage.records import service as records
from reengage.records.kinds import COMMUNICATIONS, FOLLOWUPS, RecordKind
from reengage.records.schemas import CommunicationIn, FollowupIn, Record

OUTCOMES: dict[str, str] = {
    "called_connected": "Called: connected",
    "called_no_answer": "Called: no answer",
    "sms_sent": "SMS sent",
    "email_sent": "Email sent",
    "replied": "Patient replied",
}
NEW_MESSAGE = {"new-sms": "sms", "new-email": "email"}  # a reply to nothing we sent
CHANNEL_WORDS = {"sms": "SMS", "email": "email", "phone": "call"}


class ActionError(ValueError):
    """A refused action: (form field, reason fit to show the user)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Recorded:
    record_id: str
    created: bool
    message: str


def new_id(kind: str) -> str:
    """Ids the dashboard chooses: marked as its own, never colliding with a client's."""
    return f"dash-{kind}-{secrets.token_hex(8)}"


def _reachable(patient: Patient, channel: str) -> None:
    if channel in (patient.opt_outs or []):
        raise ActionError("outcome", f"This patient has opted out of {channel}.")
    contact = patient.email if channel == "email" else patient.phone
    if not contact:
        what = "email address" if channel == "email" else "phone number"
        raise ActionError("outcome", f"There is no {what} on file for this patient.")


def record_outreach(
    session: Session,
    org_id: str,
    patient: Patient,
    outcome: str,
    reply_to: str | None,
    zone: ZoneInfo,
) -> Recorded:
    if outcome not in OUTCOMES:
        raise ActionError("outcome", f"Choose one of: {', '.join(OUTCOMES.values())}.")
    now = clock.now()
    if outcome == "replied":
        return _reply(session, org_id, patient, reply_to, now, zone)
    channel = {"sms_sent": "sms", "email_sent": "email"}.get(outcome, "phone")
    _reachable(patient, channel)
    record = CommunicationIn(
        patient_id=patient.id,
        channel=channel,
        direction="outbound",
        sent_at=now,
        connected_at=now if outcome == "called_connected" else None,
    )
    record_id = new_id("comm")
    records.upsert_one(session, org_id, COMMUNICATIONS, record_id, record)
    return Recorded(record_id, True, f"Recorded: {OUTCOMES[outcome]}.")


def _reply(
    session: Session,
    org_id: str,
    patient: Patient,
    reply_to: str | None,
    now: datetime,
    zone: ZoneInfo,
) -> Recorded:
    if not reply_to:
        raise ActionError("reply_to", "Choose which message the patient replied to.")
    if reply_to in NEW_MESSAGE:
        return _inbound(session, org_id, patient, NEW_MESSAGE[reply_to], now)
    sent = records.get_record(session, org_id, COMMUNICATIONS, reply_to)
    if sent is None or sent.patient_id != patient.id or not answerable([sent]):
        raise ActionError("reply_to", "That message is not one of this patient's unanswered ones.")
    at = max(now, sent.sent_at)  # a message sent "later" by a clock ahead of ours
    opened = {"opened_at": at} if sent.channel == "email" and sent.opened_at is None else {}
    record = _stored(COMMUNICATIONS, sent, responded_at=at, **opened)
    records.upsert_one(session, org_id, COMMUNICATIONS, sent.id, record)
    sent_on = local_text(sent.sent_at, zone)
    message = f"Recorded: the patient replied to the {CHANNEL_WORDS[sent.channel]} of {sent_on}."
    return Recorded(sent.id, False, message)


def _inbound(
    session: Session, org_id: str, patient: Patient, channel: str, now: datetime
) -> Recorded:
    inbound = CommunicationIn(
        patient_id=patient.id,
        channel=channel,
        direction="inbound",
        sent_at=now,
    )
    record_id = new_id("comm")
    records.upsert_one(session, org_id, COMMUNICATIONS, record_id, inbound)
    return Recorded(record_id, True, f"Recorded: a new {CHANNEL_WORDS[channel]} from the patient.")


def _stored(kind: RecordKind, row: Any, **changes: Any) -> Record:
    """A stored row as the record a client would PUT, with ``changes`` (a PUT replaces the
    whole record, so every field is sent)."""
    return kind.schema.model_validate({name: getattr(row, name) for name in kind.fields} | changes)


def schedule_followup(
    session: Session,
    org_id: str,
    patient: Patient,
    due_date: str,
    due_time: str,
    reason: str,
    zone: ZoneInfo,
) -> Recorded:
    try:
        day = date.fromisoformat(due_date)
    except ValueError:
        raise ActionError("due_date", "Give the due date as a date (YYYY-MM-DD).") from None
    try:
        at = time.fromisoformat(due_time or "09:00")
    except ValueError:
        raise ActionError("due_time", "Give the time as HH:MM, e.g. 09:00.") from None
    if len(reason) > 2000:
        raise ActionError("reason", "Keep the reason under 2,000 characters.")
    due = datetime.combine(day, at, tzinfo=zone)
    if day.year < 1900 or day.year > 8999:
        raise ActionError("due_date", "Give a date between the years 1900 and 8999.")
    if due < clock.now():
        raise ActionError(
            "due_date",
            f"{local_text(due, zone)} has passed: a follow-up due then would be overdue at "
            "once. Choose a later date or time.",
        )
    record = FollowupIn(patient_id=patient.id, due_at=due, reason=reason.strip() or None)
    record_id = new_id("fu")
    records.upsert_one(session, org_id, FOLLOWUPS, record_id, record)
    return Recorded(record_id, True, f"Follow-up scheduled for {local_text(due, zone)}.")


def complete_followup(
    session: Session, org_id: str, patient: Patient, followup_id: str
) -> Recorded:
    row = records.get_record(session, org_id, FOLLOWUPS, followup_id)
    if row is None or row.patient_id != patient.id:
        raise ActionError("followup", "No such follow-up for this patient.")
    if row.completed_at is not None:
        return Recorded(followup_id, False, "That follow-up was already done.")
    record = _stored(FOLLOWUPS, row, completed_at=clock.now())
    records.upsert_one(session, org_id, FOLLOWUPS, followup_id, record)
    return Recorded(followup_id, False, "Follow-up marked done.")
