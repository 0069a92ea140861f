from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    FetchedValue,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class AuditEntry(Base):
    """Who read or wrote patient data: key id, org, route, patient ids or a count, when, from where.

    Ids only; never a name, phone, email or condition.
    """

    __tablename__ = "audit_log"

    # Keyed by org first, like every tenant table (a Citus distribution key). The id comes
    # from PostgreSQL's sequence, or on SQLite from the org's largest (``audit.record_access``).
    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), server_default=FetchedValue()
    )
    key_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    # Up to AUDIT_MAX_IDS patient ids touched; record_count is always the full number.
    patient_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    record_count: Mapped[int] = mapped_column(Integer)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_audit_log_org_at", "org_id", "at"),
    )
