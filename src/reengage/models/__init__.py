"""One module per table; importing this package registers every table on ``Base.metadata``."""

from reengage.models.alert import Alert, AlertCheck, Delivery, DeliveryAttempt, WebhookEndpoint
from reengage.models.api_key import ApiKey
from reengage.models.appointment import Appointment
from reengage.models.attempt_outcome import AttemptOutcome
from reengage.models.audit import AuditEntry
from reengage.models.checkin import (
    CheckinAssignment,
    CheckinBatch,
    CheckinCampaign,
    CheckinMessage,
)
from reengage.models.communication import Communication
from reengage.models.daily_rollup import DailyRollup
from reengage.models.dashboard_session import DashboardSession
from reengage.models.derived_status import DerivedStatus
from reengage.models.followup import Followup
from reengage.models.import_job import ImportJob
from reengage.models.job_run import JobRun
from reengage.models.org import Org
from reengage.models.patient import Patient
from reengage.models.patient_state import PatientState
from reengage.models.provider import ConsentChange, ProviderCredential, ProviderEvent
from reengage.models.risk_span import RiskSpan
from reengage.models.standing import Standing

__all__ = [
    "Alert",
    "AlertCheck",
    "ApiKey",
    "Appointment",
    "AttemptOutcome",
    "AuditEntry",
    "CheckinAssignment",
    "CheckinBatch",
    "CheckinCampaign",
    "CheckinMessage",
    "Communication",
    "ConsentChange",
    "DailyRollup",
    "DashboardSession",
    "Delivery",
    "DeliveryAttempt",
    "DerivedStatus",
    "Followup",
    "ImportJob",
    "JobRun",
    "Org",
    "Patient",
    "PatientState",
    "ProviderCredential",
    "ProviderEvent",
    "RiskSpan",
    "Standing",
    "WebhookEndpoint",
]
