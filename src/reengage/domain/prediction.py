"""``success_rate_prediction``: how likely outreach to today's at-risk patients is to reach
them, judged by how outreach to patients in the same tiers went over the last 90 days."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from reengage.domain.calendar import ONE_MICROSECOND, local_date, window_first_day
from reengage.domain.history import Communication, PatientHistory
from reengage.domain.outreach import conversion, followed_by_contact, round_one_decimal
from reengage.domain.outreach_index import OutreachIndex
from reengage.domain.risk import AT_RISK_TIERS, tier_at
from reengage.domain.settings import OrgSettings
from reengage.domain.tier_timeline import TierTimeline

HISTORY_DAYS = 90


# An as_of after everything: the outcome of an attempt once all its events are in.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AttemptOutcome:
    communication_id: str
    sent_at: datetime
    tier_before: str | None  # the at-risk tier just before it was sent, else None
    contacted: bool  # followed by a contact within attribution_window_days
    converted_at: datetime | None  # booked_at of the booking it converted into


def attempt_outcome(
    history: PatientHistory,
    attempt: Communication,
    as_of: datetime,
    settings: OrgSettings,
    timeline: TierTimeline | None = None,
    index: OutreachIndex | None = None,
) -> AttemptOutcome:
    """``timeline`` and ``index``, when given, answer the tier before the attempt and its
    outcome (the same as ``tier_at``, ``followed_by_contact`` and ``converted_at``, without
    reading the history again)."""
    before = attempt.sent_at - ONE_MICROSECOND
    # A patient not yet part of the data just before the attempt was in no tier.
    if timeline is not None:
        tier = timeline.tier_at(before) if timeline.start <= before else None
    else:
        tier = tier_at(history, before, settings) if history.start() <= before else None
    return AttemptOutcome(
        communication_id=attempt.id,
        sent_at=attempt.sent_at,
        tier_before=tier if tier in AT_RISK_TIERS else None,
        contacted=(
            index.contacted(attempt)
            if index is not None
            else followed_by_contact(attempt, history, as_of, settings.attribution_window_days)
        ),
        converted_at=(
            index.converted_at(attempt)
            if index is not None
            else converted_at(history, attempt, as_of, settings)
        ),
    )


def converted_at(
    history: PatientHistory, attempt: Communication, as_of: datetime, settings: OrgSettings
) -> datetime | None:
    """When the booking this attempt's successful contact converted into was made (as of
    as_of, under the org's attribution window); None when it did not convert."""
    booking = conversion(
        attempt,
        history.attempts(as_of),
        history.appointments,
        as_of,
        settings.attribution_window_days,
        settings.zone(),
    )
    return booking.booked_at if booking is not None else None


def attempt_outcomes(
    history: PatientHistory, settings: OrgSettings, timeline: TierTimeline | None = None
) -> list[AttemptOutcome]:
    """Every attempt's outcome with all of the history known: what the derived
    ``attempt_outcomes`` table keeps. ``tier_before`` and ``contacted`` hold for any as_of at
    or after the patient's horizon; ``converted_at`` for any as_of (the contact converted by
    as_of exactly when this booking is at or before as_of). ``timeline``: the history's, when
    the caller has one."""
    timeline = timeline or TierTimeline(history, settings)
    index = OutreachIndex(history, END_OF_TIME, settings.attribution_window_days, settings.zone())
    return [
        attempt_outcome(history, a, END_OF_TIME, settings, timeline, index) for a in index.attempts
    ]


def qualifying_days(as_of: datetime, settings: OrgSettings) -> tuple[date, date]:
    """First and last send date of the attempts behind the prediction: in the last 90 days
    and at least ``attribution_window_days`` before as_of's date (so the window has passed)."""
    zone = settings.zone()
    return (
        window_first_day(as_of, zone, HISTORY_DAYS),
        local_date(as_of, zone) - timedelta(days=settings.attribution_window_days),
    )


def tier_outcomes(
    histories: Iterable[PatientHistory], as_of: datetime, settings: OrgSettings
) -> dict[str, tuple[int, int]]:
    """Per at-risk tier, (attempts, attempts followed by a contact) over the qualifying
    attempts, each counted for the tier its patient was in just before it was sent. Every
    patient of the org counts, whatever their status now.
    """
    zone = settings.zone()
    first_day, last_day = qualifying_days(as_of, settings)
    outcomes = {tier: [0, 0] for tier in AT_RISK_TIERS}
    for history in histories:
        for attempt in history.attempts(as_of):
            if not first_day <= local_date(attempt.sent_at, zone) <= last_day:
                continue
            outcome = attempt_outcome(history, attempt, as_of, settings)
            if outcome.tier_before is not None:
                outcomes[outcome.tier_before][0] += 1
                outcomes[outcome.tier_before][1] += int(outcome.contacted)
    return {tier: (n, k) for tier, (n, k) in outcomes.items()}


def add_outcomes(
    *parts: Mapping[str, tuple[int, int]],
) -> dict[str, tuple[int, int]]:
    """Sum per-tier (attempts, contacted) counts from several sources."""
    total = {tier: (0, 0) for tier in AT_RISK_TIERS}
    for part in parts:
        for tier, (n, k) in part.items():
            total[tier] = (total[tier][0] + n, total[tier][1] + k)
    return total


def success_rate_prediction(
    outcomes: Mapping[str, tuple[int, int]], at_risk_counts: Mapping[str, int]
) -> float | None:
    """Mean of the tiers' historical rates weighted by the at-risk patients of each tier in
    the set; tiers without a rate (no qualifying attempt) or without patients are left out.

    Computed exactly and rounded like every rate (``round_one_decimal``)."""
    weighted = Fraction(0)
    weight = 0
    for tier in AT_RISK_TIERS:
        attempts, successes = outcomes.get(tier, (0, 0))
        count = at_risk_counts.get(tier, 0)
        if attempts == 0 or count == 0:
            continue
        weighted += Fraction(count * 100 * successes, attempts)
        weight += count
    if weight == 0:
        return None
    return round_one_decimal(weighted / weight)
