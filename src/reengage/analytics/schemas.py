"""Response shapes of the analytics endpoints: the frontend team's request, field for field.

Every field of the seed's four examples (``shared/seed``) sits here at its path, under its
name, with the same kind of value; fields reengage adds stand beside them and are marked
"Not in the seed" in their descriptions. ``tests/test_seed_contract.py`` holds the live
answers to the seed's examples, so a rename or a move fails there.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Day = date  # a field named ``date`` cannot be annotated ``date`` and carry a Field

RiskLevel = Literal["critical", "high", "medium", "low", "engaged"]
RiskLevelFilter = Literal["critical", "high", "medium", "low", "engaged", "all"]
ActionRequired = Literal["missed_appt", "failed_contact", "overdue_followup", "no_future_appt"]
SortBy = Literal["risk_score", "days_since_contact", "next_action_date"]

OrganizationId = Annotated[str, Field(description="Not in the seed: the org the figures are for.")]
LastUpdated = Annotated[
    datetime, Field(description="The `as_of` the figures are computed at, in the org's timezone.")
]
RATE = "Percent, one decimal; null when the denominator is 0."

# The seed's names for the tiers' counts: ``risk_summary.critical_risk`` holds the count of
# tier ``critical``, and so on; ``engaged`` keeps its name.
RISK_SUMMARY_FIELDS: dict[str, str] = {
    "critical": "critical_risk",
    "high": "high_risk",
    "medium": "medium_risk",
    "low": "low_risk",
    "engaged": "engaged",
}


class RiskSummary(BaseModel):
    """The population in each tier; the five add up to the population."""

    critical_risk: int = Field(description="Tier `critical`: 45+ days without contact (default).")
    high_risk: int = Field(description="Tier `high`: 30-44 days without contact (default).")
    medium_risk: int = Field(description="Tier `medium`: 14-29 days without contact (default).")
    low_risk: int = Field(description="Tier `low`: 7-13 days without contact (default).")
    engaged: int = Field(
        description="Tier `engaged`: recent contact, or (by default) a future appointment."
    )

    @classmethod
    def of(cls, tiers: dict[str, int]) -> RiskSummary:
        return cls(**{RISK_SUMMARY_FIELDS[tier]: count for tier, count in tiers.items()})

    def count(self, tier: str) -> int:
        """The count of one tier, by the tier's name (``critical``, ..., ``engaged``)."""
        return int(getattr(self, RISK_SUMMARY_FIELDS[tier]))


class Alerts(BaseModel):
    """Patients with each flag: each equals the list's total filtered by that flag."""

    missed_appointments_14d: int = Field(
        description="A no_show or late_cancelled visit in the last 14 days and nothing booked "
        "(`action_required=missed_appt`)."
    )
    failed_communications: int = Field(
        description="An attempt of the last 14 days failed, or a call never connected, with no "
        "contact since (`action_required=failed_contact`)."
    )
    overdue_followups: int = Field(
        description="A follow-up past its due time and not completed "
        "(`action_required=overdue_followup`)."
    )
    no_future_appointments: int = Field(
        description="No future appointment (`action_required=no_future_appt`)."
    )


class RiskMetrics(BaseModel):
    organization_id: OrganizationId
    risk_summary: RiskSummary = Field(description="The population by tier.")
    alerts: Alerts = Field(description="Patients with each flag.")
    immediate_actions_required: int = Field(description="Patients with `action_priority` 1.")
    last_updated: LastUpdated


class HistoryItem(BaseModel):
    """One outreach attempt, as the seed's `reengagement_history` shows it."""

    date: Day = Field(description="The attempt's `sent_at` date, in the org's timezone.")
    method: Literal["sms", "email", "phone"] = Field(description="The attempt's channel.")
    success: bool = Field(description="Replied to (sms, email) or connected (phone).")
    reason: Literal["responded", "connected", "delivery_failed", "not_connected", "no_response"] = (
        Field(
            description="`responded` or `connected` when successful; else `delivery_failed` "
            "when it failed; else `not_connected` (phone) or `no_response`."
        )
    )


