from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base


class DailyRollup(Base):
    """Derived, per org: per calendar day (an ordinal in the org's timezone) and measure,
    the sum over every patient's ``attempt_outcomes`` and ``risk_spans`` rows (see
    ``reengage.derived.rollups`` for the measures). Day 0 holds all-time totals of the
    tier enter/leave measures, so that tier counts at a day's end read only the days after
    it. Kept by every write with the rows it sums; rebuilt with them."""

    __tablename__ = "daily_rollups"

    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
