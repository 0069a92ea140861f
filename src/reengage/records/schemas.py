"""What a record looks like on the wire, and the checks that need nothing but the record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from reengage.domain.calendar import OUT_OF_RANGE, instant_in_range
from reengage.domain.vocabulary import AppointmentStatus, Channel, Direction, PatientStatus
from reengage.errors import pattern
from reengage.plain_text import SPACE, LongText, ShortText, storable, text_schema

ID_RULE = "1-128 characters: letters, digits and . _ : - (starting with a letter or digit)"
ID_PATTERN = pattern(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$", f"must be {ID_RULE}")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(f"^[^@{SPACE}]+@[^@{SPACE}]+\\.[^@{SPACE}]+$")


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
    if not instant_in_range(parsed):
        raise ValueError(OUT_OF_RANGE)
    return parsed


def _optional_timestamp(value: Any) -> datetime | None:
    value = _blank_to_none(value)
    return None if value is None else _timestamp(value)


def _blank_to_none(value: Any) -> Any:
    """Exports often write an absent optional value as ``""``; store it as absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


# The patterns are checked with ``fullmatch``: with ``match``, ``$`` also matches before a
# trailing newline, so "+61412345678\n" or "p1\n" would pass.
def _record_id(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(ID_PATTERN, value):
        raise ValueError(f"must be {ID_RULE}")
    return value


def _phone(value: str) -> str:
    if not E164.fullmatch(value):
        raise ValueError(
            "must be an E.164 phone number: '+', country code and number, e.g. +61412345678"
        )
    return value


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as name@example.com")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not name the same channel twice")
    return values


# The OpenAPI document's forms, as strict as the checks above or stricter (never looser: a
# client that keeps to the document is never refused for the form of a value). A timestamp's
# year is 1901-8998 there, so that any offset keeps it inside 1900-8999 in UTC too, and its
# day at most what every year's month has (no 29 February).
_YEAR = "(190[1-9]|19[1-9][0-9]|[2-7][0-9]{3}|8[0-8][0-9]{2}|89[0-8][0-9]|899[0-8])"
_MONTH_DAY = "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
_OFFSET = "(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])"
TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{_YEAR}-{_MONTH_DAY}T{_TIME}{_OFFSET}$",
    "description": "ISO 8601 with an offset, in the years 1900 to 8999 (in UTC too)",
    "examples": ["2026-03-01T09:30:00+10:00"],
}
# What is sent back is the instant in UTC, which an offset may have moved into 1900 or 8999.
STORED_TIMESTAMP = WithJsonSchema(
    {"type": "string", "format": "date-time", "description": "ISO 8601, in UTC"},
    mode="serialization",
)
# Exports write an absent value as "" (or whitespace): taken as absent.
BLANK_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^[{SPACE}]*$"}


def _or_blank(schema: dict[str, Any]) -> WithJsonSchema:
    """The schema, a blank string or null, as a request may send it (a response: the
    schema or null, with no blanks)."""
    return WithJsonSchema({"anyOf": [schema, BLANK_SCHEMA, {"type": "null"}]}, mode="validation")


ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": ID_PATTERN, "description": ID_RULE}
PHONE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": E164.pattern,
    "description": "E.164: '+', country code and number",
    "examples": ["+61412345678"],
}
EMAIL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": f"^[^@{SPACE}\\u0000]+@[^@{SPACE}\\u0000]+\\.[^@{SPACE}\\u0000]+$",
    "maxLength": 320,
    "examples": ["name@example.com"],
}
NAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": f"^[^{SPACE}\\u0000]([^\\u0000]*[^{SPACE}\\u0000])?$",
    "maxLength": 300,
}

Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    WithJsonSchema(TIMESTAMP_SCHEMA, mode="validation"),
    STORED_TIMESTAMP,
]
OptionalTimestamp = Annotated[
    Annotated[datetime, STORED_TIMESTAMP] | None,
    BeforeValidator(_optional_timestamp),
    _or_blank(TIMESTAMP_SCHEMA),
]
RecordId = Annotated[str, BeforeValidator(_record_id), WithJsonSchema(ID_SCHEMA)]
OptionalShortText = Annotated[
    ShortText | None, BeforeValidator(_blank_to_none), _or_blank(text_schema(200).json_schema)
]
OptionalLongText = Annotated[
    LongText | None, BeforeValidator(_blank_to_none), _or_blank(text_schema(2000).json_schema)
]
ChannelList = Annotated[
    list[Channel], AfterValidator(_unique), Field(json_schema_extra={"uniqueItems": True})
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(storable),
    WithJsonSchema(NAME_SCHEMA),
]
# The constraints sit inside the ``| None``: on the union they would also run on None (and
# fail with a TypeError, a 500, for a patient sent with no email).
Phone = Annotated[
    Annotated[str, AfterValidator(_phone)] | None,
    BeforeValidator(_blank_to_none),
    _or_blank(PHONE_SCHEMA),
]
Email = Annotated[
    Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=320),
        AfterValidator(_email),
        AfterValidator(storable),
    ]
    | None,
    BeforeValidator(_blank_to_none),
    _or_blank(EMAIL_SCHEMA),
]


class Record(BaseModel):
    """Every record: unknown fields are refused (a typo must not silently drop data)."""

    model_config = ConfigDict(extra="forbid")

    # Optional in a PUT body, where the path names it; required in a batch.
    id: RecordId | None = None


class PatientIn(Record):
    name: Name
    phone: Phone = None
    email: Email = None
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


# A batch's items as the document shows them: the id is required, as no path names it.
class PatientInBatch(PatientIn):
    id: RecordId


class AppointmentInBatch(AppointmentIn):
    id: RecordId


class CommunicationInBatch(CommunicationIn):
    id: RecordId


class FollowupInBatch(FollowupIn):
    id: RecordId


MAX_BATCH_RECORDS = 10_000


@dataclass(frozen=True)
class DocumentedAs:
    """Keeps a value as it was sent while the OpenAPI schema documents it as ``shape``.

    A batch's items are checked one by one by the service rather than by the request's
    model, so that one answer names every problem of every item: a bad timestamp in one and
    an unknown patient in another are both in the first 422, not one after the other.
    """

    shape: Any

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(self.shape).core_schema)


class BatchIn(BaseModel):
    """A batch as sent: its four lists, each item a record of that kind."""

    # Anything else is refused, by the service, beside the items' own problems (with
    # ``extra="forbid"`` here an unknown key would hide them).
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})

    patients: Annotated[list[Any], DocumentedAs(list[PatientInBatch])] = Field(default_factory=list)
    appointments: Annotated[list[Any], DocumentedAs(list[AppointmentInBatch])] = Field(
        default_factory=list
    )
    communications: Annotated[list[Any], DocumentedAs(list[CommunicationInBatch])] = Field(
        default_factory=list
    )
    followups: Annotated[list[Any], DocumentedAs(list[FollowupInBatch])] = Field(
        default_factory=list
    )


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
