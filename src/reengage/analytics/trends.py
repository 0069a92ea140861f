"""``/trends``: daily movement over a period, channel success against the previous period,
and how the risk distribution changed.

Straight from histories: every patient's at-risk spells and outreach. Correct for any
as_of; the cost grows with the org (see bench/README.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy.orm import Session

from reengage.analytics import queries, service
from reengage.analytics.schemas import (
    ChannelTrend,
    DailyTrend,
    RiskDistributionChanges,
    Trends,
)
from reengage.analytics.service import Scope, shown
from reengage.domain import trends as domain
from reengage.domain.calendar import end_of_day
from reengage.domain.risk import AT_RISK_TIERS

DAILY_FIELDS = {
    "risk_levels": ("new_at_risk", "reengaged_successfully"),
    "success_rates": ("outreach_attempts", "appointments_scheduled"),
}


def trends(session: Session, where: Scope, period: str, metrics: list[str]) -> Trends:
    days = domain.PERIODS[period]
    dates = domain.period_days(where.as_of, where.settings, days)
    histories = [h for _, h in queries.load_histories(session, where.org_id)]
    result = Trends(
        organization_id=where.org_id,
        last_updated=shown(where),
        period=period,
        period_start=dates[0],
        period_end=dates[-1],
        metrics=metrics,
    )
    wanted = [f for m in metrics for f in DAILY_FIELDS.get(m, ())]
    if wanted:
        result.daily_trends = [
            DailyTrend(date=row.date, **{f: getattr(row, f) for f in wanted})
            for row in domain.daily(histories, where.as_of, where.settings, days)
        ]
    if "channel_performance" in metrics:
        current = domain.window_counts(histories, where.as_of, where.settings, days)
        previous = domain.window_counts(histories, where.as_of, where.settings, days, days)
        exact_now, exact_before = (
            domain.exact_channel_rates(current),
            domain.exact_channel_rates(previous),
        )
        shown_now, shown_before = domain.channel_rates(current), domain.channel_rates(previous)
        result.channel_performance_trends = {}
        for channel in ("sms", "email", "phone"):
            change = domain.change_pct(exact_now[channel], exact_before[channel])
            result.channel_performance_trends[channel] = ChannelTrend(
                current_rate=shown_now[channel],
                previous_rate=shown_before[channel],
                change_pct=change,
                success_rate_trend=domain.success_rate_trend(change),
            )
    if "risk_levels" in metrics:
        start_instant = end_of_day(dates[0] - timedelta(days=1), where.settings.zone())
        start = _tiers(session, Scope(where.org_id, where.settings, start_instant))
        end = _tiers(session, where)
        at_risk_start = sum(start[t] for t in AT_RISK_TIERS)
        at_risk_end = sum(end[t] for t in AT_RISK_TIERS)
        result.risk_distribution_changes = RiskDistributionChanges(
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
    return result


def _tiers(session: Session, where: Scope) -> Counter[str]:
    """Patients per tier as of ``where.as_of`` (0 for a tier nobody is in)."""
    return Counter(s.tier for s in service.standings(session, where))
