"""Check-in campaigns: their settings, each day's batch (prepared once, approved, sent
inside the org's sending hours) and the uplift report. The decisions are
``domain.checkins``'; this module reads what they need and keeps what they decided.

A message is sent at most once. A sender takes it with a lease (committed), checks consent
again with nothing held open, calls the provider, and records what it said; a sender that
dies between the provider's acceptance and that record leaves the message ``sending``, and
it is then marked failed ("outcome unknown"), not sent again: a patient messaged twice is a
worse fault than one check-in missed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from reengage import clock
from reengage.checkins import repository
from reengage.db.locks import lock_org_writes
from reengage.domain import checkins as rules
from reengage.domain.scope import Scope
from reengage.domain.settings import merge_patch
from reengage.models import CheckinBatch, CheckinCampaign, CheckinMessage, Patient
from reengage.orgs import service as orgs_service
from reengage.providers import sending
from reengage.providers import service as providers
from reengage.records import service as records
from reengage.records.kinds import COMMUNICATIONS
from reengage.records.schemas import CommunicationIn
from reengage.risk import service as risk_service

log = logging.getLogger("reengage.checkins")

LEASE = timedelta(minutes=2)
# After HTTP 429, a 5xx or no answer: wait this long before the next attempt; after the
# last, the message has failed. Within one day's sending hours, as a check-in is that day's.
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))


class CampaignError(Exception):
    """A request the campaign's state refuses (409): approving a cancelled batch."""


@dataclass(frozen=True)
class SendingConfig:
    """Where the providers' APIs are and how to reach back (``REENGAGE_*``)."""

    secret_key: str = ""
    twilio_api_url: str = sending.TWILIO_API_URL
    sendgrid_api_url: str = sending.SENDGRID_API_URL
    public_url: str = ""  # Twilio's status callbacks go here; empty: none asked for
    timeout: float = 10.0


# --- campaigns ---


def settings_of(row: CheckinCampaign) -> rules.Campaign:
    return rules.Campaign.model_validate(row.settings)


def create(session: Session, org_id: str, body: dict[str, Any]) -> CheckinCampaign:
    """A new campaign from ``body`` (every setting optional); ValidationError if invalid."""
    campaign = rules.Campaign.model_validate(body)
    now = clock.now()
    row = CheckinCampaign(
        org_id=org_id,
        id=f"cmp_{secrets.token_hex(8)}",
        salt=secrets.token_hex(16),
        settings=campaign.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: CheckinCampaign, patch: dict[str, Any]) -> rules.Campaign:
    """Merge ``patch`` into the settings (RFC 7396); ValidationError if the result is invalid.
    The salt stays: patients keep their groups."""
    merged = merge_patch(settings_of(row).model_dump(mode="json"), patch)
    campaign = rules.Campaign.model_validate(merged)
    row.settings = campaign.model_dump(mode="json")
    row.updated_at = clock.now()
    return campaign


# --- who, today ---


@dataclass
class Plan:
    """A batch as it would be prepared now: the decisions and what they were made from."""

    campaign: rules.Campaign
    decisions: list[rules.Decision]
    patients: dict[str, Patient]
    org_name: str
    groups: dict[str, str] = field(default_factory=dict)

    def message(self, decision: rules.Decision) -> rules.Message | None:
        patient = self.patients.get(decision.patient_id)
        if decision.channel is None or patient is None:
            return None
        return rules.message(
            self.campaign, decision.channel, rules.first_name(patient.name), self.org_name
        )


