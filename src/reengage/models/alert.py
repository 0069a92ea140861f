from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, PrimaryKeyConstraint, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import RecordId, UTCDateTime


class Alert(Base):
    """One rule's finding about one subject (``domain.alerts`` says how it lives).

    ``subject`` is the patient id for a patient's rules, the endpoint id for a disabled
    webhook, and empty for the org's rules; ``detail`` holds counts and percentages only.
    ``cleared_at``: when the rule was seen not to hold; until then the alert is the
    subject's current one for its rule, and the unique index keeps it the only one."""

    __tablename__ = "alerts"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(RecordId)
    patient_id: Mapped[str | None] = mapped_column(RecordId)
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))  # a key id
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(32))  # a key id; null: automatic
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        Index(
            "uq_alerts_current",
            "org_id",
            "rule",
            "subject",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        # The inbox: an org's alerts in a state, newest first.
        Index("ix_alerts_org_state_opened", "org_id", "state", "opened_at"),
    )

    def __repr__(self) -> str:
        return f"Alert(org_id={self.org_id!r}, id={self.id!r}, rule={self.rule!r})"


class WebhookEndpoint(Base):
    """A URL an org registered for its alerts, signed with its own secret (encrypted at
    rest, ``providers.secrets``). ``disabled_at`` is set after repeated failure."""

    __tablename__ = "webhook_endpoints"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    sealed_secret: Mapped[str] = mapped_column(Text)
    rules: Mapped[list[str]] = mapped_column(JSON)  # empty: every rule
    description: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Deliveries in a row that used up every attempt.
    failed_deliveries: Mapped[int] = mapped_column(Integer)

    __table_args__ = (PrimaryKeyConstraint("org_id", "id"),)

    def __repr__(self) -> str:
        return f"WebhookEndpoint(org_id={self.org_id!r}, id={self.id!r})"


class Delivery(Base):
    """Something to send, written in the transaction that decided to send it (an outbox):
    a webhook message to one endpoint, or one digest email. Sent after commit, tried again
    with backoff; ``lease_until`` is the instant a sender that took it and died lets it go."""

    __tablename__ = "deliveries"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(40))  # the webhook-id of a webhook message
    channel: Mapped[str] = mapped_column(String(8))  # webhook | email
    target: Mapped[str] = mapped_column(String(32))  # the endpoint id, or "digest"
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_deliveries_due", "org_id", "state", "next_attempt_at"),
    )

    def __repr__(self) -> str:
        return f"Delivery(org_id={self.org_id!r}, id={self.id!r}, state={self.state!r})"


class DeliveryAttempt(Base):
    """Every attempt to send a delivery: when, what came back, how long it took. Never the
    body, never a recipient's address."""

    __tablename__ = "delivery_attempts"

    org_id: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    milliseconds: Mapped[int] = mapped_column(Integer)

    __table_args__ = (PrimaryKeyConstraint("org_id", "delivery_id", "attempt"),)


class AlertCheck(Base):
    """A patient whose records were written since their alert rules were last judged: put
    here by every write (``derived.upkeep.refresh``, in the write's transaction), taken by
    the next run of ``alerts-checks`` a few seconds later."""

    __tablename__ = "alert_checks"

    org_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(RecordId)

    __table_args__ = (PrimaryKeyConstraint("org_id", "patient_id"),)
