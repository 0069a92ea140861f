"""Response shapes of the outreach endpoints (performance, trends, overview): the frontend
team's request, field for field (see ``reengage.risk.schemas``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from reengage.risk.schemas import RATE, Day, LastUpdated, OrganizationId, WeekTarget

Timeframe = Literal["last_7_days", "last_30_days", "last_90_days"]


class ReengagementMetrics(BaseModel):
    """Outreach attempts sent in the window, what they reached and what they booked."""

    outreach_attempts: int = Field(
        description="Outbound communications sent in the window (sms.sent + email.sent + "
        "phone.attempted)."
    )
    successful_contacts: int = Field(
        description="Those replied to or connected (sms.responded + email.responded + "
        "phone.connected)."
    )
    contact_success_rate: float | None = Field(
        description=f"successful_contacts / outreach_attempts. {RATE}"
    )
    appointments_scheduled: int = Field(
        description="Successful contacts followed by a booking within the attribution window."
    )
    conversion_rate: float | None = Field(
        description=f"appointments_scheduled / successful_contacts. {RATE}"
    )
    avg_days_to_reengage: float | None = Field(
        description="Over the at-risk spells that ended in the window, the mean days from the "
        "spell's first attempt to its end, one decimal; null with none."
    )


class SmsFunnel(BaseModel):
    sent: int = Field(description="SMS attempts sent in the window.")
    delivered: int = Field(description="Delivered or replied to.")
    responded: int = Field(description="Replied to.")
    response_rate: float | None = Field(description=f"responded / delivered. {RATE}")


class EmailFunnel(BaseModel):
    sent: int = Field(description="Email attempts sent in the window.")
    opened: int = Field(description="Opened or replied to.")
    responded: int = Field(description="Replied to.")
    response_rate: float | None = Field(description=f"responded / opened. {RATE}")


class PhoneFunnel(BaseModel):
    attempted: int = Field(description="Calls made in the window.")
    connected: int = Field(description="Calls that connected.")
    appointment_booked: int = Field(description="Connected calls that converted.")
    conversion_rate: float | None = Field(description=f"appointment_booked / connected. {RATE}")


class CommunicationChannels(BaseModel):
    """Each channel's funnel over the same attempts as ``reengagement_metrics``."""

    sms: SmsFunnel = Field(description="Outbound SMS: sent, delivered, replied.")
    email: EmailFunnel = Field(description="Outbound email: sent, opened, replied.")
    phone: PhoneFunnel = Field(description="Calls: attempted, connected, booked.")


class BenchmarkComparison(BaseModel):
    industry_avg_contact_rate: float = Field(description="From the org's settings (percent).")
    industry_avg_conversion: float = Field(description="From the org's settings (percent).")
    our_performance: Literal["above_average", "average", "below_average", "insufficient_data"] = (
        Field(
            description="above_average when both our rates reach the benchmarks, "
            "below_average when both fall short, insufficient_data when either is null, "
            "else average."
        )
    )


class Performance(BaseModel):
    organization_id: OrganizationId
    timeframe: Timeframe = Field(description="The last 7, 30 or 90 calendar days.")
    period_start: date = Field(description="Not in the seed: the window's first day.")
    period_end: date = Field(description="Not in the seed: the window's last day (`as_of`'s).")
    reengagement_metrics: ReengagementMetrics = Field(description="The window's totals.")
    communication_channels: CommunicationChannels = Field(
        description="The window's funnels by channel."
    )
    benchmark_comparison: BenchmarkComparison = Field(
        description="Our rates against the org's benchmarks."
    )
    last_updated: LastUpdated


TrendPeriod = Literal["7d", "30d", "90d", "6m", "1y"]


class DailyTrend(BaseModel):
    """One day of the period (days with nothing included); a figure not asked for by
    ``metrics`` is left out."""

    date: Day = Field(description="The day, in the org's timezone.")
    new_at_risk: int | None = Field(
        default=None,
        description="At risk at the day's end, not at the previous day's end (risk_levels).",
    )
    reengaged_successfully: int | None = Field(
        default=None,
        description="At risk at the previous day's end, a contact that day, not at risk at "
        "its end (risk_levels).",
    )
    outreach_attempts: int | None = Field(
        default=None, description="Attempts sent that day (success_rates)."
    )
    appointments_scheduled: int | None = Field(
        default=None,
        description="Converting contacts, counted on the booking's day (success_rates).",
    )


class ChannelTrend(BaseModel):
    success_rate_trend: Literal["improving", "declining", "stable"] | None = Field(
        description="improving at change_pct +5 or more, declining at -5 or less, stable "
        "between; null with no change_pct."
    )
    change_pct: float | None = Field(
        description="Relative change of the success rate against the previous period, percent, "
        "one decimal; null when either rate is missing or the previous is 0."
    )
    current_rate: float | None = Field(
        description="Not in the seed: this period's success rate (sms responded/delivered, "
        f"email responded/opened, phone connected/attempted). {RATE}"
    )
    previous_rate: float | None = Field(
        description=f"Not in the seed: the same for the previous period. {RATE}"
    )


class ChannelPerformanceTrends(BaseModel):
    sms: ChannelTrend = Field(description="Success rate: responded / delivered.")
    email: ChannelTrend = Field(description="Success rate: responded / opened.")
    phone: ChannelTrend = Field(description="Success rate: connected / attempted.")


