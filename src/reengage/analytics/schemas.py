"""Response shapes of the analytics endpoints, field for field as the contract names them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

RiskLevel = Literal["critical", "high", "medium", "low", "engaged"]
RiskLevelFilter = Literal["critical", "high", "medium", "low", "engaged", "all"]
ActionRequired = Literal["missed_appt", "failed_contact", "overdue_followup", "no_future_appt"]
SortBy = Literal["risk_score", "days_since_contact", "next_action_date"]


class RiskSummary(BaseModel):
    critical: int
    high: int
    medium: int
    low: int
    engaged: int


class Alerts(BaseModel):
    missed_appointments_14d: int
    failed_communications: int
    overdue_followups: int
    no_future_appointments: int


class RiskMetrics(BaseModel):
    organization_id: str
    last_updated: datetime
    risk_summary: RiskSummary
    alerts: Alerts
    immediate_actions_required: int


class HistoryItem(BaseModel):
    date: date
    method: str
    success: bool
    reason: str


class PrioritizedPatient(BaseModel):
    patient_id: str
    name: str
    phone: str | None
    email: str | None
    risk_level: RiskLevel
    risk_score: int
    days_since_last_contact: int
    last_contact_date: date
    last_appointment_date: date | None
    next_scheduled_appointment: datetime | None
    total_lifetime_appointments: int
    health_conditions: list[str]
    communication_preferences: list[str]
    action_priority: int
    recommended_action: str
    recommended_channel: str | None
    next_action_date: date | None
    action_required: list[str]
    previous_response_rate: float | None
    best_contact_time: str | None
    reengagement_history: list[HistoryItem]


class ListSummary(BaseModel):
    total: int
    total_at_risk: int
    immediate_action_required: int
    avg_days_since_contact: float | None
    success_rate_prediction: float | None


class PrioritizedList(BaseModel):
    organization_id: str
    last_updated: datetime
    patients: list[PrioritizedPatient]
    summary: ListSummary
    limit: int
    offset: int


Timeframe = Literal["last_7_days", "last_30_days", "last_90_days"]


class SmsFunnel(BaseModel):
    sent: int
    delivered: int
    responded: int
    response_rate: float | None


class EmailFunnel(BaseModel):
    sent: int
    opened: int
    responded: int
    response_rate: float | None


class PhoneFunnel(BaseModel):
    attempted: int
    connected: int
    appointment_booked: int
    conversion_rate: float | None


class ChannelPerformance(BaseModel):
    sms: SmsFunnel
    email: EmailFunnel
    phone: PhoneFunnel


class BenchmarkComparison(BaseModel):
    industry_avg_contact_rate: float
    industry_avg_conversion: float
    our_performance: Literal["above_average", "average", "below_average", "insufficient_data"]


class Performance(BaseModel):
    organization_id: str
    last_updated: datetime
    timeframe: Timeframe
    period_start: date
    period_end: date
    outreach_attempts: int
    successful_contacts: int
    contact_success_rate: float | None
    appointments_scheduled: int
    conversion_rate: float | None
    avg_days_to_reengage: float | None
    channel_performance: ChannelPerformance
    benchmark_comparison: BenchmarkComparison


TrendPeriod = Literal["7d", "30d", "90d", "6m", "1y"]


class DailyTrend(BaseModel):
    date: date
    new_at_risk: int | None = None
    reengaged_successfully: int | None = None
    outreach_attempts: int | None = None
    appointments_scheduled: int | None = None


class ChannelTrend(BaseModel):
    current_rate: float | None
    previous_rate: float | None
    change_pct: float | None
    success_rate_trend: Literal["improving", "declining", "stable"] | None


class RiskDistributionChanges(BaseModel):
    critical_start: int
    critical_end: int
    high_start: int
    high_end: int
    at_risk_start: int
    at_risk_end: int
    critical_trend: Literal["increasing", "decreasing", "stable"]
    high_trend: Literal["increasing", "decreasing", "stable"]
    overall_improvement: bool


class Trends(BaseModel):
    organization_id: str
    last_updated: datetime
    period: TrendPeriod
    period_start: date
    period_end: date
    metrics: list[str]
    daily_trends: list[DailyTrend] | None = None
    channel_performance_trends: dict[str, ChannelTrend] | None = None
    risk_distribution_changes: RiskDistributionChanges | None = None


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
