"""Whether outreach works, and where things are heading: ``/performance`` (outreach outcomes
over the last 7, 30 or 90 days), ``/trends`` (daily movement, channel success against the
previous period, the risk distribution's change) and ``/overview`` (the dashboard's cards).

Each answer reads the settled patients' share from the derived rows or their roll-ups
(``rollups.counts_for``, ``row_counts``) and the others' from their histories, as
``derived.freshness`` decides once per request; ``reengage.reference`` computes everything
from histories, and the tests hold the two equal. Services never commit and never see HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from reengage.derived import rollups, row_counts
from reengage.derived.freshness import Freshness
from reengage.domain import overview as overview_rules
from reengage.domain import performance as performance_rules
from reengage.domain import trends as trend_rules
from reengage.domain.calendar import end_of_day, local_date, window_first_day
from reengage.domain.history import PatientHistory
from reengage.domain.performance import OutreachCounts, window_counts
from reengage.domain.risk import AT_RISK_TIERS, in_population, tier_at
from reengage.domain.scope import Scope
from reengage.domain.standing import Tally
from reengage.outreach.schemas import (
    BenchmarkComparison,
    ChannelPerformanceTrends,
    ChannelTrend,
    CommunicationChannels,
    DailyTrend,
    EmailFunnel,
    Overview,
    Performance,
    PhoneFunnel,
    ReengagementMetrics,
    RiskDistributionChanges,
    SmsFunnel,
    SuccessRate,
    Trends,
)
from reengage.risk import service as risk_service
from reengage.risk import week_target
from reengage.risk.schemas import WeekTarget

# --- /performance ---------------------------------------------------------------------------


def performance(session: Session, where: Scope, timeframe: str) -> Performance:
    days = performance_rules.TIMEFRAMES[timeframe]
    first_day, last_day = performance_rules.window_dates(where.as_of, where.settings, days)
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    counts = derived.funnels(first_day, last_day)
    counts.add(performance_rules.outreach_counts(rest, where.as_of, where.settings, days))
    total, spells = derived.reengagement_days(first_day, last_day)
    for history in rest:
        found = performance_rules.reengagement_days(history, where.as_of, where.settings, days)
        total, spells = total + sum(found), spells + len(found)
    return shape_performance(where, timeframe, first_day, last_day, counts, total, spells)


def shape_performance(
    where: Scope,
    timeframe: str,
    first_day: date,
    last_day: date,
    counts: performance_rules.OutreachCounts,
    reengage_days: int,
    reengaged_spells: int,
) -> Performance:
    r = performance_rules.rates(counts)
    c = counts.channels
    b = where.settings.benchmarks
    return Performance(
        organization_id=where.org_id,
        last_updated=where.shown(),
        timeframe=timeframe,
        period_start=first_day,
        period_end=last_day,
        reengagement_metrics=ReengagementMetrics(
            outreach_attempts=counts.attempts,
            successful_contacts=counts.successes,
            contact_success_rate=r.contact_success_rate,
            appointments_scheduled=counts.conversions,
            conversion_rate=r.conversion_rate,
            avg_days_to_reengage=performance_rules.average_days(reengage_days, reengaged_spells),
        ),
        communication_channels=CommunicationChannels(
            sms=SmsFunnel(
                sent=c["sms"].sent,
                delivered=c["sms"].delivered,
                responded=c["sms"].responded,
                response_rate=r.sms_response_rate,
            ),
            email=EmailFunnel(
                sent=c["email"].sent,
                opened=c["email"].opened,
                responded=c["email"].responded,
                response_rate=r.email_response_rate,
            ),
            phone=PhoneFunnel(
                attempted=c["phone"].sent,
                connected=c["phone"].connected,
                appointment_booked=c["phone"].converted,
                conversion_rate=r.phone_conversion_rate,
            ),
        ),
        benchmark_comparison=BenchmarkComparison(
            industry_avg_contact_rate=b.industry_avg_contact_rate,
            industry_avg_conversion=b.industry_avg_conversion,
            our_performance=performance_rules.our_performance(
                r.contact_success_rate, r.conversion_rate, where.settings
            ),
        ),
    )


# --- /trends --------------------------------------------------------------------------------

DAILY_FIELDS = {
    "risk_levels": ("new_at_risk", "reengaged_successfully"),
    "success_rates": ("outreach_attempts", "appointments_scheduled"),
}


@dataclass(frozen=True)
class TrendSources:
    """Where each part comes from: the straight path supplies histories only; the fast path
    also supplies the derived rows' share."""

    histories: Sequence[PatientHistory]
    derived_daily: Callable[[date, date], dict[date, dict[str, int]]] | None = None
    derived_funnels: Callable[[date, date], OutreachCounts] | None = None
    derived_tiers: Callable[[date], dict[str, int]] | None = None


def trends(session: Session, where: Scope, period: str, metrics: list[str]) -> Trends:
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    sources = TrendSources(
        histories=rest,
        derived_daily=derived.daily,
        derived_funnels=derived.funnels,
        derived_tiers=derived.tiers_at_day_end,
    )
    return shape_trends(where, period, metrics, sources)