def plan(session: Session, org_id: str, row: CheckinCampaign, now: datetime) -> Plan:
    """Today's decisions for the campaign: who its audience includes, most urgent first,
    and for each whether they are messaged (and how), held out, or skipped and why."""
    settings = orgs_service.get_settings(session, org_id)
    campaign = settings_of(row)
    standings = risk_service.standings(session, Scope(org_id, settings, now))
    chosen = [
        s
        for s in standings
        if s.recommended_action != "none"
        and campaign.audience.includes(s.recommended_action, s.tier, s.flags)
    ]
    ids = [s.patient_id for s in chosen]
    patients = repository.patients(session, org_id, ids)
    checked = repository.last_checkins(session, org_id, ids, now, row.id)
    held_elsewhere = repository.held_out_elsewhere(session, org_id, row.id, ids)
    staff = repository.last_staff_attempts(
        session, org_id, ids, now - timedelta(days=rules.STAFF_QUIET_DAYS)
    )
    groups = repository.groups(session, org_id, row.id, ids)
    candidates = [
        rules.Candidate(
            patient_id=s.patient_id,
            priority=s.action_priority,
            risk_score=s.risk_score,
            has_phone=bool(p.phone),
            has_email=bool(p.email),
            communication_preferences=tuple(p.communication_preferences or ()),
            opt_outs=tuple(p.opt_outs or ()),
            recommended_action=s.recommended_action,
            checked_in_at=checked.get(s.patient_id),
            staff_attempt_at=staff.get(s.patient_id),
            held_out_elsewhere=s.patient_id in held_elsewhere,
        )
        for s in chosen
        if (p := patients.get(s.patient_id)) is not None
    ]
    configured = providers.sending_configured(session, org_id)
    usable = [c for c in campaign.channels if configured[PROVIDER_OF[c]]]
    # The org's cap, less what its other campaigns' batches of today already send.
    room = settings.checkins_daily_cap - repository.sends_of_day(
        session, org_id, local_day(session, org_id, now), row.id
    )
    if usable:
        deciding = campaign.model_copy(
            update={"channels": usable, "daily_cap": max(0, min(campaign.daily_cap, room))}
        )
        decisions = rules.decide(deciding, row.salt, candidates, groups, now)
    else:
        decisions = [
            rules.Decision(c.patient_id, "skip", None, "not_configured")
            for c in rules.ordered(candidates)
        ]
    org = orgs_service.get_org(session, org_id)
    return Plan(campaign, decisions, patients, org.name, groups)


PROVIDER_OF = {"sms": "twilio", "email": "sendgrid"}


def local_day(session: Session, org_id: str, now: datetime) -> date:
    return now.astimezone(orgs_service.get_settings(session, org_id).zone()).date()


def words_for(
    session: Session, org_id: str, row: CheckinCampaign | None, ids: Sequence[str]
) -> Plan | None:
    """What renders a kept batch's messages again (the text is never stored)."""
    if row is None:
        return None
    org = orgs_service.get_org(session, org_id)
    return Plan(settings_of(row), [], repository.patients(session, org_id, ids), org.name)


def _due_campaigns(session: Session, org_id: str, now: datetime) -> list[CheckinCampaign]:
    zone = orgs_service.get_settings(session, org_id).zone()
    today = now.astimezone(zone).date()
    return [
        row
        for row in repository.campaigns(session, org_id)
        if (campaign := settings_of(row)).enabled
        and campaign.schedule.is_open(now, zone)
        and repository.batch_of_day(session, org_id, row.id, today) is None
    ]


def batch_due(session: Session, org_id: str) -> bool:
    """Whether a campaign's sending hours have begun today with no batch prepared yet."""
    return bool(_due_campaigns(session, org_id, clock.now()))


def prepare(session: Session, org_id: str, now: datetime) -> list[str]:
    """Prepare today's batch of every enabled campaign whose sending hours have begun (once:
    a day's batch is never prepared twice); the ids of those prepared."""
    lock_org_writes(session, org_id)
    today = now.astimezone(orgs_service.get_settings(session, org_id).zone()).date()
    return [
        _keep(session, org_id, row, plan(session, org_id, row, now), now, today)
        for row in _due_campaigns(session, org_id, now)
    ]


def _keep(
    session: Session, org_id: str, row: CheckinCampaign, found: Plan, now: datetime, day: date
) -> str:
    batch_id = f"cib_{secrets.token_hex(8)}"
    sends = sum(1 for d in found.decisions if d.outcome == "send")
    automatic = found.campaign.approval == "automatic"
    state = "done" if not sends else ("approved" if automatic else "awaiting_approval")
    batch_row = {
        "org_id": org_id,
        "id": batch_id,
        "campaign_id": row.id,
        "day": day,
        "state": state,
        "prepared_at": now,
        "approved_at": now if automatic and sends else None,
        "approved_by": None,
        "finished_at": now if not sends else None,
    }
    states = {"send": "pending", "holdout": "held_out", "skip": "skipped"}
    message_rows = [
        {
            "org_id": org_id,
            "batch_id": batch_id,
            "patient_id": d.patient_id,
            "campaign_id": row.id,
            "position": position,
            "outcome": d.outcome,
            "channel": d.channel,
            "reason": d.reason,
            "state": states[d.outcome],
            "attempts": 0,
        }
        for position, d in enumerate(found.decisions)
    ]
    assignment_rows = [
        {
            "org_id": org_id,
            "campaign_id": row.id,
            "patient_id": d.patient_id,
            "group": "holdout" if d.outcome == "holdout" else "messaged",
            "assigned_at": now,
            "batch_id": batch_id,
        }
        for d in found.decisions
        if d.outcome in ("send", "holdout") and d.patient_id not in found.groups
    ]
    repository.add_batch(session, batch_row, message_rows, assignment_rows)
    log.info(
        "org %s: check-in batch %s of campaign %s prepared (%d to send, state %s)",
        org_id,
        batch_id,
        row.id,
        sends,
        state,
    )
    return batch_id


