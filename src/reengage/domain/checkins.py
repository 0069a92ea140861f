"""Automated check-ins: who a campaign messages, on which channel, with what words, when,
and who it holds out; and the uplift, messaged against held out.

Plain rules, no I/O: the service (``checkins.service``) reads the patients and writes the
batches; the decisions are made here, so that a batch's preview, its sending and the tests
apply exactly the same ones.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from reengage.domain import risk
from reengage.domain.settings import DayCount, clock_time

# At most one check-in per patient per this many days (whatever the campaign), and none to
# a patient an outreach attempt not from a check-in (staff's call, SMS or email) reached in
# as many days: the seed's tier says "automated check-in", not "a message every morning".
COOLDOWN_DAYS = 7
STAFF_QUIET_DAYS = 7
# A group smaller than this says nothing yet: the report answers "not enough data yet".
MIN_GROUP = 30
Z_95 = 1.959963984540054

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS: tuple[str, ...] = ("sms", "email")
ACTIONS: tuple[str, ...] = tuple(action for _, action, _ in risk.ACTION_RULES)

# Why a patient the audience names is not messaged: decided when the batch is prepared
# (the first five) or just before sending (the rest). Kept with the patient's row.
SKIP_REASONS: dict[str, str] = {
    "opted_out": "opted out of every channel the campaign may use",
    "no_contact_details": "no phone number or email address for the channels left",
    "checked_in_recently": f"checked in during the last {COOLDOWN_DAYS} days",
    "staff_contacted_recently": f"contacted by staff during the last {STAFF_QUIET_DAYS} days",
    "daily_cap": "over the daily cap (the campaign's, or the org's for all its campaigns)",
    "not_configured": "the org has no sending settings for the campaign's channels",
    "held_out_elsewhere": "held out by another campaign: its comparison group gets nothing",
    "opted_out_since": "opted out after the batch was prepared",
    "contacted_since": "contacted after the batch was prepared",
    "window_closed": "the day's sending hours ended before this was sent",
    "cancelled": "the batch was cancelled",
}

PLACEHOLDERS: tuple[str, ...] = ("first_name", "clinic_name", "booking_link", "clinic_phone")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
STOP_TEXT = "Reply STOP to opt out."
_STOP_WORD = re.compile(r"\bSTOP\b")

DEFAULT_SMS = (
    "Hi {first_name}, it's {clinic_name}. It has been a little while since we saw you: "
    "how are you going? Book at {booking_link} or call us on {clinic_phone}."
)
DEFAULT_EMAIL_SUBJECT = "How are you going, {first_name}?"
DEFAULT_EMAIL_BODY = (
    "Hi {first_name},\n\nIt has been a little while since we saw you at {clinic_name}, and "
    "we wanted to check in. If you would like to come back, book at {booking_link} or call us "
    "on {clinic_phone}.\n\nThe team at {clinic_name}"
)


def placeholders_in(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def _template(value: str) -> str:
    unknown = [name for name in placeholders_in(value) if name not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: use {known}")
    if value.count("{") != value.count("}"):
        raise ValueError("has an unmatched { or }")
    return value


Action = Literal[
    "immediate_phone_call",
    "reschedule_missed_appointment",
    "sms_with_followup_call",
    "try_alternate_channel",
    "complete_overdue_followup",
    "automated_checkin",
    "routine_monitoring",
    "book_next_appointment",
]
Tier = Literal["critical", "high", "medium", "low", "engaged"]
Flag = Literal["missed_appt", "failed_contact", "overdue_followup", "no_future_appt"]


def _automated_checkin() -> list[Action]:
    return ["automated_checkin"]


class Audience(BaseModel):
    """Who the campaign is for: patients whose recommended action is one of ``actions``, in
    one of ``tiers``, with one of ``flags``; ``null`` for any. All that are given must hold."""

    model_config = ConfigDict(extra="forbid", strict=True)

    actions: list[Action] | None = Field(default_factory=_automated_checkin, min_length=1)
    tiers: list[Tier] | None = Field(None, min_length=1)
    flags: list[Flag] | None = Field(None, min_length=1)

    def includes(self, action: str, tier: str, flags: Sequence[str]) -> bool:
        return (
            (self.actions is None or action in self.actions)
            and (self.tiers is None or tier in self.tiers)
            and (self.flags is None or any(f in self.flags for f in flags))
        )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Channel = Literal["sms", "email"]


def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


def _both_channels() -> list[Channel]:
    return ["sms", "email"]


class Schedule(BaseModel):
    """When messages go: these weekdays, from ``start`` to ``end``, in the org's timezone."""

    model_config = ConfigDict(extra="forbid", strict=True)

    days: list[Weekday] = Field(default_factory=_weekdays, min_length=1)
    start: Annotated[str, Field(max_length=5)] = "09:00"
    end: Annotated[str, Field(max_length=5)] = "17:00"

    @field_validator("start", "end")
    @classmethod
    def _times(cls, value: str) -> str:
        return clock_time(value, "09:00")

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if not self.start < self.end:
            raise ValueError("start must be before end (sending hours within one day)")
        return self

    def window(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The day's sending hours as instants, or None on a day without them."""
        if WEEKDAYS[day.weekday()] not in self.days:
            return None
        start = datetime.combine(day, time.fromisoformat(self.start), zone)
        end = datetime.combine(day, time.fromisoformat(self.end), zone)
        return start, end

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        found = self.window(now.astimezone(zone).date(), zone)
        return found is not None and found[0] <= now < found[1]


class SmsTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    body: Annotated[str, Field(min_length=1, max_length=640)] = DEFAULT_SMS

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _template(value)


class EmailTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    subject: Annotated[str, Field(min_length=1, max_length=200)] = DEFAULT_EMAIL_SUBJECT
    body: Annotated[str, Field(min_length=1, max_length=10_000)] = DEFAULT_EMAIL_BODY

    @field_validator("subject", "body")
    @classmethod
    def _text(cls, value: str) -> str:
        return _template(value)


class Templates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sms: SmsTemplate = SmsTemplate()
    email: EmailTemplate = EmailTemplate()


class Campaign(BaseModel):
    """A check-in campaign's settings (``PATCH`` merges into them, as the org's settings)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] = "Check-in"
    enabled: StrictBool = True
    audience: Audience = Audience()
    channels: list[Channel] = Field(default_factory=_both_channels, min_length=1)
    templates: Templates = Templates()
    # What the templates fill in: the clinic's name (default the org's), where to book and
    # the number to call.
    clinic_name: Annotated[str | None, Field(max_length=100)] = None
    booking_link: Annotated[str, Field(max_length=300)] = ""
    clinic_phone: Annotated[str, Field(max_length=40)] = ""
    schedule: Schedule = Schedule()
    daily_cap: DayCount = Field(50, ge=1, le=10_000, strict=True)
    holdout_pct: float = Field(10.0, ge=0, le=50, allow_inf_nan=False, strict=True)
    # "staff": each day's batch waits for someone to approve it; "automatic": it goes.
    approval: Literal["staff", "automatic"] = "staff"

    @field_validator("booking_link")
    @classmethod
    def _link(cls, value: str) -> str:
        if value and (not _LINK.fullmatch(value)):
            raise ValueError("must be an http:// or https:// address, without spaces")
        return value

    @field_validator("clinic_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and (not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 3):
            raise ValueError("must be a phone number: digits, spaces, +, - and brackets")
        return value

    @model_validator(mode="after")
    def _filled(self) -> Campaign:
        used = {
            name
            for text in (
                self.templates.sms.body,
                self.templates.email.subject,
                self.templates.email.body,
            )
            for name in placeholders_in(text)
        }
        missing = [
            name
            for name, value in (
                ("booking_link", self.booking_link),
                ("clinic_phone", self.clinic_phone),
            )
            if name in used and not value.strip()
        ]
        if missing:
            shown = " and ".join("{" + name + "}" for name in missing)
            raise ValueError(f"the templates use {shown}: set {', '.join(missing)}")
        return self


_LINK = re.compile(r"https?://[^\s/?#]+[^\s]*")
_PHONE = re.compile(r"[0-9+()\- .]+")


# --- who gets what ---


@dataclass(frozen=True)
class Candidate:
    """A patient the audience includes, with what deciding needs (no message text)."""

    patient_id: str
    priority: int
    risk_score: int
    has_phone: bool
    has_email: bool
    communication_preferences: tuple[str, ...]
    opt_outs: tuple[str, ...]
    recommended_action: str
    checked_in_at: datetime | None  # the latest check-in of any campaign
    staff_attempt_at: datetime | None  # the latest outreach attempt not from a check-in
    held_out_elsewhere: bool = False  # in another campaign's comparison group


@dataclass(frozen=True)
class Decision:
    patient_id: str
    outcome: Literal["send", "holdout", "skip"]
    channel: str | None
    reason: str | None = None


def channel_for(campaign: Campaign, candidate: Candidate) -> str | None:
    """The recommended channel (``domain.risk.choose_channel``) among those the campaign may
    send on: never one opted out of, or without the number or address it needs."""
    skip = frozenset(c for c in risk.FALLBACK_CHANNELS if c not in campaign.channels)
    return risk.choose_channel(candidate.recommended_action, candidate, skip)


def _blocked(campaign: Campaign, candidate: Candidate, now: datetime) -> str | None:
    if candidate.held_out_elsewhere:
        return "held_out_elsewhere"
    usable = [c for c in campaign.channels if c not in candidate.opt_outs]
    if not usable:
        return "opted_out"
    if channel_for(campaign, candidate) is None:
        return "no_contact_details"
    if candidate.checked_in_at and candidate.checked_in_at > now - timedelta(days=COOLDOWN_DAYS):
        return "checked_in_recently"
    staff = candidate.staff_attempt_at
    if staff and staff > now - timedelta(days=STAFF_QUIET_DAYS):
        return "staff_contacted_recently"
    return None


def in_holdout(salt: str, patient_id: str, holdout_pct: float) -> bool:
    """A draw uniform on [0, 100) from the campaign's secret salt and the patient: the same
    patient draws the same in the same campaign, and nobody can pick who is held out."""
    digest = hashlib.sha256(f"{salt}:{patient_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64 * 100
    return draw < holdout_pct


def ordered(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Most urgent first: the list's priority, then the risk score, then the id."""
    return sorted(candidates, key=lambda c: (c.priority, -c.risk_score, c.patient_id))


def decide(
    campaign: Campaign,
    salt: str,
    candidates: Iterable[Candidate],
    groups: dict[str, str],
    now: datetime,
) -> list[Decision]:
    """Today's batch: every candidate, most urgent first, sent, held out or skipped (with
    why). ``groups`` holds the patients' groups recorded at an earlier selection: a patient
    keeps theirs. Only those reachable are drawn; the cap counts messages, so the holdout is
    drawn from the same patients as those messaged."""
    decisions: list[Decision] = []
    sent = 0
    for candidate in ordered(candidates):
        reason = _blocked(campaign, candidate, now)
        if reason is not None:
            decisions.append(Decision(candidate.patient_id, "skip", None, reason))
            continue
        channel = channel_for(campaign, candidate)
        if sent >= campaign.daily_cap:
            decisions.append(Decision(candidate.patient_id, "skip", channel, "daily_cap"))
            continue
        group = groups.get(candidate.patient_id) or (
            "holdout"
            if in_holdout(salt, candidate.patient_id, campaign.holdout_pct)
            else "messaged"
        )
        if group == "holdout":
            decisions.append(Decision(candidate.patient_id, "holdout", channel))
            continue
        sent += 1
        decisions.append(Decision(candidate.patient_id, "send", channel))
    return decisions


def still_sendable(
    channel: str, opt_outs: Sequence[str], staff_attempt_at: datetime | None, prepared_at: datetime
) -> str | None:
    """Just before a message goes: a STOP or unsubscribe since, or staff's contact since the
    batch was prepared, stops it (the reason), whatever the batch said."""
    if channel in opt_outs:
        return "opted_out_since"
    if staff_attempt_at is not None and staff_attempt_at >= prepared_at:
        return "contacted_since"
    return None


# --- the words ---


def first_name(full_name: str) -> str:
    parts = full_name.split()
    return parts[0] if parts else "there"


def fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class Message:
    channel: str
    subject: str | None
    text: str


def message(campaign: Campaign, channel: str, first: str, org_name: str) -> Message:
    """The exact message a patient gets: the template filled in; an SMS always says how to
    stop them (the campaign's words, or ``STOP_TEXT`` appended)."""
    values = {
        "first_name": first,
        "clinic_name": campaign.clinic_name or org_name,
        "booking_link": campaign.booking_link,
        "clinic_phone": campaign.clinic_phone,
    }
    if channel == "sms":
        text = fill(campaign.templates.sms.body, values)
        if not _STOP_WORD.search(text):
            text = f"{text} {STOP_TEXT}"
        return Message("sms", None, text)
    return Message(
        "email",
        fill(campaign.templates.email.subject, values),
        fill(campaign.templates.email.body, values),
    )


# --- the uplift ---


@dataclass(frozen=True)
class Group:
    patients: int
    booked: int

    @property
    def rate(self) -> float | None:
        return self.booked / self.patients if self.patients else None


@dataclass(frozen=True)
class Uplift:
    messaged: Group
    holdout: Group
    enough: bool
    difference: float | None  # percentage points, messaged minus held out
    low: float | None  # the difference's 95% confidence interval (Newcombe), points
    high: float | None
    relative_pct: float | None  # the difference as a share of the holdout's rate


def _wilson(booked: int, n: int) -> tuple[float, float]:
    p = booked / n
    centre = (p + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / (1 + Z_95**2 / n)
    return centre - half, centre + half


def uplift(messaged: Group, holdout: Group) -> Uplift:
    """The messaged group's booking rate minus the held-out group's, with Newcombe's hybrid
    score interval (his method 10): unlike the textbook Wald interval it stays inside
    [-100, 100] and keeps its coverage with few bookings, which a clinic's first weeks have."""
    if messaged.patients < MIN_GROUP or holdout.patients < MIN_GROUP:
        return Uplift(messaged, holdout, False, None, None, None, None)
    p1, p2 = messaged.booked / messaged.patients, holdout.booked / holdout.patients
    l1, u1 = _wilson(messaged.booked, messaged.patients)
    l2, u2 = _wilson(holdout.booked, holdout.patients)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    relative = round(d / p2 * 100, 1) if p2 > 0 else None
    return Uplift(
        messaged,
        holdout,
        True,
        round(d * 100, 2),
        round(low * 100, 2),
        round(high * 100, 2),
        relative,
    )


def window_end(selected_at: datetime, zone: ZoneInfo, days: int) -> datetime:
    """The last instant a booking counts for a patient selected at ``selected_at``: the end
    of the date ``days`` later (the contract's attribution window, counted from selection)."""
    last = selected_at.astimezone(zone).date() + timedelta(days=days + 1)
    return datetime.combine(last, time(), zone)


def uplift_message(found: Uplift) -> str:
    """The report's one sentence."""
    if not found.enough:
        return (
            f"not enough data yet: each group needs at least {MIN_GROUP} patients whose "
            f"attribution window is over (messaged {found.messaged.patients}, held out "
            f"{found.holdout.patients})"
        )
    assert found.difference is not None and found.low is not None and found.high is not None
    if found.low > 0:
        verdict = "the check-ins added bookings"
    elif found.high < 0:
        verdict = "the messaged patients booked less than those held out"
    else:
        verdict = "no difference can be told from chance yet"
    return (
        f"{verdict}: {found.difference:+.1f} percentage points "
        f"(95% CI {found.low:+.1f} to {found.high:+.1f})"
    )
