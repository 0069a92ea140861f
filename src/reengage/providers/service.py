"""Providers' reports turned into record writes, through the records service (the same
checks, derived state and audit as any write), in the request's one transaction.

Every event is kept once (``provider_events``): a replay is recognised by its key and
changes nothing. A status for a message no communication carries yet waits there and is
applied when the communication arrives (``records.service.plan_writes``). Consent changes
are kept with their source and time (``consent_changes``).
"""

from __future__ import annotations

import json
import logging
import secrets as tokens
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from reengage import clock
from reengage.db.locks import lock_org_writes
from reengage.domain import phones
from reengage.domain import provider_events as rules
from reengage.domain.provider_events import Consent, Step
from reengage.models import Communication, Patient
from reengage.providers import repository, secrets, sending
from reengage.records import service as records
from reengage.records.kinds import COMMUNICATIONS, PATIENTS
from reengage.records.schemas import CommunicationIn, PatientIn

PROVIDERS = ("twilio", "sendgrid")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusEvent:
    """One step of one outbound message, as a provider reported it."""

    key: str
    provider: str
    message_id: str
    status: str
    at: datetime
    step: Step | None


@dataclass(frozen=True)
class ConsentEvent:
    """A patient (by address) withdrew or gave consent to a channel, through a provider."""

    key: str
    provider: str
    channel: str
    address: str
    change: Consent
    at: datetime
    source: str


@dataclass
class Received:
    """What a webhook call did, for its answer (and the tests): counts only, no values."""

    applied: int = 0  # events that moved a communication or a patient's consent
    unchanged: int = 0  # known steps that changed nothing (reordered, not this channel's)
    duplicates: int = 0  # seen before: replays
    waiting: int = 0  # for a message or sender not known yet: kept, applied on arrival

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "waiting": self.waiting,
        }


@dataclass
class _Writes:
    """The records one call writes, by id: later events see earlier ones' changes."""

    communications: dict[str, dict[str, Any]] = field(default_factory=dict)
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)

    def communication(self, row: Communication) -> dict[str, Any]:
        return self.communications.setdefault(row.id, _values(COMMUNICATIONS.fields, row))

    def patient(self, row: Patient) -> dict[str, Any]:
        return self.patients.setdefault(row.id, _values(PATIENTS.fields, row))

    def write(self, session: Session, org_id: str) -> None:
        sent = {
            PATIENTS.name: [
                records.Sent(pid, PatientIn.model_validate(v)) for pid, v in self.patients.items()
            ],
            COMMUNICATIONS.name: [
                records.Sent(cid, CommunicationIn.model_validate(v))
                for cid, v in self.communications.items()
            ],
        }
        if any(sent.values()):
            records.upsert_records(
                session, org_id, sent, loc_prefix=lambda kind, index: ("events", kind, index)
            )


