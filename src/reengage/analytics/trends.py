"""``/trends``: daily movement over a period, channel success against the previous period,
and how the risk distribution changed.

The settled patients' share from the roll-ups or the rows (``rollups.counts_for``), the
others' from their histories; ``reengage.reference`` computes it all from histories, and
the tests hold the two equal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from reengage.analytics.schemas import (
    ChannelPerformanceTrends,
    ChannelTrend,
    DailyTrend,
    RiskDistributionChanges,
    Trends,
)
from reengage.derived import rollups
from reengage.derived.freshness import Freshness
from reengage.domain import trends as domain
from reengage.domain.calendar import end_of_day, local_date
from reengage.domain.history import PatientHistory
from reengage.domain.performance import OutreachCounts, window_counts
from reengage.domain.risk import AT_RISK_TIERS, in_population, tier_at
from reengage.domain.scope import Scope

DAILY_FIELDS = {
    "risk_levels": ("new_at_risk", "reengaged_successfully"),
    "success_rates": ("outreach_attempts", "appointments_scheduled"),
}


@dataclass(frozen=True)
class Sources:
    """Where each part comes from: the straight path supplies histories only; the fast path
    also supplies the derived rows' share."""

    histories: Sequence[PatientHistory]
    derived_daily: Callable[[date, date], dict[date, dict[str, int]]] | None = None
    derived_funnels: Callable[[date, date], OutreachCounts] | None = None
    derived_tiers: Callable[[date], dict[str, int]] | None = None


def trends(session: Session, where: Scope, period: str, metrics: list[str]) -> Trends:
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    sources = Sources(
        histories=rest,
        derived_daily=derived.daily,
        derived_funnels=derived.funnels,
        derived_tiers=derived.tiers_at_day_end,
    )
    return shape(where, period, metrics, sources)


def shape(where: Scope, period: str, metrics: list[str], sources: Sources) -> Trends:
    days = domain.PERIODS[period]
    dates = domain.period_days(where.as_of, where.settings, days)
    result = Trends(
        organization_id=where.org_id,
        last_updated=where.shown(),
        period=period,
        period_start=dates[0],
        period_end=dates[-1],
        metrics=metrics,
    )
    wanted = [f for m in metrics for f in DAILY_FIELDS.get(m, ())]
    if wanted:
        rows = domain.daily(sources.histories, where.as_of, where.settings, days)
        derived = sources.derived_daily(dates[0], dates[-1]) if sources.derived_daily else {}
        result.daily_trends = [
            DailyTrend(
                date=row.date,
                **{f: getattr(row, f) + derived.get(row.date, {}).get(f, 0) for f in wanted},
            )
            for row in rows
        ]
    if "channel_performance" in metrics:
        result.channel_performance_trends = _channel_trends(where, days, dates, sources)
    if "risk_levels" in metrics:
        result.risk_distribution_changes = _risk_changes(where, dates[0], sources)
    return result


def _channel_trends(
    where: Scope, days: int, dates: list[date], sources: Sources
) -> ChannelPerformanceTrends:
    current = window_counts(sources.histories, where.as_of, where.settings, days)
    previous = window_counts(sources.histories, where.as_of, where.settings, days, days)
    if sources.derived_funnels is not None:
        current.add(sources.derived_funnels(dates[0], dates[-1]))
        previous.add(
            sources.derived_funnels(dates[0] - timedelta(days=days), dates[0] - timedelta(days=1))
        )
    exact_now, exact_before = (
        domain.exact_channel_rates(current),
        domain.exact_channel_rates(previous),
    )
    shown_now, shown_before = domain.channel_rates(current), domain.channel_rates(previous)
    out: dict[str, ChannelTrend] = {}
    for channel in ("sms", "email", "phone"):
        change = domain.change_pct(exact_now[channel], exact_before[channel])
        out[channel] = ChannelTrend(
            current_rate=shown_now[channel],
            previous_rate=shown_before[channel],
            change_pct=change,
            success_rate_trend=domain.success_rate_trend(change),
        )
    return ChannelPerformanceTrends(**out)


def _risk_changes(where: Scope, first_day: date, sources: Sources) -> RiskDistributionChanges:
    """Counts at the end of the day before the period, and at as_of.

    The derived share of the count at as_of is the count at the end of as_of's own day:
    the patients it answers for have nothing dated after as_of, and those with a visit later
    that day are counted as of as_of (``rollups.ended_today``, and ``freshness``'
    settled rows), so between as_of and the day's end no tier they count can change.
    """
    zone = where.settings.zone()
    before = first_day - timedelta(days=1)
    start = _tiers(sources, before, end_of_day(before, zone), where)
    end = _tiers(sources, local_date(where.as_of, zone), where.as_of, where)
    at_risk_start = sum(start[t] for t in AT_RISK_TIERS)
    at_risk_end = sum(end[t] for t in AT_RISK_TIERS)
    return RiskDistributionChanges(
        critical_start=start["critical"],
        critical_end=end["critical"],
        high_start=start["high"],
        high_end=end["high"],
        at_risk_start=at_risk_start,
        at_risk_end=at_risk_end,
        critical_trend=domain.count_trend(start["critical"], end["critical"]),
        high_trend=domain.count_trend(start["high"], end["high"]),
        overall_improvement=at_risk_end < at_risk_start,
    )


def _tiers(sources: Sources, day: date, instant: datetime, where: Scope) -> Counter[str]:
    """Population patients per tier at ``instant`` (the end of ``day``, or as_of on its own
    day): from the histories, plus the derived rows' count at the end of ``day``."""
    counts: Counter[str] = Counter()
    for history in sources.histories:
        if in_population(history, instant):
            counts[tier_at(history, instant, where.settings)] += 1
    if sources.derived_tiers is not None:
        counts.update(sources.derived_tiers(day))
    return counts
