from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class RiskSpan(Base):
    """Derived, per patient: each run of days at whose end the patient was in one at-risk
    tier, with the at-risk spell it belongs to. Days are ordinals of calendar days in the
    org's timezone. What trends and days-to-reengage count, without reading histories; kept
    with ``patient_state`` (same refresh, same ``settings_key``)."""

    __tablename__ = "risk_spans"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    first_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    end_day: Mapped[int | None] = mapped_column(Integer)  # None: still in the tier
    tier: Mapped[str] = mapped_column(String(16))
    spell_first_day: Mapped[int] = mapped_column(Integer)
    spell_end_day: Mapped[int | None] = mapped_column(Integer)
    reengaged: Mapped[int] = mapped_column(Integer)
    first_attempt_day: Mapped[int | None] = mapped_column(Integer)
    # Copies of the patient's patient_state values, so trends read this table alone.
    horizon_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settings_key: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_risk_spans_org_first_day", "org_id", "first_day"),
        Index("ix_risk_spans_org_spell_end_day", "org_id", "spell_end_day"),
    )