def _values(fields: Sequence[str], row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def receive(
    session: Session,
    org_id: str,
    statuses: Sequence[StatusEvent] = (),
    consents: Sequence[ConsentEvent] = (),
) -> Received:
    """Apply a webhook call's events, oldest first, each at most once."""
    lock_org_writes(session, org_id)
    now = clock.now()
    received = Received()
    keys = [e.key for e in statuses] + [e.key for e in consents]
    known = repository.known_keys(session, org_id, keys)
    fresh_statuses = _fresh(statuses, known, received)
    fresh_consents = _fresh(consents, known, received)
    writes = _Writes()
    rows = _apply_statuses(session, org_id, fresh_statuses, writes, received, now)
    rows += _apply_consents(session, org_id, fresh_consents, writes, received, now)
    repository.add_events(session, rows)
    writes.write(session, org_id)
    return received


def _fresh(events: Sequence[Any], known: set[str], received: Received) -> list[Any]:
    """The events not seen before (nor earlier in this call), oldest first."""
    fresh = []
    for event in events:
        if event.key in known:
            received.duplicates += 1
            continue
        known.add(event.key)
        fresh.append(event)
    return sorted(fresh, key=lambda e: e.at)


def _event_row(org_id: str, event: StatusEvent, now: datetime, applied: bool) -> dict[str, Any]:
    step = event.step
    return {
        "org_id": org_id,
        "key": event.key,
        "provider": event.provider,
        "message_id": event.message_id,
        "status": event.status[:32],
        "occurred_at": event.at,
        "received_at": now,
        "applied_at": now if applied else None,
        "detail": {"field": step.field, "reason": step.reason} if step else {},
    }


def _apply_statuses(
    session: Session,
    org_id: str,
    events: Sequence[StatusEvent],
    writes: _Writes,
    received: Received,
    now: datetime,
) -> list[dict[str, Any]]:
    wanted = sorted({e.message_id for e in events if e.step is not None})
    found = repository.communications_by_message(session, org_id, wanted)
    rows = []
    for event in events:
        row = found.get(event.message_id) if event.step is not None else None
        if event.step is None:
            received.unchanged += 1
        elif row is None:
            received.waiting += 1
        else:
            values = writes.communication(row)
            changes = rules.advanced(values, event.step, event.at)
            if changes:
                values.update(changes)
                received.applied += 1
            else:
                received.unchanged += 1
        waiting = event.step is not None and row is None
        rows.append(_event_row(org_id, event, now, applied=not waiting))
    return rows


def _apply_consents(
    session: Session,
    org_id: str,
    events: Sequence[ConsentEvent],
    writes: _Writes,
    received: Received,
    now: datetime,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for event in events:
        if event.channel == "email":
            patients = repository.patients_by_email(session, org_id, [event.address])
        else:
            patients = repository.patients_by_phone(session, org_id, event.address)
        changes += _consent_changes(org_id, patients, event, writes)
        if patients:
            received.applied += 1
        else:
            received.waiting += 1
        rows.append(
            {
                "org_id": org_id,
                "key": event.key,
                "provider": event.provider,
                "message_id": None,
                "status": event.change,
                "occurred_at": event.at,
                "received_at": now,
                "applied_at": now if patients else None,
                "detail": {"channel": event.channel, "source": event.source},
            }
        )
    repository.add_consent(session, changes)
    return rows


def _consent_changes(
    org_id: str, patients: Sequence[Patient], event: ConsentEvent, writes: _Writes
) -> list[dict[str, Any]]:
    """Each patient's opt-outs after the event (HELP changes none), and the consent change
    kept for each, with its source and time."""
    rows = []
    for patient in patients:
        values = writes.patient(patient)
        if event.change != "asked_for_help":
            values["opt_outs"] = rules.with_consent(
                values["opt_outs"] or [], event.channel, event.change
            )
        rows.append(
            {
                "org_id": org_id,
                "id": f"consent-{tokens.token_hex(8)}",
                "patient_id": patient.id,
                "channel": event.channel,
                "change": event.change,
                "source": event.source[:64],
                "at": event.at,
            }
        )
    return rows


def receive_inbound_sms(
    session: Session, org_id: str, message_sid: str, sender: str, body: str, at: datetime
) -> Received:
    """An SMS a patient sent us: an inbound communication of the patient the number was
    last texted as (the number may be a family's), the reply to their latest unanswered SMS
    unless it is a consent keyword, and for STOP or START the number's consent."""
    lock_org_writes(session, org_id)
    received = Received()
    key = f"twilio:{message_sid}:inbound"
    if repository.known_keys(session, org_id, [key]):
        received.duplicates += 1
        return received
    number = phones.e164(sender, None) or sender
    keyword = rules.consent_keyword(body)
    patients = repository.patients_by_phone(session, org_id, number)
    event = StatusEvent(key, "twilio", message_sid, "inbound", at, None)
    row = _event_row(org_id, event, clock.now(), applied=bool(patients))
    row["detail"] = {"inbound": True, "consent": keyword}
    repository.add_events(session, [row])
    if not patients:
        received.waiting += 1
        return received
    writes = _Writes()
    recent = repository.latest_communications(session, org_id, [p.id for p in patients])
    patient = max(patients, key=lambda p: (_last_sms(recent[p.id]), p.id))
    writes.communications[f"twilio-{message_sid}"] = {
        "id": f"twilio-{message_sid}",
        "patient_id": patient.id,
        "channel": "sms",
        "direction": "inbound",
        "sent_at": at,
        "provider_message_id": message_sid,
    }
    if keyword is None:
        unanswered = rules.answerable([c for c in recent[patient.id] if c.channel == "sms"])
        if unanswered:
            values = writes.communication(unanswered[0])
            values["responded_at"] = max(at, unanswered[0].sent_at)
    received.applied += 1
    if keyword is not None:
        consent_event = ConsentEvent(
            key, "twilio", "sms", number, keyword, at, "twilio inbound SMS"
        )
        targets = [patient] if keyword == "asked_for_help" else patients
        repository.add_consent(session, _consent_changes(org_id, targets, consent_event, writes))
    writes.write(session, org_id)
    return received


def _last_sms(communications: Sequence[Communication]) -> datetime:
    sent = [c.sent_at for c in communications if c.channel == "sms" and c.direction == "outbound"]
    return max(sent, default=datetime.min.replace(tzinfo=UTC))


# --- sending ---

SENDING = {"twilio": "twilio-sending", "sendgrid": "sendgrid-sending"}


@dataclass(frozen=True)
class Senders:
    """What the org can send with: Twilio (its account, sender and the auth token the
    webhooks already use) and SendGrid (an API key and the From address); None: not set."""

    twilio: sending.TwilioSender | None
    sendgrid: sending.SendGridSender | None

    def channels(self) -> tuple[str, ...]:
        return tuple(
            channel
            for channel, sender in (("sms", self.twilio), ("email", self.sendgrid))
            if sender is not None
        )


def put_sending(
    session: Session, org_id: str, provider: str, values: dict[str, str], key: str
) -> None:
    """Store the provider's sending settings, sealed like its webhook credential (the
    account id is not secret, but the API key beside it is)."""
    sealed = secrets.seal(key, json.dumps(values, sort_keys=True))
    repository.put_credential(session, org_id, SENDING[provider], sealed, clock.now())


def senders(session: Session, org_id: str, key: str) -> Senders:
    """The org's senders; one whose settings are missing, or do not open with ``key``, is
    None (and the check-ins skip its channel, saying why)."""
    twilio = sendgrid = None
    found = _opened(session, org_id, "twilio", key)
    token = _secret(session, org_id, "twilio", key)
    if found is not None and token:
        twilio = sending.TwilioSender(found["account_sid"], token, found["sender"])
    found = _opened(session, org_id, "sendgrid", key)
    if found is not None:
        sendgrid = sending.SendGridSender(
            found["api_key"], found["from_email"], found.get("from_name", "")
        )
    return Senders(twilio, sendgrid)


def _secret(session: Session, org_id: str, name: str, key: str) -> str | None:
    row = repository.credential(session, org_id, name)
    if row is None:
        return None
    try:
        return secrets.unseal(key, row.sealed)
    except secrets.SecretsUnavailable as exc:
        log.error("org %s: %s credential cannot be opened: %s", org_id, name, exc)
        return None


def _opened(session: Session, org_id: str, provider: str, key: str) -> dict[str, str] | None:
    opened = _secret(session, org_id, SENDING[provider], key)
    return None if opened is None else dict(json.loads(opened))


def sending_configured(session: Session, org_id: str) -> dict[str, bool]:
    names = {row.provider for row in repository.credentials(session, org_id)}
    return {provider: name in names for provider, name in SENDING.items()}


def record_unsubscribed(session: Session, org_id: str, number: str, message_key: str) -> None:
    """Twilio refused a message because the number replied STOP to our sender (error
    21610): the same as that STOP reaching us, kept as a consent change."""
    event = ConsentEvent(
        f"twilio:{message_key}:21610",
        "twilio",
        "sms",
        number,
        "opted_out",
        clock.now(),
        "twilio error 21610",
    )
    receive(session, org_id, consents=[event])
