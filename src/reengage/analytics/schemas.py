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
