from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class CheckinCampaign(Base):
    """A check-in campaign: its settings (``domain.checkins.Campaign``, validated) and the
    secret ``salt`` its holdout is drawn with."""

    __tablename__ = "checkin_campaigns"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(32))
    salt: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (PrimaryKeyConstraint("org_id", "id"),)


class CheckinBatch(Base):
    """One campaign's one day: prepared once (the unique day), then approved (by staff, or
    at once when the campaign says so) or cancelled, and done when nothing is left to send."""

    __tablename__ = "checkin_batches"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    # awaiting_approval | approved | cancelled | done
    state: Mapped[str] = mapped_column(String(20))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(32))  # a key id; null: automatic
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        Index("uq_checkin_batches_day", "org_id", "campaign_id", "day", unique=True),
    )


class CheckinMessage(Base):
    """One patient in one batch: the decision (send, holdout, skip and why) and, for a send,
    how sending went. Never the message's text or the address: the text is the campaign's
    template filled in, shown by rendering it again."""

    __tablename__ = "checkin_messages"

    org_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str] = mapped_column(RecordId)
    campaign_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)  # most urgent first
    outcome: Mapped[str] = mapped_column(String(8))  # send | holdout | skip
    channel: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(32))
    # pending | sending | sent | failed | skipped | held_out
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    communication_id: Mapped[str | None] = mapped_column(RecordId)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "batch_id", "patient_id"),
        # A patient's latest check-in, whatever the campaign (the 7-day rule).
        Index("ix_checkin_messages_org_patient_sent", "org_id", "patient_id", "sent_at"),
        Index("ix_checkin_messages_org_state", "org_id", "state", "next_attempt_at"),
    )


class CheckinAssignment(Base):
    """A patient's group in a campaign, fixed when the campaign first selected them: a
    patient held out stays held out, and the uplift compares the groups from these times."""

    __tablename__ = "checkin_assignments"

    org_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str] = mapped_column(RecordId)
    group: Mapped[str] = mapped_column(String(8))  # messaged | holdout
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    batch_id: Mapped[str] = mapped_column(String(32))

    __table_args__ = (PrimaryKeyConstraint("org_id", "campaign_id", "patient_id"),)
