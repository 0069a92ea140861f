from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class Patient(Base):
    __tablename__ = "patients"

    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    communication_preferences: Mapped[list[str]] = mapped_column(JSON, default=list)
    opt_outs: Mapped[list[str]] = mapped_column(JSON, default=list)
    health_conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    referral_source: Mapped[str | None] = mapped_column(Text)
    last_treatment_outcome: Mapped[str | None] = mapped_column(Text)
    # When reengage first received the patient: their start when nothing else dates it.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # An inbound SMS or a provider's unsubscribe names the patient by number or address.
        Index("ix_patients_org_phone", "org_id", "phone"),
        Index("ix_patients_org_email", "org_id", "email"),
    )
