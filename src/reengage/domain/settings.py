"""An org's settings: the knobs the contract names, their defaults, and what makes them valid."""

from __future__ import annotations

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


class OrgSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    tier_thresholds: TierThresholds = TierThresholds()
    booked_patients_are_engaged: StrictBool = True
    attribution_window_days: DayCount = Field(14, ge=1, le=365, strict=True)
    benchmarks: Benchmarks = Benchmarks()

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
