from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class PatientState(Base):
    """Derived, per patient: what the risk rules need, kept in the transaction that writes
    the patient's records, and rebuilt by ``reengage state rebuild``. See
    ``reengage.domain.state`` for what each value means and when it may be used."""

    __tablename__ = "patient_state"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    horizon_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contact_day: Mapped[int] = mapped_column(Integer)
    future_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    missed_day_1: Mapped[int | None] = mapped_column(Integer)
    missed_day_2: Mapped[int | None] = mapped_column(Integer)
    missed_day_3: Mapped[int | None] = mapped_column(Integer)
    failed_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_day: Mapped[int | None] = mapped_column(Integer)
    last_attempt_day: Mapped[int | None] = mapped_column(Integer)
    followup_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followup_due_day: Mapped[int | None] = mapped_column(Integer)
    # What a page of the list shows of the whole history (``domain.state``); null in rows
    # written before migration 0007, which are not used until the org is rebuilt.
    completed: Mapped[int | None] = mapped_column(Integer)
    last_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int | None] = mapped_column(Integer)
    successes_morning: Mapped[int | None] = mapped_column(Integer)
    successes_afternoon: Mapped[int | None] = mapped_column(Integer)
    successes_evening: Mapped[int | None] = mapped_column(Integer)
    recent_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The org settings this row (and the patient's attempt outcomes) were computed under
    # (``OrgSettings.derivation_key``): rows under other settings are not used.
    settings_key: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        # The risk statement reads an org's active patients: found by index, not by a scan.
        Index("ix_patient_state_org_status", "org_id", "status"),
        # The few patients with records after as_of (``freshness.late_ids``), on every
        # request that finds the org's status ahead of as_of: found without a scan.
        Index("ix_patient_state_org_horizon", "org_id", "horizon_at"),
    )
