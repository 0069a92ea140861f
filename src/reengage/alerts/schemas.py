"""Shapes of the alerts API: the inbox, the rules, the webhook endpoints, the deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reengage.domain import alerts as rules
from reengage.errors import pattern
from reengage.plain_text import ShortText

# http or https, a host, no user name or password (``alerts.webhooks.check_url`` says why).
URL_PATTERN = pattern(
    r"^https?://[A-Za-z0-9._~%!$&'()*+,;=-]+(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"([/?#][!-~]*)?$",
    "must be an http:// or https:// URL with a host (and no user name or password)",
)
RuleName = Literal[
    "missed_appointment",
    "failed_contact",
    "followup_overdue",
    "turned_critical",
    "critical_share",
    "low_conversion",
    "at_risk_rising",
    "webhook_disabled",
]
State = Literal["open", "acknowledged", "resolved"]


class AlertOut(BaseModel):
    id: str
    rule: RuleName
    title: str = Field(description="The rule in words, as the inbox shows it.")
    subject_type: Literal["patient", "org", "webhook_endpoint"]
    subject: str | None = Field(description="The patient or endpoint id; null for the org.")
    patient_id: str | None
    state: State
    opened_at: datetime
    detail: dict[str, Any] = Field(
        description="The figures that raised it (tier, days, risk score; or the org's "
        "counts and percentages). Never a name or contact details."
    )
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="The id of the key that acknowledged it.")
    resolved_at: datetime | None
    resolved_by: str | None = Field(
        description="The id of the key that resolved it; null when it resolved itself."
    )
    resolved_automatically: bool = Field(
        description="It resolved because its rule stopped holding (the patient rebooked, "
        "replied, the follow-up was done; the org's figure recovered)."
    )


class AlertPage(BaseModel):
    organization_id: str
    total: int = Field(description="Alerts matching the filters, on every page.")
    limit: int
    offset: int
    alerts: list[AlertOut]


class AlertCounts(BaseModel):
    organization_id: str
    open: dict[str, int] = Field(description="Open alerts per rule.")
    acknowledged: dict[str, int] = Field(description="Acknowledged, not yet resolved, per rule.")
    total_open: int = Field(description="Open and acknowledged together.")


class RuleOut(BaseModel):
    name: RuleName
    kind: Literal["patient", "org"]
    title: str
    holds_when: str
    settings: dict[str, Any] = Field(description="The org's settings of the rule.")


class RulesOut(BaseModel):
    organization_id: str
    rules: list[RuleOut]


def rules_out(org_id: str, settings: Any) -> RulesOut:
    return RulesOut(
        organization_id=org_id,
        rules=[
            RuleOut(
                name=rule.name,
                kind=rule.kind,
                title=rule.title,
                holds_when=rule.holds_when,
                settings=getattr(settings.alerts, rule.name).model_dump(mode="json"),
            )
            for rule in rules.RULES
        ],
    )


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000, pattern=URL_PATTERN, examples=["https://hooks.example-clinic.au/reengage"]
    )
    rules: list[RuleName] = Field(
        default_factory=list, description="The rules whose alerts it receives; empty: all."
    )
    description: ShortText | None = None


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Absent: unchanged (null is no URL, no rule list, no state: refused).
    url: str = Field(None, max_length=2000, pattern=URL_PATTERN)  # type: ignore[assignment]
    rules: list[RuleName] = Field(None)  # type: ignore[arg-type]
    description: ShortText | None = None
    enabled: bool = Field(  # type: ignore[assignment]
        None, description="false stops deliveries; true (re-)enables and resets its failures."
    )


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    rules: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None
    failed_deliveries: int = Field(description="Deliveries in a row that used up every attempt.")


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, whsec_...): shown once, now."
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    milliseconds: int


class DeliveryOut(BaseModel):
    id: str = Field(description="For a webhook, its webhook-id (the same on every attempt).")
    channel: Literal["webhook", "email"]
    target: str = Field(description="The endpoint's id, or 'digest'.")
    event: str
    state: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptOut]
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None


class DeliveriesOut(BaseModel):
    organization_id: str
    deliveries: list[DeliveryOut]


class TestOut(BaseModel):
    delivered: bool
    delivery: DeliveryOut


class JobRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job: str
    slot: str
    finished_at: datetime
    seconds: float
    worker: str


class JobRunsOut(BaseModel):
    organization_id: str
    runs: list[JobRunOut]