def approve(session: Session, org_id: str, batch: CheckinBatch, key_id: str) -> None:
    if batch.state != "awaiting_approval":
        raise CampaignError(f"the batch is {batch.state.replace('_', ' ')}, not awaiting approval")
    row = repository.campaign(session, org_id, batch.campaign_id)
    assert row is not None
    zone = orgs_service.get_settings(session, org_id).zone()
    window = settings_of(row).schedule.window(batch.day, zone)
    now = clock.now()
    if window is None or now >= window[1]:
        raise CampaignError("that day's sending hours are over: nothing of this batch will be sent")
    batch.state, batch.approved_at, batch.approved_by = "approved", now, key_id


def cancel(session: Session, org_id: str, batch: CheckinBatch) -> int:
    if batch.state not in ("awaiting_approval", "approved"):
        raise CampaignError(f"the batch is {batch.state.replace('_', ' ')}: nothing to cancel")
    batch.state, batch.finished_at = "cancelled", clock.now()
    return repository.close_pending(session, org_id, batch.id, "cancelled")


# --- sending ---


def has_work(session: Session, org_id: str) -> bool:
    return repository.has_due(session, org_id, clock.now())


def send_due(sessions: sessionmaker[Session], org_id: str, config: SendingConfig) -> int:
    """Send what the org's approved batches hold, inside their sending hours; returns the
    number of provider calls made."""
    now = clock.now()
    with sessions() as session:
        for stuck in repository.abandoned(session, org_id, now):
            stuck.state, stuck.lease_until = "failed", None
            stuck.error = "outcome unknown: the sender stopped mid-send (not sent again)"
            log.warning("org %s: check-in of batch %s abandoned mid-send", org_id, stuck.batch_id)
        session.commit()
    record_sent(sessions, org_id)
    with sessions() as session:
        work = [
            (b.id, b.day, b.prepared_at, settings_of(c))
            for b in repository.sendable_batches(session, org_id)
            if (c := repository.campaign(session, org_id, b.campaign_id)) is not None
        ]
        senders = providers.senders(session, org_id, config.secret_key)
        zone = orgs_service.get_settings(session, org_id).zone()
        org_name = orgs_service.get_org(session, org_id).name
    calls = 0
    for batch_id, day, prepared_at, campaign in work:
        window = campaign.schedule.window(day, zone)
        if window is None or now >= window[1]:
            with sessions() as session:
                closed = repository.close_pending(session, org_id, batch_id, "window_closed")
                _finish_if_done(session, org_id, batch_id)
                session.commit()
            if closed:
                log.info("org %s: batch %s: %d left unsent at closing", org_id, batch_id, closed)
            continue
        if now < window[0]:
            continue
        with sessions() as session:
            due = repository.due_messages(session, org_id, batch_id, now)
        slowed: set[str] = set()
        for index, patient_id in enumerate(due, start=1):
            sender = _Send(sessions, org_id, batch_id, patient_id, prepared_at, config)
            calls += sender.run(campaign, senders, org_name, slowed)
            if index % RECORD_EVERY == 0:
                record_sent(sessions, org_id)
        record_sent(sessions, org_id)
        with sessions() as session:
            _finish_if_done(session, org_id, batch_id)
            session.commit()
    return calls


def _finish_if_done(session: Session, org_id: str, batch_id: str) -> None:
    batch = repository.batch(session, org_id, batch_id)
    if batch is None or batch.state != "approved":
        return
    left = [
        m
        for m in repository.messages(session, org_id, batch_id)
        if m.state in ("pending", "sending")
    ]
    if not left:
        batch.state, batch.finished_at = "done", clock.now()


