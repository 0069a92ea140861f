from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class Standing(Base):
    """Derived, per population patient: where they stand on the org's current day, as the
    risk statement computes it (``reengage.derived.risk_statement``, whose column names and
    codes these are), valid from ``derived_status.standings_at`` until ``until_at``.

    A cache of a cache, so that the list and the risk metrics read stored values instead of
    evaluating the rules for every patient on every request; ``reengage.derived.stored_standings``
    says when it is kept, used and rebuilt. A row whose ``until_at`` has passed (a write
    sets it to the epoch, with the values left as they were or empty) is recomputed before
    the table is read."""

    __tablename__ = "standings"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    tier: Mapped[int | None] = mapped_column(SmallInteger)
    missed: Mapped[int | None] = mapped_column(SmallInteger)
    failed: Mapped[int | None] = mapped_column(SmallInteger)
    overdue: Mapped[int | None] = mapped_column(SmallInteger)
    future: Mapped[int | None] = mapped_column(SmallInteger)
    rule: Mapped[int | None] = mapped_column(SmallInteger)
    score: Mapped[int | None] = mapped_column(Integer)
    days: Mapped[int | None] = mapped_column(Integer)
    next_day: Mapped[int | None] = mapped_column(Integer)
    week: Mapped[int | None] = mapped_column(SmallInteger)
    until_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Rows due for recomputing are found without a scan.
        Index("ix_standings_until", "org_id", "until_at"),
        Index("ix_standings_next_day", "org_id", "next_day", "patient_id"),
    )


# A page of the list is read in its order from an index, one per sort.
Index("ix_standings_score", Standing.org_id, Standing.score.desc(), Standing.patient_id)
Index("ix_standings_days", Standing.org_id, Standing.days.desc(), Standing.patient_id)
