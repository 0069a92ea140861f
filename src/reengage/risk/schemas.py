"""Response shapes of the risk endpoints (risk-metrics, the prioritized list), and the field
types every analytics answer shares: the frontend team's request, field for field.

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
RiskLevelFilter = Literal["critical", "high", "medium", "low", "engaged", "at_risk", "all"]
TargetFilter = Literal["this_week"]
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
    action_priority: int = Field(
        description="1 (most urgent) to 4; 5 (nothing to do now) only in this week's target."
    )
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
    contacted_this_week: bool | None = Field(
        None,
        description="Not in the seed: in this week's target list (`target=this_week`), whether "
        "the patient got an outreach attempt while at risk since Monday; null in other lists.",
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


class WeekTarget(BaseModel):
    """This week's target: the patients the team means to contact this week (see
    docs/decisions.md)."""

    target: int = Field(description="The org's weekly_contact_target setting.")
    patients: int = Field(
        description="Patients in the target: the week's contacted ones, then the most urgent "
        "at-risk patients still waiting, up to `target` (fewer when the backlog is smaller)."
    )
    contacted: int = Field(description="Of them, contacted while at risk since the week began.")
    waiting: int = Field(description="Of them, not yet contacted.")
    week_start: date = Field(description="The Monday the week began, in the org's timezone.")
    backlog_beyond: int = Field(description="At-risk patients now who are not in the target.")


class PrioritizedList(BaseModel):
    organization_id: OrganizationId
    patients: list[PrioritizedPatient] = Field(description="The page, in the sort's order.")
    summary: ListSummary = Field(description="Over the whole filtered list.")
    last_updated: LastUpdated
    limit: int = Field(description="Not in the seed: the page size asked for.")
    offset: int = Field(description="Not in the seed: the page's first position.")
    week_target: WeekTarget | None = Field(
        None, description="Not in the seed: with `target=this_week`, the target's progress."
    )
