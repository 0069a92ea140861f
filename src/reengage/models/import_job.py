from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class ImportJob(Base):
    """One import sent to ``POST .../imports``: what was asked, where it stands, and its
    report (ids, counts and problems by row and field; never a record's values)."""

    __tablename__ = "import_jobs"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(32))
    # queued | running | done | refused | failed
    status: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    profile: Mapped[str | None] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    keep_valid: Mapped[bool] = mapped_column(Boolean)
    file_bytes: Mapped[int] = mapped_column()
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (PrimaryKeyConstraint("org_id", "id"),)

    def __repr__(self) -> str:
        return f"ImportJob(org_id={self.org_id!r}, id={self.id!r}, status={self.status!r})"