class RiskDistributionChanges(BaseModel):
    critical_trend: Literal["increasing", "decreasing", "stable"] = Field(
        description="stable when the counts differ by at most max(1, 5% of the start)."
    )
    high_trend: Literal["increasing", "decreasing", "stable"] = Field(
        description="As critical_trend, for tier high."
    )
    overall_improvement: bool = Field(description="at_risk_end < at_risk_start.")
    critical_start: int = Field(
        description="Not in the seed: critical at the end of the day before the period."
    )
    critical_end: int = Field(description="Not in the seed: critical at `as_of`.")
    high_start: int = Field(description="Not in the seed: high at the period's start.")
    high_end: int = Field(description="Not in the seed: high at `as_of`.")
    at_risk_start: int = Field(description="Not in the seed: at risk at the period's start.")
    at_risk_end: int = Field(description="Not in the seed: at risk at `as_of`.")


class Trends(BaseModel):
    organization_id: OrganizationId
    period: TrendPeriod = Field(description="7d, 30d, 90d, 6m (182 days) or 1y (365 days).")
    period_start: date = Field(description="Not in the seed: the period's first day.")
    period_end: date = Field(description="Not in the seed: the period's last day.")
    metrics: list[str] = Field(description="Not in the seed: the parts asked for.")
    daily_trends: list[DailyTrend] | None = Field(
        default=None, description="One row per day, oldest first (risk_levels, success_rates)."
    )
    channel_performance_trends: ChannelPerformanceTrends | None = Field(
        default=None, description="Per channel (channel_performance)."
    )
    risk_distribution_changes: RiskDistributionChanges | None = Field(
        default=None, description="The at-risk counts at the period's start and end (risk_levels)."
    )
    last_updated: LastUpdated


class SuccessRate(BaseModel):
    """Of the patients reached by outreach while at risk in the window, those reengaged."""

    rate: float | None
    patients_reached: int
    patients_reengaged: int
    period_start: date
    period_end: date


class Overview(BaseModel):
    """The dashboard's four cards (not in the seed: reengage's own endpoint)."""

    organization_id: str
    last_updated: datetime
    immediate_action_required: int
    this_weeks_target: WeekTarget
    reengagement_success_rate: SuccessRate
    previous_success_rate: SuccessRate
    success_rate_change: float | None
    success_rate_trend: Literal["up", "down", "flat"] | None


class KpiPeriod(BaseModel):
    start: date
    end: date
    days: int
    source: Literal["last_days", "setting", "previous_period"] = Field(
        description="last_days: the current period, the last `kpis.period_days` days; setting: "
        "the baseline the org set; previous_period: the days before the current period."
    )


class Kpi(BaseModel):
    """One success metric: its value now, in the baseline period, the target and whether it is
    met (null when a figure it needs is missing)."""

    value: float | None
    baseline: float | None = Field(description="The same measure over the baseline period.")
    change_pct: float | None = Field(
        description="Relative change from the baseline, in percent (staff efficiency, revenue "
        "impact); null where the target is not a change."
    )
    target: float
    met: bool | None
    sample: int = Field(description="What `value` is over: spells, contacts, patients, bookings.")
    baseline_sample: int | None


class KpiSet(BaseModel):
    staff_efficiency: Kpi = Field(
        description="Median days from turning at risk to the first outreach attempt; met when "
        "`change_pct` is at most minus the target (50: half the baseline's)."
    )
    reengagement_rate: Kpi = Field(
        description="Contact -> appointment conversion of the period's outreach, percent; met "
        "when above the target (70)."
    )
    patient_retention: Kpi = Field(
        description="Critical-risk patients as a percentage of the active population at "
        "as_of; met when below the target (5)."
    )
    revenue_impact: Kpi = Field(
        description="Bookings that came from outreach in the period (`value`, `baseline`); "
        "`change_pct` compares them per day, or is the check-ins' measured uplift (see "
        "`revenue_impact_source`); met when at least the target (25)."
    )


class CheckinUplift(BaseModel):
    """A check-in campaign's measured effect: its messaged patients' booking rate against
    its held-out patients' (``GET /checkins/campaigns/{id}/uplift``)."""

    campaign_id: str
    messaged_patients: int
    holdout_patients: int
    difference_points: float
    ci95_low: float
    ci95_high: float
    relative_pct: float | None = Field(
        description="The difference as a percentage of the held-out patients' booking rate"
    )


class Kpis(BaseModel):
    """The seed's four success metrics (not in its JSON: reengage's own endpoint)."""

    organization_id: str
    last_updated: datetime
    period: KpiPeriod
    baseline: KpiPeriod | None = Field(
        description="null while the baseline period has not ended (as of as_of's date)."
    )
    kpis: KpiSet
    revenue_impact_source: Literal["baseline", "holdout"] = Field(
        "baseline",
        description="What `revenue_impact.change_pct` compares: bookings per day against the "
        "baseline period, or, once a check-in campaign has measured one, the messaged "
        "patients' booking rate against its held-out patients' (`checkin_uplift`).",
    )
    checkin_uplift: CheckinUplift | None = None
