from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reengage.db.base import Base
from reengage.db.types import UTCDateTime


class ProviderCredential(Base):
    """An org's secret for one provider (Twilio's auth token, SendGrid's verification key),
    encrypted (``providers.secrets``). Only admins set it; nobody reads it back."""

    __tablename__ = "provider_credentials"

    org_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    sealed: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (PrimaryKeyConstraint("org_id", "provider"),)


class ProviderEvent(Base):
    """Every event a provider reported, once: ``key`` is its identity (SendGrid's
    ``sg_event_id``, Twilio's ``MessageSid`` and status), so a replay is recognised. One for
    a message no communication carries yet waits here (``applied_at`` null) until it does.
    ``detail`` holds what applying it needs (status, error code, times), never a message's
    text or an address."""

    __tablename__ = "provider_events"

    org_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "key"),
        Index("ix_provider_events_org_message", "org_id", "message_id"),
    )


class ConsentChange(Base):
    """A change to a patient's consent to a channel, with where it came from and when: an
    SMS saying STOP, a SendGrid unsubscribe. Shown on the patient page."""

    __tablename__ = "consent_changes"

    org_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(8))
    # opted_out | opted_in | asked_for_help
    change: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_consent_changes_org_patient", "org_id", "patient_id", "at"),
    )