def shape_trends(where: Scope, period: str, metrics: list[str], sources: TrendSources) -> Trends:
    days = trend_rules.PERIODS[period]
    dates = trend_rules.period_days(where.as_of, where.settings, days)
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
        rows = trend_rules.daily(sources.histories, where.as_of, where.settings, days)
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
    where: Scope, days: int, dates: list[date], sources: TrendSources
) -> ChannelPerformanceTrends:
    current = window_counts(sources.histories, where.as_of, where.settings, days)
    previous = window_counts(sources.histories, where.as_of, where.settings, days, days)
    if sources.derived_funnels is not None:
        current.add(sources.derived_funnels(dates[0], dates[-1]))
        previous.add(
            sources.derived_funnels(dates[0] - timedelta(days=days), dates[0] - timedelta(days=1))
        )
    exact_now, exact_before = (
        trend_rules.exact_channel_rates(current),
        trend_rules.exact_channel_rates(previous),
    )
    shown_now, shown_before = (
        trend_rules.channel_rates(current),
        trend_rules.channel_rates(previous),
    )
    out: dict[str, ChannelTrend] = {}
    for channel in ("sms", "email", "phone"):
        change = trend_rules.change_pct(exact_now[channel], exact_before[channel])
        out[channel] = ChannelTrend(
            current_rate=shown_now[channel],
            previous_rate=shown_before[channel],
            change_pct=change,
            success_rate_trend=trend_rules.success_rate_trend(change),
        )
    return ChannelPerformanceTrends(**out)


def _risk_changes(where: Scope, first_day: date, sources: TrendSources) -> RiskDistributionChanges:
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
        critical_trend=trend_rules.count_trend(start["critical"], end["critical"]),
        high_trend=trend_rules.count_trend(start["high"], end["high"]),
        overall_improvement=at_risk_end < at_risk_start,
    )


def _tiers(sources: TrendSources, day: date, instant: datetime, where: Scope) -> Counter[str]:
    """Population patients per tier at ``instant`` (the end of ``day``, or as_of on its own
    day): from the histories, plus the derived rows' count at the end of ``day``."""
    counts: Counter[str] = Counter()
    for history in sources.histories:
        if in_population(history, instant):
            counts[tier_at(history, instant, where.settings)] += 1
    if sources.derived_tiers is not None:
        counts.update(sources.derived_tiers(day))
    return counts


# --- what the org's alert rules judge ------------------------------------------------------


@dataclass(frozen=True)
class AlertFigures:
    """Counted where performance and trends count theirs (the same sources, one Freshness)."""

    tally: Tally
    funnel: OutreachCounts  # the conversion window's attempts
    at_risk_day_ends: list[int]  # at the end of each of the days before today, oldest first


def alert_figures(
    session: Session, where: Scope, conversion_days: int, rising_days: int
) -> AlertFigures:
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    funnel = window_counts(rest, where.as_of, where.settings, conversion_days)
    first = window_first_day(where.as_of, where.settings.zone(), conversion_days)
    funnel.add(derived.funnels(first, where.today))
    sources = TrendSources(histories=rest, derived_tiers=derived.tiers_at_day_end)
    zone = where.settings.zone()
    day_ends = []
    for back in range(rising_days + 1, 0, -1):
        day = where.today - timedelta(days=back)
        tiers = _tiers(sources, day, end_of_day(day, zone), where)
        day_ends.append(sum(tiers[t] for t in AT_RISK_TIERS))
    return AlertFigures(risk_service.tally(fresh), funnel, day_ends)


# --- /overview ------------------------------------------------------------------------------

CountAt = Callable[[Scope], overview_rules.Reengagement]  # the success-rate counts as of a scope


def overview(session: Session, where: Scope) -> Overview:
    current = Freshness(session, where)

    def count(at: Scope) -> overview_rules.Reengagement:
        fresh = current if at == where else Freshness(session, at)
        first, last = _window(at)
        fast = overview_rules.Reengagement(*row_counts.reengagement(fresh, first, last))
        return fast + reengagement_of(fresh.histories("days"), at)

    target = week_target.shown(week_target.find(session, where).target)
    return shape_overview(where, risk_service.tally(current), count, target)


def reengagement_of(histories: Sequence[PatientHistory], at: Scope) -> overview_rules.Reengagement:
    total = overview_rules.Reengagement()
    for history in histories:
        total += overview_rules.reengagement(history, at.as_of, at.settings)
    return total


def _window(at: Scope) -> tuple[date, date]:
    zone = at.settings.zone()
    first = window_first_day(at.as_of, zone, overview_rules.SUCCESS_WINDOW_DAYS)
    return first, first + timedelta(days=overview_rules.SUCCESS_WINDOW_DAYS - 1)


def _previous(where: Scope) -> Scope:
    """The end of the day before the current window: the previous 30 days end there."""
    first, _ = _window(where)
    before = end_of_day(first - timedelta(days=1), where.settings.zone())
    return Scope(where.org_id, where.settings, before)


def _success(at: Scope, counts: overview_rules.Reengagement) -> SuccessRate:
    first, last = _window(at)
    return SuccessRate(
        rate=counts.rate,
        patients_reached=counts.reached,
        patients_reengaged=counts.reengaged,
        period_start=first,
        period_end=last,
    )


def shape_overview(where: Scope, tally: Tally, count: CountAt, target: WeekTarget) -> Overview:
    current = _success(where, count(where))
    previous_scope = _previous(where)
    previous = _success(previous_scope, count(previous_scope))
    change = overview_rules.rate_change(current.rate, previous.rate)
    return Overview(
        organization_id=where.org_id,
        last_updated=where.shown(),
        immediate_action_required=tally.priority_one,
        this_weeks_target=target,
        reengagement_success_rate=current,
        previous_success_rate=previous,
        success_rate_change=change,
        success_rate_trend=overview_rules.rate_direction(change),
    )
