from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class Communication(Base):
    __tablename__ = "communications"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId)
    channel: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "patient_id"], ["patients.org_id", "patients.id"]),
        # A patient's records; by sent_at, a patient's latest attempts without reading the others.
        Index("ix_communications_org_patient_sent_at", "org_id", "patient_id", "sent_at"),
        Index("ix_communications_org_sent_at", "org_id", "sent_at"),
        # A provider's status callback names the message by its id.
        Index("ix_communications_org_provider_message", "org_id", "provider_message_id"),
    )