class PrioritizedPatient(BaseModel):
    """A patient of the list: the seed's fields in its order, then reengage's own."""

    id: str = Field(description="The patient's id, as the clinic's system chose it.")
    name: str = Field(description="The patient's name, as recorded.")
    phone: str | None = Field(description="E.164, or null when unknown.")
    email: str | None = Field(description="As recorded, or null when unknown.")
    risk_level: RiskLevel = Field(description="The tier, from the days since last contact.")
    risk_score: int = Field(
        description="0-100: min(days, 60) + 15 with nothing booked + 5 per missed visit in 90 "
        "days (up to 3) + 5 for a failed contact + 5 for an overdue follow-up."
    )
    days_since_last_contact: int = Field(
        description="Calendar days from the last contact's date to `as_of`'s date."
    )
    last_appointment_date: date | None = Field(
        description="Date of the latest completed appointment; null with none."
    )
    next_scheduled_appointment: datetime | None = Field(
        description="Start of the earliest future appointment (org's timezone); null with none."
    )
    recommended_action: str = Field(
        description="immediate_phone_call, reschedule_missed_appointment, "
        "sms_with_followup_call, try_alternate_channel, complete_overdue_followup, "
        "automated_checkin, routine_monitoring or book_next_appointment."
    )
    action_priority: int = Field(description="1 (most urgent) to 4.")
    communication_preferences: list[str] = Field(
        description="The channels the patient prefers, in their order."
    )
    best_contact_time: Literal["morning", "afternoon", "evening"] | None = Field(
        description="Part of day in which the patient most often responded or connected "
        "(morning before 12:00, afternoon 12-17, evening); null with no history."
    )
    previous_response_rate: float | None = Field(
        description=f"The patient's successful contacts over their outreach attempts. {RATE}"
    )
    total_lifetime_appointments: int = Field(description="Completed appointments.")
    missed_appointments_last_90d: int = Field(
        description="no_show and late_cancelled appointments that started in the last 90 "
        "days (uncapped)."
    )
    reengagement_history: list[HistoryItem] = Field(
        description="The 10 latest outreach attempts, newest first."
    )
    health_conditions: list[str] = Field(description="As recorded; [] when unknown.")
    referral_source: str | None = Field(description="As recorded; null when unknown.")
    last_treatment_outcome: str | None = Field(description="As recorded; null when unknown.")
    last_contact_date: date = Field(
        description="Not in the seed: the date `days_since_last_contact` counts from."
    )
    recommended_channel: Literal["sms", "email", "phone"] | None = Field(
        description="Not in the seed: the channel to use, never one the patient opted out of "
        "or cannot be reached on; null for routine_monitoring or when none is left."
    )
    next_action_date: date | None = Field(
        description="Not in the seed: the date to act by (an open follow-up's due date when "
        "earlier)."
    )
    action_required: list[ActionRequired] = Field(
        description="Not in the seed: the patient's flags, the values `action_required` filters by."
    )


class ListSummary(BaseModel):
    """Over the whole filtered list, not only the page."""

    total_at_risk: int = Field(description="Patients of the list in medium, high or critical.")
    immediate_action_required: int = Field(description="Patients of the list at priority 1.")
    avg_days_since_contact: float | None = Field(
        description="Mean days since last contact, one decimal; null for an empty list."
    )
    success_rate_prediction: float | None = Field(
        description="The at-risk tiers' recent rates of outreach followed by a contact within "
        "the attribution window, weighted by the list's at-risk patients per tier. Percent, "
        "one decimal; null when no tier has a rate."
    )
    total: int = Field(description="Not in the seed: the filtered list's length.")


class PrioritizedList(BaseModel):
    organization_id: OrganizationId
    patients: list[PrioritizedPatient] = Field(description="The page, in the sort's order.")
    summary: ListSummary = Field(description="Over the whole filtered list.")
    last_updated: LastUpdated
    limit: int = Field(description="Not in the seed: the page size asked for.")
    offset: int = Field(description="Not in the seed: the page's first position.")


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
    this_weeks_target: int
    reengagement_success_rate: SuccessRate
    previous_success_rate: SuccessRate
    success_rate_change: float | None
    success_rate_trend: Literal["up", "down", "flat"] | None
