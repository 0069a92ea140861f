"""What a record looks like on the wire, and the checks that need nothing but the record."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from reengage.domain.vocabulary import AppointmentStatus, Channel, Direction, PatientStatus

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
ID_RULE = "1-128 characters: letters, digits and . _ : - (starting with a letter or digit)"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _timestamp(value: Any) -> datetime:
    """ISO 8601 with an offset, and nothing else: a bare date or a number is refused."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                "must be an ISO 8601 timestamp with an offset, e.g. 2026-03-01T09:30:00+10:00"
            ) from None
    else:
        raise ValueError("must be a string: an ISO 8601 timestamp with an offset")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            "needs a UTC offset (e.g. +10:00 or Z): without one the instant is ambiguous"
        )
    return parsed


def _optional_timestamp(value: Any) -> datetime | None:
    value = _blank_to_none(value)
    return None if value is None else _timestamp(value)


def _blank_to_none(value: Any) -> Any:
    """Exports often write an absent optional value as ``""``; store it as absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _record_id(value: Any) -> Any:
    if isinstance(value, str) and not re.match(ID_PATTERN, value):
        raise ValueError(f"must be {ID_RULE}")
    return value


def _phone(value: str | None) -> str | None:
    if value is not None and not E164.match(value):
        raise ValueError(
            "must be an E.164 phone number: '+', country code and number, e.g. +61412345678"
        )
    return value


def _email(value: str | None) -> str | None:
    if value is not None and not EMAIL.match(value):
        raise ValueError("must be an email address such as name@example.com")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not name the same channel twice")
    return values


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_optional_timestamp)]
RecordId = Annotated[str, BeforeValidator(_record_id)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
OptionalShortText = Annotated[ShortText | None, BeforeValidator(_blank_to_none)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
OptionalLongText = Annotated[LongText | None, BeforeValidator(_blank_to_none)]
ChannelList = Annotated[list[Channel], AfterValidator(_unique)]


class Record(BaseModel):
    """Every record: unknown fields are refused (a typo must not silently drop data)."""

    model_config = ConfigDict(extra="forbid", str_strict=True)

    # Optional in a PUT body, where the path names it; required in a batch.
    id: RecordId | None = None


class PatientIn(Record):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    phone: Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_phone)] = None
    email: Annotated[
        str | None,
        BeforeValidator(_blank_to_none),
        StringConstraints(strip_whitespace=True, max_length=320),
        AfterValidator(_email),
    ] = None
    status: PatientStatus
    registered_at: OptionalTimestamp = None
    communication_preferences: ChannelList = Field(default_factory=list)
    opt_outs: ChannelList = Field(default_factory=list)
    health_conditions: list[ShortText] = Field(default_factory=list, max_length=100)
    referral_source: OptionalShortText = None
    last_treatment_outcome: OptionalLongText = None


class AppointmentIn(Record):
    patient_id: RecordId
    starts_at: Timestamp
    status: AppointmentStatus
    booked_at: OptionalTimestamp = None
    type: OptionalShortText = None
    practitioner: OptionalShortText = None


class CommunicationIn(Record):
    patient_id: RecordId
    channel: Channel
    direction: Direction
    sent_at: Timestamp
    delivered_at: OptionalTimestamp = None
    opened_at: OptionalTimestamp = None
    responded_at: OptionalTimestamp = None
    connected_at: OptionalTimestamp = None
    failed_at: OptionalTimestamp = None
    failure_reason: OptionalLongText = None
    provider_message_id: OptionalShortText = None


class FollowupIn(Record):
    patient_id: RecordId
    due_at: Timestamp
    completed_at: OptionalTimestamp = None
    reason: OptionalLongText = None


MAX_BATCH_RECORDS = 10_000


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patients: list[PatientIn] = Field(default_factory=list)
    appointments: list[AppointmentIn] = Field(default_factory=list)
    communications: list[CommunicationIn] = Field(default_factory=list)
    followups: list[FollowupIn] = Field(default_factory=list)


class KindCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class BatchOut(BaseModel):
    patients: KindCounts
    appointments: KindCounts
    communications: KindCounts
    followups: KindCounts


class PatientOut(PatientIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    received_at: datetime
    updated_at: datetime


class AppointmentOut(AppointmentIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    received_at: datetime
    updated_at: datetime


class CommunicationOut(CommunicationIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    received_at: datetime
    updated_at: datetime


class FollowupOut(FollowupIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    received_at: datetime
    updated_at: datetime


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
