from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class Appointment(Base):
    __tablename__ = "appointments"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    type: Mapped[str | None] = mapped_column(String(200))
    practitioner: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["org_id", "patient_id"], ["patients.org_id", "patients.id"]),
        # A patient's records; by starts_at, a patient's next visit without reading the others.
        Index("ix_appointments_org_patient_starts_at", "org_id", "patient_id", "starts_at"),
        # Who has a visit later today (trends and performance at an as_of inside a day).
        Index("ix_appointments_org_starts_at", "org_id", "starts_at"),
    )
