"""An org's settings: the knobs the contract names, their defaults, and what makes them valid."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)


def _whole(value: Any) -> Any:
    """JSON has one number type: 14.0 is the integer 14 (as JSON Schema says), while 14.5,
    "14" and true stay refused by the strict check after this."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


DayCount = Annotated[int, BeforeValidator(_whole)]


def _iso_date(value: Any) -> Any:
    """A date as JSON carries it, ``"2026-01-31"``: not a number (which pydantic would read
    as seconds since 1970) nor a datetime."""
    if isinstance(value, date) or value is None:
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SettingDate = Annotated[date | None, BeforeValidator(_iso_date)]


class TierThresholds(BaseModel):
    """First day count of each tier; ``engaged`` is everything below ``low``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    low: DayCount = Field(7, ge=1, le=3650)
    medium: DayCount = Field(14, ge=1, le=3650)
    high: DayCount = Field(30, ge=1, le=3650)
    critical: DayCount = Field(45, ge=1, le=3650)

    @model_validator(mode="after")
    def _strictly_increasing(self) -> TierThresholds:
        if not self.low < self.medium < self.high < self.critical:
            raise ValueError("must be strictly increasing: low < medium < high < critical")
        return self


class Benchmarks(BaseModel):
    """Percentages. Strict, like the other settings: ``"70"`` or ``true`` is a client's mistake
    to refuse, not a number to guess (an int such as ``70`` is still a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    industry_avg_contact_rate: float = Field(55.0, ge=0, le=100, allow_inf_nan=False)
    industry_avg_conversion: float = Field(68.0, ge=0, le=100, allow_inf_nan=False)


class KpiTargets(BaseModel):
    """The seed's four success metrics' targets (``domain.kpis`` says what each measures)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Median days from turning at risk to the first outreach attempt: at least this many
    # percent shorter than in the baseline period.
    time_to_first_outreach_reduction_pct: float = Field(50.0, ge=0, le=100, allow_inf_nan=False)
    # Contact -> appointment conversion: above this percentage.
    contact_conversion_rate: float = Field(70.0, ge=0, le=100, allow_inf_nan=False)
    # Critical-risk patients as a share of the active population: below this percentage.
    critical_share: float = Field(5.0, ge=0, le=100, allow_inf_nan=False)
    # Bookings that came from outreach, per day: at least this many percent more than in
    # the baseline period.
    outreach_bookings_increase_pct: float = Field(25.0, ge=-100, le=1000, allow_inf_nan=False)


class Kpis(BaseModel):
    """Which days the success metrics measure, and against what.

    The current period is the last ``period_days`` days. The baseline is the period from
    ``baseline_start`` to ``baseline_end`` (both dates, both or neither): typically the
    months before the clinic began its outreach with reengage; without them, the
    ``period_days`` days before the current period."""

    model_config = ConfigDict(extra="forbid")

    period_days: DayCount = Field(90, ge=7, le=365, strict=True)
    baseline_start: SettingDate = None
    baseline_end: SettingDate = None
    targets: KpiTargets = KpiTargets()

    @model_validator(mode="after")
    def _baseline_is_a_period(self) -> Kpis:
        if (self.baseline_start is None) != (self.baseline_end is None):
            raise ValueError("baseline_start and baseline_end go together: give both or neither")
        if self.baseline_start is not None and self.baseline_end is not None:
            if self.baseline_end < self.baseline_start:
                raise ValueError("baseline_end must not be before baseline_start")
            if (self.baseline_end - self.baseline_start).days >= 3660:
                raise ValueError("the baseline period must be at most ten years long")
        return self


# --- alerts (the rules themselves are ``domain.alerts``) ---


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: StrictBool = True


class CriticalShareRule(AlertRule):
    above_pct: float = Field(5.0, ge=0, le=100, allow_inf_nan=False)


class ConversionRule(AlertRule):
    below_pct: float = Field(70.0, ge=0, le=100, allow_inf_nan=False)
    days: DayCount = Field(30, ge=7, le=365)


class RisingRule(AlertRule):
    days: DayCount = Field(3, ge=2, le=30)


class AlertRules(BaseModel):
    """Which rules run, and their thresholds: every rule is on by default."""

    model_config = ConfigDict(extra="forbid")

    missed_appointment: AlertRule = AlertRule()
    failed_contact: AlertRule = AlertRule()
    followup_overdue: AlertRule = AlertRule()
    turned_critical: AlertRule = AlertRule()
    critical_share: CriticalShareRule = CriticalShareRule()
    low_conversion: ConversionRule = ConversionRule()
    at_risk_rising: RisingRule = RisingRule()
    webhook_disabled: AlertRule = AlertRule()

    def enabled(self, rule: str) -> bool:
        found: AlertRule = getattr(self, rule)
        return found.enabled


DIGEST_TIME = "07:30"


def clock_time(value: str, example: str) -> str:
    """``value`` if it is a local time, HH:MM (24-hour); the refusal shows ``example``."""
    parts = value.split(":")
    if (
        len(parts) != 2
        or not all(p.isdigit() and len(p) == 2 for p in parts)
        or not (int(parts[0]) < 24 and int(parts[1]) < 60)
    ):
        raise ValueError(f"must be a local time, HH:MM (24-hour), such as '{example}'")
    return value


class Digest(BaseModel):
    """The daily email: to whom, and at what local time (the org's timezone)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: StrictBool = True
    recipients: list[str] = Field(default_factory=list, max_length=50)
    at: str = DIGEST_TIME

    @field_validator("at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        return clock_time(value, DIGEST_TIME)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not is_email_address(address):
                raise ValueError(f"'{address}' is not an email address (name@example.org)")
        return value

    def clock(self) -> tuple[int, int]:
        hours, minutes = self.at.split(":")
        return int(hours), int(minutes)


def is_email_address(value: str) -> bool:
    """A deliverable-looking address: one @, something on each side, a dot in the domain, no
    spaces or header-breaking characters (the address goes into a mail header)."""
    if not isinstance(value, str) or len(value) > 254 or value != value.strip():
        return False
    if any(c in value for c in " \t\r\n,;<>\"'()[]\\"):
        return False
    local, at, domain = value.rpartition("@")
    return bool(at and local and "@" not in local and "." in domain.strip("."))


class OrgSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    tier_thresholds: TierThresholds = TierThresholds()
    booked_patients_are_engaged: StrictBool = True
    attribution_window_days: DayCount = Field(14, ge=1, le=365, strict=True)
    benchmarks: Benchmarks = Benchmarks()
    # How many patients the team can contact in a week: the size of this week's target.
    weekly_contact_target: DayCount = Field(25, ge=1, le=1000, strict=True)
    # Check-ins of all the org's campaigns together, per day (each campaign has its own cap).
    checkins_daily_cap: DayCount = Field(200, ge=1, le=100_000, strict=True)
    kpis: Kpis = Kpis()
    alerts: AlertRules = AlertRules()
    digest: Digest = Digest()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError("must be an IANA timezone name such as 'Australia/Sydney' or 'UTC'")
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def derivation_key(self) -> str:
        """The settings derived state depends on, as one comparable string: derived rows
        computed under another key are stale."""
        t = self.tier_thresholds
        return (
            f"{self.timezone}|{t.low},{t.medium},{t.high},{t.critical}"
            f"|{int(self.booked_patients_are_engaged)}|{self.attribution_window_days}"
        )


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    """Scanning the timezone database takes milliseconds: do it once per process."""
    return frozenset(available_timezones()) | {"UTC"}


def is_valid_timezone(name: str) -> bool:
    if name not in _known_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): nested objects merge, ``null`` restores the default.

    ``current`` holds every setting (defaults included), so a key it lacks is not a setting:
    that key is kept, ``null`` and all, for the model to refuse by name, where RFC 7396 would
    drop it and a typo such as ``{"timezon": null}`` would answer 200 having done nothing.
    """
    merged = dict(current)
    for key, value in patch.items():
        if value is None and key not in current:
            merged[key] = None
        elif value is None:
            merged.pop(key)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


@lru_cache(maxsize=1)
def known_timezones() -> tuple[str, ...]:
    """Every timezone name ``timezone`` takes, sorted: for the API document's enum."""
    return tuple(sorted(name for name in _known_timezones() if is_valid_timezone(name)))
