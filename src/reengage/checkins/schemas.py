"""What the check-in endpoints answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from reengage.domain import checkins as rules
from reengage.domain.checkins import Campaign


class CampaignOut(BaseModel):
    id: str
    created_at: datetime
    updated_at: datetime
    settings: Campaign


class CampaignsOut(BaseModel):
    campaigns: list[CampaignOut]


class MessageOut(BaseModel):
    """One patient of a batch: what was decided, why, and how sending went; with the exact
    message for those to be messaged (rendered from the campaign's templates)."""

    patient_id: str
    outcome: str = Field(description="send | holdout | skip")
    reason: str | None = Field(description="Why skipped (a key of `reasons`)")
    channel: str | None
    state: str | None = Field(
        None, description="pending | sending | sent | failed | skipped | held_out"
    )
    attempts: int = 0
    sent_at: datetime | None = None
    provider_message_id: str | None = None
    error: str | None = None
    subject: str | None = None
    text: str | None = None


class Counts(BaseModel):
    send: int
    holdout: int
    skip: int


def counts_of(outcomes: list[str]) -> Counts:
    return Counts(
        send=outcomes.count("send"), holdout=outcomes.count("holdout"), skip=outcomes.count("skip")
    )


class BatchOut(BaseModel):
    id: str | None = Field(description="null for a dry run")
    campaign_id: str
    day: date
    state: str = Field(description="dry_run | awaiting_approval | approved | cancelled | done")
    prepared_at: datetime
    approved_at: datetime | None = None
    approved_by: str | None = None
    finished_at: datetime | None = None
    counts: Counts
    messages: list[MessageOut] | None = None
    reasons: dict[str, str] = Field(default_factory=lambda: dict(rules.SKIP_REASONS))


class BatchesOut(BaseModel):
    batches: list[BatchOut]


class GroupOut(BaseModel):
    patients: int = Field(description="Selected, with their attribution window over")
    booked: int = Field(description="Of those, booked within the window")
    booking_rate: float | None = Field(description="Percent, one decimal")
    waiting: int = Field(description="Selected, window not over yet (not counted)")


class UpliftOut(BaseModel):
    campaign_id: str
    as_of: datetime
    attribution_window_days: int
    messaged: GroupOut
    holdout: GroupOut
    enough_data: bool
    message: str
    difference_points: float | None = Field(
        description="Messaged booking rate minus held-out's, percentage points"
    )
    ci95_low: float | None
    ci95_high: float | None
    relative_pct: float | None = Field(
        description="The difference as a percentage of the held-out booking rate"
    )
    sending: dict[str, Any] = Field(description="The campaign's messages by state")
