from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class ApiKey(Base):
    """An API key: only its SHA-256 is kept, so a database leak does not leak keys."""

    __tablename__ = "api_keys"

    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # A request names its key before it names an org, so this lookup cannot lead with org_id.
    __table_args__ = (Index("uq_api_keys_key_hash", "key_hash", unique=True),)
