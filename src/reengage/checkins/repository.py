"""All SQL of the check-ins; every statement is scoped by ``org_id``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from reengage.derived.histories import id_chunks
from reengage.models import (
    Appointment,
    CheckinAssignment,
    CheckinBatch,
    CheckinCampaign,
    CheckinMessage,
    Communication,
    Patient,
)

# A check-in is someone's until its outcome is known: pending or sending counts as sent
# for the 7-day rule, so that two campaigns' batches of one day do not both message them.
UNDECIDED = ("pending", "sending")


def campaign(session: Session, org_id: str, campaign_id: str) -> CheckinCampaign | None:
    return session.get(CheckinCampaign, (org_id, campaign_id))


def campaigns(session: Session, org_id: str) -> list[CheckinCampaign]:
    rows = session.scalars(
        select(CheckinCampaign)
        .where(CheckinCampaign.org_id == org_id)
        .order_by(CheckinCampaign.created_at, CheckinCampaign.id)
    )
    return list(rows)


def batch(session: Session, org_id: str, batch_id: str) -> CheckinBatch | None:
    return session.get(CheckinBatch, (org_id, batch_id))


def batch_of_day(session: Session, org_id: str, campaign_id: str, day: date) -> CheckinBatch | None:
    return session.scalar(
        select(CheckinBatch).where(
            CheckinBatch.org_id == org_id,
            CheckinBatch.campaign_id == campaign_id,
            CheckinBatch.day == day,
        )
    )


def batches(session: Session, org_id: str, campaign_id: str, limit: int) -> list[CheckinBatch]:
    rows = session.scalars(
        select(CheckinBatch)
        .where(CheckinBatch.org_id == org_id, CheckinBatch.campaign_id == campaign_id)
        .order_by(CheckinBatch.day.desc())
        .limit(limit)
    )
    return list(rows)


def messages(session: Session, org_id: str, batch_id: str) -> list[CheckinMessage]:
    rows = session.scalars(
        select(CheckinMessage)
        .where(CheckinMessage.org_id == org_id, CheckinMessage.batch_id == batch_id)
        .order_by(CheckinMessage.position)
    )
    return list(rows)


def message(session: Session, org_id: str, batch_id: str, patient_id: str) -> CheckinMessage | None:
    return session.get(CheckinMessage, (org_id, batch_id, patient_id))


def patients(session: Session, org_id: str, ids: Sequence[str]) -> dict[str, Patient]:
    found: dict[str, Patient] = {}
    for chunk in id_chunks(ids):
        rows = session.scalars(
            select(Patient).where(Patient.org_id == org_id, Patient.id.in_(chunk))
        )
        found.update((p.id, p) for p in rows)
    return found


def groups(session: Session, org_id: str, campaign_id: str, ids: Sequence[str]) -> dict[str, str]:
    """The patients' groups recorded in the campaign (those never selected are absent)."""
    a = CheckinAssignment
    found: dict[str, str] = {}
    for chunk in id_chunks(ids):
        rows = session.execute(
            select(a.patient_id, a.group).where(
                a.org_id == org_id, a.campaign_id == campaign_id, a.patient_id.in_(chunk)
            )
        )
        found.update((pid, group) for pid, group in rows)
    return found


def last_checkins(
    session: Session, org_id: str, ids: Sequence[str], now: datetime, campaign_id: str
) -> dict[str, datetime]:
    """Each patient's latest check-in of any campaign: its sending time, or ``now`` for one
    of another campaign not settled yet (this campaign's own, unsent, is the batch a
    preview is showing again)."""
    m = CheckinMessage
    found: dict[str, datetime] = {}
    for chunk in id_chunks(ids):
        rows = session.execute(
            select(m.patient_id, func.max(m.sent_at))
            .where(m.org_id == org_id, m.patient_id.in_(chunk), m.state == "sent")
            .group_by(m.patient_id)
        )
        found.update((pid, at) for pid, at in rows if at is not None)
        undecided = session.scalars(
            select(m.patient_id).where(
                m.org_id == org_id,
                m.patient_id.in_(chunk),
                m.state.in_(UNDECIDED),
                m.campaign_id != campaign_id,
            )
        )
        found.update((pid, now) for pid in undecided)
    return found


def held_out_elsewhere(
    session: Session, org_id: str, campaign_id: str, ids: Sequence[str]
) -> set[str]:
    a = CheckinAssignment
    found: set[str] = set()
    for chunk in id_chunks(ids):
        found.update(
            session.scalars(
                select(a.patient_id).where(
                    a.org_id == org_id,
                    a.campaign_id != campaign_id,
                    a.group == "holdout",
                    a.patient_id.in_(chunk),
                )
            )
        )
    return found


def last_staff_attempts(
    session: Session, org_id: str, ids: Sequence[str], since: datetime
) -> dict[str, datetime]:
    """Each patient's latest outreach attempt since ``since`` that no check-in sent."""
    c, m = Communication, CheckinMessage
    from_checkins = select(m.communication_id).where(
        m.org_id == org_id, m.communication_id.is_not(None)
    )
    found: dict[str, datetime] = {}
    for chunk in id_chunks(ids):
        rows = session.execute(
            select(c.patient_id, func.max(c.sent_at))
            .where(
                c.org_id == org_id,
                c.patient_id.in_(chunk),
                c.direction == "outbound",
                c.sent_at >= since,
                c.id.not_in(from_checkins),
            )
            .group_by(c.patient_id)
        )
        found.update((pid, at) for pid, at in rows)
    return found


