"""Small builders for the domain's history values, so a scenario reads like its story.

Times are given as "``days`` calendar days before ``AS_OF``'s date, at ``hour``:``minute``
in ``zone``": ``ago(3, 9)`` is 09:00 three days before the default as_of; negative days are
in the future.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from reengage.domain.history import Appointment, Communication, Followup, PatientHistory
from reengage.domain.settings import OrgSettings, TierThresholds

# A Sunday evening, well clear of any DST change in the zones the tests use.
AS_OF = datetime(2024, 6, 30, 18, 0, tzinfo=UTC)
TODAY = AS_OF.date()
SYDNEY = ZoneInfo("Australia/Sydney")
DEFAULT = OrgSettings()

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):05d}"


def ago(
    days: int,
    hour: int = 10,
    minute: int = 0,
    *,
    zone: tzinfo = UTC,
    base: date = TODAY,
) -> datetime:
    """``hour:minute`` in ``zone`` (default UTC) on the day ``days`` before ``base``."""
    return datetime.combine(base - timedelta(days=days), time(hour, minute), tzinfo=zone)


def day(days: int, base: date = TODAY) -> date:
    """The date ``days`` before ``base`` (negative: after)."""
    return base - timedelta(days=days)


def settings(**overrides: object) -> OrgSettings:
    return OrgSettings.model_validate(overrides)


def thresholds(low: int, medium: int, high: int, critical: int) -> TierThresholds:
    return TierThresholds(low=low, medium=medium, high=high, critical=critical)


def appt(
    starts_at: datetime,
    status: str = "completed",
    booked_at: datetime | None = None,
    id: str | None = None,
) -> Appointment:
    return Appointment(id or _next_id("a"), starts_at, status, booked_at)


def sms(
    sent_at: datetime,
    *,
    delivered_at: datetime | None = None,
    responded_at: datetime | None = None,
    failed_at: datetime | None = None,
    id: str | None = None,
) -> Communication:
    return Communication(
        id or _next_id("c"),
        "sms",
        "outbound",
        sent_at,
        delivered_at=delivered_at,
        responded_at=responded_at,
        failed_at=failed_at,
    )


def email(
    sent_at: datetime,
    *,
    delivered_at: datetime | None = None,
    opened_at: datetime | None = None,
    responded_at: datetime | None = None,
    failed_at: datetime | None = None,
    id: str | None = None,
) -> Communication:
    return Communication(
        id or _next_id("c"),
        "email",
        "outbound",
        sent_at,
        delivered_at=delivered_at,
        opened_at=opened_at,
        responded_at=responded_at,
        failed_at=failed_at,
    )


def call(
    sent_at: datetime,
    *,
    connected_at: datetime | None = None,
    failed_at: datetime | None = None,
    id: str | None = None,
) -> Communication:
    return Communication(
        id or _next_id("c"),
        "phone",
        "outbound",
        sent_at,
        connected_at=connected_at,
        failed_at=failed_at,
    )


def inbound(sent_at: datetime, channel: str = "sms", id: str | None = None) -> Communication:
    """The patient wrote or called: only ``sent_at``."""
    return Communication(id or _next_id("c"), channel, "inbound", sent_at)


def followup(
    due_at: datetime, completed_at: datetime | None = None, id: str | None = None
) -> Followup:
    return Followup(id or _next_id("f"), due_at, completed_at)


# Registered long before anything the tests look at, so the start never decides by default.
LONG_AGO = ago(1000)


def patient(
    *records: Appointment | Communication | Followup,
    id: str = "p1",
    status: str = "active",
    registered_at: datetime | None = LONG_AGO,
    received_at: datetime = LONG_AGO,
    phone: bool = True,
    email: bool = True,
    prefs: Iterable[str] = (),
    opt_outs: Iterable[str] = (),
) -> PatientHistory:
    """A patient with the given records, sorted into their kinds."""
    return PatientHistory(
        id=id,
        status=status,
        received_at=received_at,
        registered_at=registered_at,
        has_phone=phone,
        has_email=email,
        communication_preferences=tuple(prefs),
        opt_outs=tuple(opt_outs),
        appointments=tuple(r for r in records if isinstance(r, Appointment)),
        communications=tuple(r for r in records if isinstance(r, Communication)),
        followups=tuple(r for r in records if isinstance(r, Followup)),
    )


def seen(days: int) -> Appointment:
    """A completed visit ``days`` ago (booking unknown): the patient's last contact."""
    return appt(ago(days, 9), "completed")


def booked_ahead(days_ahead: int, booked_days_ago: int) -> Appointment:
    """A scheduled visit ``days_ahead`` from now, booked ``booked_days_ago``."""
    return appt(ago(-days_ahead, 9), "scheduled", booked_at=ago(booked_days_ago, 8))