@dataclass
class _Send:
    """One message, taken, checked, sent and recorded, each step in its own transaction."""

    sessions: sessionmaker[Session]
    org_id: str
    batch_id: str
    patient_id: str
    prepared_at: datetime
    config: SendingConfig

    def run(
        self, campaign: rules.Campaign, senders: providers.Senders, org_name: str, slowed: set[str]
    ) -> int:
        now = clock.now()
        with self.sessions() as session:
            message = repository.message(session, self.org_id, self.batch_id, self.patient_id)
            if message is None or message.channel in slowed:
                return 0
            if not repository.take(
                session, self.org_id, self.batch_id, self.patient_id, now, now + LEASE
            ):
                return 0
            session.commit()
        with self.sessions() as session:
            message = repository.message(session, self.org_id, self.batch_id, self.patient_id)
            assert message is not None and message.channel is not None
            channel = message.channel
            patient = session.get(Patient, (self.org_id, self.patient_id))
            address = (
                None if patient is None else (patient.phone if channel == "sms" else patient.email)
            )
            staff = repository.last_staff_attempts(
                session, self.org_id, [self.patient_id], self.prepared_at
            ).get(self.patient_id)
            reason = (
                rules.still_sendable(channel, patient.opt_outs or [], staff, self.prepared_at)
                if patient is not None and address
                else "no_contact_details"
            )
            if reason is not None:
                message.state, message.reason, message.lease_until = "skipped", reason, None
                session.commit()
                log.info(
                    "org %s: check-in of batch %s skipped: %s", self.org_id, self.batch_id, reason
                )
                return 0
            assert patient is not None and address is not None
            words = rules.message(campaign, channel, rules.first_name(patient.name), org_name)
            session.rollback()  # nothing held open while the provider answers
        answer = self._call(channel, address, words, senders)
        with self.sessions() as session:
            self._record(session, channel, address, answer)
            session.commit()
        if answer.retry and answer.status_code == 429:
            slowed.add(channel)  # the provider asked us to slow down: the rest wait a tick
        return 1

    def _call(
        self, channel: str, address: str, words: rules.Message, senders: providers.Senders
    ) -> sending.Answer:
        config = self.config
        if channel == "sms":
            if senders.twilio is None:
                return sending.Answer(None, error="no Twilio sending settings for this org")
            callback = (
                f"{config.public_url.rstrip('/')}/hooks/v1/orgs/{self.org_id}/twilio/messages"
                if config.public_url
                else None
            )
            return sending.send_sms(
                senders.twilio, address, words.text, callback, config.twilio_api_url, config.timeout
            )
        if senders.sendgrid is None:
            return sending.Answer(None, error="no SendGrid sending settings for this org")
        return sending.send_email(
            senders.sendgrid,
            address,
            words.subject or "",
            words.text,
            {"reengage_batch": self.batch_id},
            config.sendgrid_api_url,
            config.timeout,
        )

    def _record(self, session: Session, channel: str, address: str, answer: sending.Answer) -> None:
        message = repository.message(session, self.org_id, self.batch_id, self.patient_id)
        assert message is not None
        now = clock.now()
        message.lease_until = None
        if answer.accepted:
            message.state, message.sent_at, message.error = "sent", now, None
            message.provider_message_id = answer.message_id
            log.info("org %s: check-in of batch %s sent (%s)", self.org_id, self.batch_id, channel)
            return
        message.error = (answer.error or "")[:300]
        if answer.retry and message.attempts <= len(RETRY_DELAYS):
            message.state = "pending"
            message.next_attempt_at = now + RETRY_DELAYS[message.attempts - 1]
            log.warning(
                "org %s: check-in of batch %s: attempt %d failed (%s), tried again later",
                self.org_id,
                self.batch_id,
                message.attempts,
                answer.status_code or "no answer",
            )
            return
        message.state, message.next_attempt_at = "failed", None
        log.warning(
            "org %s: check-in of batch %s failed: %s", self.org_id, self.batch_id, message.error
        )
        if not answer.retry and answer.status_code is not None:
            # The provider refused this number or address: an attempt that failed, which the
            # list shows as failed contact (try another channel).
            failed = Attempt(self.patient_id, channel, now, None, answer.error)
            message.communication_id = write_attempts(session, self.org_id, [failed])[0]
        if answer.unsubscribed:
            providers.record_unsubscribed(
                session, self.org_id, address, f"{self.batch_id}:{self.patient_id}"
            )