def sends_of_day(session: Session, org_id: str, day: date, except_campaign: str) -> int:
    """Messages the org's other campaigns' batches of ``day`` send or have sent."""
    b, m = CheckinBatch, CheckinMessage
    batch_ids = select(b.id).where(
        b.org_id == org_id, b.day == day, b.campaign_id != except_campaign
    )
    found = session.scalar(
        select(func.count()).where(
            m.org_id == org_id,
            m.batch_id.in_(batch_ids),
            m.state.in_(("pending", "sending", "sent")),
        )
    )
    return int(found or 0)


def add_batch(
    session: Session,
    batch_row: dict[str, Any],
    message_rows: list[dict[str, Any]],
    assignment_rows: list[dict[str, Any]],
) -> None:
    session.execute(insert(CheckinBatch), [batch_row])
    if message_rows:
        session.execute(insert(CheckinMessage), message_rows)
    if assignment_rows:
        session.execute(insert(CheckinAssignment), assignment_rows)


def sendable_batches(session: Session, org_id: str) -> list[CheckinBatch]:
    """Approved batches with messages still to send, oldest first."""
    b, m = CheckinBatch, CheckinMessage
    waiting = select(m.batch_id).where(m.org_id == org_id, m.state.in_(UNDECIDED))
    rows = session.scalars(
        select(b)
        .where(b.org_id == org_id, b.state == "approved", b.id.in_(waiting))
        .order_by(b.day, b.id)
    )
    return list(rows)


def has_due(session: Session, org_id: str, now: datetime) -> bool:
    """Any message of an approved batch to send now, one whose sender stopped mid-send, or
    one sent and not yet written as a communication."""
    b, m = CheckinBatch, CheckinMessage
    approved = select(b.id).where(b.org_id == org_id, b.state == "approved")
    due = (
        (m.state == "pending") & ((m.next_attempt_at.is_(None)) | (m.next_attempt_at <= now))
    ) | ((m.state == "sending") & (m.lease_until < now))
    found = session.scalar(
        select(m.patient_id).where(m.org_id == org_id, m.batch_id.in_(approved), due).limit(1)
    )
    unwritten = session.scalar(
        select(m.patient_id)
        .where(m.org_id == org_id, m.state == "sent", m.communication_id.is_(None))
        .limit(1)
    )
    return found is not None or unwritten is not None


def due_messages(session: Session, org_id: str, batch_id: str, now: datetime) -> list[str]:
    m = CheckinMessage
    rows = session.scalars(
        select(m.patient_id)
        .where(
            m.org_id == org_id,
            m.batch_id == batch_id,
            m.state == "pending",
            (m.next_attempt_at.is_(None)) | (m.next_attempt_at <= now),
        )
        .order_by(m.position)
    )
    return list(rows)


def unrecorded(session: Session, org_id: str, limit: int) -> list[CheckinMessage]:
    """Sent messages not yet written as communications."""
    m = CheckinMessage
    rows = session.scalars(
        select(m)
        .where(m.org_id == org_id, m.state == "sent", m.communication_id.is_(None))
        .order_by(m.sent_at, m.batch_id, m.patient_id)
        .limit(limit)
    )
    return list(rows)


def abandoned(session: Session, org_id: str, now: datetime) -> list[CheckinMessage]:
    """Messages whose sender's lease ran out before it recorded what the provider said."""
    m = CheckinMessage
    rows = session.scalars(
        select(m).where(m.org_id == org_id, m.state == "sending", m.lease_until < now)
    )
    return list(rows)


def take(
    session: Session, org_id: str, batch_id: str, patient_id: str, now: datetime, until: datetime
) -> bool:
    """Take a pending message to send it: one conditional UPDATE, so two senders never
    both take it."""
    m = CheckinMessage
    taken = session.execute(
        update(m)
        .where(
            m.org_id == org_id,
            m.batch_id == batch_id,
            m.patient_id == patient_id,
            m.state == "pending",
            (m.next_attempt_at.is_(None)) | (m.next_attempt_at <= now),
        )
        .values(state="sending", lease_until=until, attempts=m.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))


def close_pending(session: Session, org_id: str, batch_id: str, reason: str) -> int:
    m = CheckinMessage
    closed = session.execute(
        update(m)
        .where(m.org_id == org_id, m.batch_id == batch_id, m.state == "pending")
        .values(state="skipped", reason=reason, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(closed, "rowcount", 0))


def assignments(session: Session, org_id: str, campaign_id: str) -> list[tuple[str, str, datetime]]:
    a = CheckinAssignment
    rows = session.execute(
        select(a.patient_id, a.group, a.assigned_at).where(
            a.org_id == org_id, a.campaign_id == campaign_id
        )
    )
    return [(pid, group, at) for pid, group, at in rows]


def bookings(
    session: Session, org_id: str, ids: Sequence[str], since: datetime
) -> dict[str, list[datetime]]:
    """When each patient booked appointments, after ``since``."""
    ap = Appointment
    found: dict[str, list[datetime]] = {}
    for chunk in id_chunks(ids):
        rows = session.execute(
            select(ap.patient_id, ap.booked_at).where(
                ap.org_id == org_id,
                ap.patient_id.in_(chunk),
                ap.booked_at.is_not(None),
                ap.booked_at > since,
            )
        )
        for pid, at in rows:
            if at is not None:
                found.setdefault(pid, []).append(at)
    return found


def sent_counts(session: Session, org_id: str, campaign_id: str) -> dict[str, int]:
    m = CheckinMessage
    rows = session.execute(
        select(m.state, func.count())
        .where(m.org_id == org_id, m.campaign_id == campaign_id)
        .group_by(m.state)
    )
    return {state: int(n) for state, n in rows}
