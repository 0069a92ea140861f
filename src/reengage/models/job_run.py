from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class JobRun(Base):
    """A scheduled job's slot that has run: written in the transaction of the job's own
    writes, so a slot is either done with everything it wrote, or not done at all
    (``reengage.jobs.scheduler``). The primary key is what keeps it once."""

    __tablename__ = "job_runs"

    org_id: Mapped[str] = mapped_column(String(64))
    job: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(32))  # the slot's instant, ISO 8601 UTC
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[float] = mapped_column(Float)
    worker: Mapped[str] = mapped_column(String(80))  # host:pid

    __table_args__ = (PrimaryKeyConstraint("org_id", "job", "slot"),)