@dataclass(frozen=True)
class Attempt:
    """A check-in as the outreach records keep it: sent (the provider's id), or refused."""

    patient_id: str
    channel: str
    sent_at: datetime
    message_id: str | None
    failure: str | None = None


def write_attempts(session: Session, org_id: str, attempts: Sequence[Attempt]) -> list[str]:
    """The check-ins as outbound communications (through the records service: its checks,
    derived state and audit), in one write; their ids."""
    ids = [f"checkin-{secrets.token_hex(8)}" for _ in attempts]
    sent = [
        records.Sent(
            comm_id,
            CommunicationIn.model_validate(
                {
                    "id": comm_id,
                    "patient_id": a.patient_id,
                    "channel": a.channel,
                    "direction": "outbound",
                    "sent_at": a.sent_at,
                    "provider_message_id": a.message_id,
                    "failed_at": a.sent_at if a.failure is not None else None,
                    "failure_reason": a.failure,
                }
            ),
        )
        for comm_id, a in zip(ids, attempts, strict=True)
    ]
    records.upsert_records(
        session,
        org_id,
        {COMMUNICATIONS.name: sent},
        loc_prefix=lambda kind, index: ("checkin", kind, index),
    )
    return ids


# Accepted messages are written as communications this many at a time: one records write
# (and its derived state) for many messages, where one each took most of a send's time.
RECORD_EVERY = 100


def record_sent(sessions: sessionmaker[Session], org_id: str) -> int:
    """Write the communications of the messages the providers accepted that have none yet
    (a sender that stopped before writing them leaves them to the next): nothing sent is
    missing from the outreach records for longer than a batch takes."""
    written = 0
    while True:
        with sessions() as session:
            found = repository.unrecorded(session, org_id, RECORD_EVERY)
            if not found:
                return written
            ids = write_attempts(
                session,
                org_id,
                [
                    Attempt(m.patient_id, m.channel or "sms", m.sent_at or clock.now(),
                            m.provider_message_id)
                    for m in found
                ],
            )  # fmt: skip
            for message, comm_id in zip(found, ids, strict=True):
                message.communication_id = comm_id
            session.commit()
            written += len(found)


# --- the uplift ---


@dataclass(frozen=True)
class Report:
    uplift: rules.Uplift
    waiting: dict[str, int]  # selected, but their attribution window has not ended yet
    window_days: int
    states: dict[str, int]


def report(session: Session, org_id: str, campaign_id: str, now: datetime) -> Report:
    """Booking rates of the messaged and the held-out patients whose attribution window has
    ended, each counted from when the campaign first selected them: intention to treat
    (a messaged patient whose message failed still counts as messaged), so that nothing the
    sending did can bias the comparison."""
    settings = orgs_service.get_settings(session, org_id)
    zone, days = settings.zone(), settings.attribution_window_days
    chosen = repository.assignments(session, org_id, campaign_id)
    ended = [(pid, g, at, rules.window_end(at, zone, days)) for pid, g, at in chosen]
    complete = [row for row in ended if row[3] <= now]
    waiting = {"messaged": 0, "holdout": 0}
    for _, group, _, end in ended:
        if end > now:
            waiting[group] += 1
    since = min((at for _, _, at, _ in complete), default=now)
    booked_at = repository.bookings(session, org_id, [pid for pid, *_ in complete], since)
    totals = {"messaged": [0, 0], "holdout": [0, 0]}
    for pid, group, at, end in complete:
        totals[group][0] += 1
        if any(at < b <= end for b in booked_at.get(pid, ())):
            totals[group][1] += 1
    found = rules.uplift(rules.Group(*totals["messaged"]), rules.Group(*totals["holdout"]))
    return Report(found, waiting, days, repository.sent_counts(session, org_id, campaign_id))


def measured_uplift(
    session: Session, org_id: str, now: datetime
) -> tuple[str, rules.Uplift] | None:
    """The uplift of the org's campaign with the most patients measured, for the overview's
    "bookings from outreach" goal; None until a campaign has enough data."""
    found = [
        (row.id, report(session, org_id, row.id, now).uplift)
        for row in repository.campaigns(session, org_id)
    ]
    measured = [(cid, u) for cid, u in found if u.enough]
    return max(
        measured,
        key=lambda item: item[1].messaged.patients + item[1].holdout.patients,
        default=None,
    )


def messages_of(session: Session, org_id: str, batch_id: str) -> Sequence[CheckinMessage]:
    return repository.messages(session, org_id, batch_id)
