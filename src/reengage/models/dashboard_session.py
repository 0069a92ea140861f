from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class DashboardSession(Base):
    """A signed-in dashboard session. Only the SHA-256 of the cookie's token is kept, so a
    database leak does not leak sessions; the key it was opened with supplies the org and
    role, and revoking that key ends the session."""

    __tablename__ = "dashboard_sessions"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "key_id"], ["api_keys.org_id", "api_keys.id"], ondelete="CASCADE"
        ),
        # A request names its cookie before it names an org, as with API keys.
        Index("uq_dashboard_sessions_token_hash", "token_hash", unique=True),
        Index("ix_dashboard_sessions_org_last_seen", "org_id", "last_seen_at"),
    )
