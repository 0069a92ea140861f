from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class DerivedStatus(Base):
    """Derived, one row per org, present only while it holds: every patient of the org has
    derived rows computed under ``settings_key``, ``daily_rollups`` equals their sums, and no
    timestamp those rows hold is later than ``latest_at``. Then, for an ``as_of`` at or after
    ``latest_at`` under those settings, no patient needs reading from their history (but for
    those visiting later on as_of's day: see ``reengage.derived.rollups``)."""

    __tablename__ = "derived_status"

    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    settings_key: Mapped[str] = mapped_column(String(200))
    latest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The instant the org's ``standings`` rows were last brought up to (NULL: none kept).
    standings_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
