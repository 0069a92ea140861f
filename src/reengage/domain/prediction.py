"""``success_rate_prediction``: how likely outreach to today's at-risk patients is to reach
them, judged by how outreach to patients in the same tiers went over the last 90 days."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction

from reengage.domain.calendar import ONE_MICROSECOND, local_date, window_first_day
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import followed_by_contact, round_one_decimal
from reengage.domain.risk import AT_RISK_TIERS, tier_at
from reengage.domain.settings import OrgSettings

HISTORY_DAYS = 90


def tier_outcomes(
    histories: Iterable[PatientHistory], as_of: datetime, settings: OrgSettings
) -> dict[str, tuple[int, int]]:
    """Per at-risk tier, (attempts, attempts followed by a contact) over the qualifying history.

    An attempt qualifies when sent in the last 90 days and at least
    ``attribution_window_days`` before as_of's date (so its window has fully passed); it
    counts for the tier its patient was in just before it was sent. Every patient of the org
    counts, whatever their status now.
    """
    zone = settings.zone()
    window = settings.attribution_window_days
    first_day = window_first_day(as_of, zone, HISTORY_DAYS)
    last_day = local_date(as_of, zone) - timedelta(days=window)
    outcomes = {tier: [0, 0] for tier in AT_RISK_TIERS}
    for history in histories:
        start = history.start()
        for attempt in history.attempts(as_of):
            if not first_day <= local_date(attempt.sent_at, zone) <= last_day:
                continue
            before = attempt.sent_at - ONE_MICROSECOND
            if start > before:
                continue  # the patient was not yet part of the data
            tier = tier_at(history, before, settings)
            if tier not in outcomes:
                continue
            outcomes[tier][0] += 1
            if followed_by_contact(attempt, history, as_of, window):
                outcomes[tier][1] += 1
    return {tier: (n, k) for tier, (n, k) in outcomes.items()}


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
