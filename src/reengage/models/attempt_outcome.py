from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class AttemptOutcome(Base):
    """Derived, per outreach attempt: the tier its patient was in just before it and whether
    a contact followed within the attribution window; what ``success_rate_prediction`` sums.
    Kept with ``patient_state`` (same refresh, same validity: the patient's horizon)."""

    __tablename__ = "attempt_outcomes"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    communication_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_day: Mapped[int] = mapped_column(Integer)
    # None when the patient was not at risk, or not yet part of the data, just before.
    tier_before: Mapped[str | None] = mapped_column(String(16))
    contacted: Mapped[int] = mapped_column(Integer)
    # The booking it converted into, with every record known. As of any as_of at or after
    # its success time, it had converted exactly when this booking is at or before as_of.
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    converted_day: Mapped[int | None] = mapped_column(Integer)
    # Copies, so that the funnels and daily counts read this table alone: the attempt's
    # channel and timestamps, and its patient's horizon and settings key (patient_state's).
    channel: Mapped[str] = mapped_column(String(8))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    horizon_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settings_key: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_attempt_outcomes_org_day", "org_id", "sent_day"),
        Index("ix_attempt_outcomes_org_patient", "org_id", "patient_id"),
    )
