"""Risk tiers, alert flags, the recommended action and channel, and the risk score.

Each function mirrors a paragraph of the contract ("Time and contact", "Risk tiers",
"Alerts and actions"); ``assess`` puts them together for one patient as of one instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from reengage.domain.calendar import days_between, in_last_days, local_date
from reengage.domain.history import Communication, PatientHistory
from reengage.domain.settings import OrgSettings, TierThresholds

TIERS: tuple[str, ...] = ("critical", "high", "medium", "low", "engaged")
AT_RISK_TIERS: tuple[str, ...] = ("critical", "high", "medium")
# The tiers that begin at a threshold of the same name, from the most days down: a patient
# is in the first whose threshold their days reach, else engaged. The SQL builds from it.
THRESHOLD_TIERS: tuple[str, ...] = ("critical", "high", "medium", "low")

MISSED_APPT = "missed_appt"
FAILED_CONTACT = "failed_contact"
OVERDUE_FOLLOWUP = "overdue_followup"
NO_FUTURE_APPT = "no_future_appt"
FLAGS: tuple[str, ...] = (MISSED_APPT, FAILED_CONTACT, OVERDUE_FOLLOWUP, NO_FUTURE_APPT)

ALERT_WINDOW_DAYS = 14
MISSED_SCORE_WINDOW_DAYS = 90
CHECKIN_COOLDOWN_DAYS = 7
WEEK_DAYS = 7
MISSED_STATUSES = frozenset({"no_show", "late_cancelled"})
# The score counts missed visits up to this many; no more need remembering.
MISSED_TRACKED = 3

# (priority, recommended_action): the first row that holds, in the contract's order.
NATURAL_CHANNEL: dict[str, str | None] = {
    "immediate_phone_call": "phone",
    "reschedule_missed_appointment": "phone",
    "complete_overdue_followup": "phone",
    "sms_with_followup_call": "sms",
    "automated_checkin": "sms",
    "book_next_appointment": "sms",
    "try_alternate_channel": None,
}
NO_CHANNEL_ACTIONS = frozenset({"routine_monitoring", "none"})
FALLBACK_CHANNELS: tuple[str, ...] = ("phone", "sms", "email")


def tier_for_days(days: int, thresholds: TierThresholds) -> str:
    for tier in THRESHOLD_TIERS:
        if days >= threshold(tier, thresholds):
            return tier
    return "engaged"


def threshold(tier: str, thresholds: TierThresholds) -> int:
    """The days since last contact at which ``tier`` begins (one of ``THRESHOLD_TIERS``)."""
    return int(getattr(thresholds, tier))


def tier_days(tier: str, thresholds: TierThresholds) -> tuple[int, int | None]:
    """The days since last contact that make ``tier`` (first, last; last ``None`` for the
    open-ended top tier): what ``tier_for_days`` decides, as a range to show."""

    def first(name: str) -> int:
        return 0 if name == "engaged" else threshold(name, thresholds)

    above = TIERS.index(tier) - 1  # TIERS run from the most days down
    return first(tier), (first(TIERS[above]) - 1 if above >= 0 else None)


def is_at_risk(tier: str) -> bool:
    return tier in AT_RISK_TIERS


@dataclass(frozen=True)
class Assessment:
    """Everything the risk endpoints say about one patient as of one instant."""

    patient_id: str
    last_contact_at: datetime
    days_since_last_contact: int
    tier: str
    next_appointment_at: datetime | None
    flags: tuple[str, ...]
    missed_last_90_days: int
    risk_score: int
    action_priority: int
    recommended_action: str
    recommended_channel: str | None
    next_action_date: date | None
    last_appointment_date: date | None
    total_lifetime_appointments: int
    # Any outreach attempt sent in the last WEEK_DAYS days (the dashboard's weekly target).
    attempted_last_7_days: bool = False

    @property
    def at_risk(self) -> bool:
        return is_at_risk(self.tier)


def in_population(history: PatientHistory, as_of: datetime) -> bool:
    """Active patients who have started by as_of (a patient is data only from their start)."""
    return history.status == "active" and history.start() <= as_of


def last_contact(history: PatientHistory, as_of: datetime) -> datetime:
    return max(history.contact_times(as_of), default=history.start())


def next_appointment(history: PatientHistory, as_of: datetime) -> datetime | None:
    """Earliest appointment that exists at as_of, starts after it, and is not cancelled.

    One now completed, no_show or late_cancelled was still scheduled then.
    """
    return min(
        (
            a.starts_at
            for a in history.appointments
            if a.exists_at(as_of) and a.starts_at > as_of and a.status != "cancelled"
        ),
        default=None,
    )


def tier_at(history: PatientHistory, as_of: datetime, settings: OrgSettings) -> str:
    """The tier as of an instant (no population check: callers decide who counts)."""
    zone = settings.zone()
    days = days_between(last_contact(history, as_of), as_of, zone)
    if settings.booked_patients_are_engaged and next_appointment(history, as_of) is not None:
        return "engaged"
    return tier_for_days(days, settings.tier_thresholds)


def _missed(history: PatientHistory, as_of: datetime, zone: ZoneInfo, days: int) -> int:
    return sum(
        1
        for a in history.appointments
        if a.status in MISSED_STATUSES
        and a.exists_at(as_of)
        and in_last_days(a.starts_at, as_of, zone, days)
    )


def recent_failed_attempts(
    history: PatientHistory, as_of: datetime, zone: ZoneInfo
) -> list[Communication]:
    """Attempts sent in the last 14 days that failed or are calls never connected."""
    return [
        c
        for c in history.attempts(as_of)
        if in_last_days(c.sent_at, as_of, zone, ALERT_WINDOW_DAYS)
        and (c.failed_by(as_of) or c.unconnected_call(as_of))
    ]


def _failed_contact(failed: list[Communication], contact_times: list[datetime]) -> bool:
    """A failed attempt with no contact since it (at or after its sent_at)."""
    return any(not any(t >= c.sent_at for t in contact_times) for c in failed)


def _overdue_followup(history: PatientHistory, as_of: datetime) -> bool:
    return any(f.due_at < as_of and f.open_at(as_of) for f in history.followups)


# The contract's action table, in order: (priority, recommended_action, what must hold),
# where what must hold is a tier or a flag. Data, so the SQL fast path builds from it too.
ACTION_RULES: tuple[tuple[int, str, str], ...] = (
    (1, "immediate_phone_call", "critical"),
    (1, "reschedule_missed_appointment", MISSED_APPT),
    (2, "sms_with_followup_call", "high"),
    (2, "try_alternate_channel", FAILED_CONTACT),
    (2, "complete_overdue_followup", OVERDUE_FOLLOWUP),
    (3, "automated_checkin", "medium"),
    (4, "routine_monitoring", "low"),
    (4, "book_next_appointment", NO_FUTURE_APPT),
)
NO_ACTION: tuple[int, str] = (5, "none")


def choose_action(tier: str, flags: tuple[str, ...]) -> tuple[int, str]:
    """(action_priority, recommended_action): the first row of the contract's table that holds."""
    for priority, action, condition in ACTION_RULES:
        if condition == tier or condition in flags:
            return priority, action
    return NO_ACTION


class Reachable(Protocol):
    """What choosing a channel reads of a patient (a history, or a check-in's candidate)."""

    @property
    def has_phone(self) -> bool: ...
    @property
    def has_email(self) -> bool: ...
    @property
    def communication_preferences(self) -> tuple[str, ...]: ...
    @property
    def opt_outs(self) -> tuple[str, ...]: ...


def choose_channel(
    action: str, history: Reachable, skip: frozenset[str] = frozenset()
) -> str | None:
    """First channel the patient has not opted out of and can be reached on, in the
    contract's order: the action's natural channel, their preferences, then phone, sms, email.
    """
    if action in NO_CHANNEL_ACTIONS:
        return None
    natural = NATURAL_CHANNEL.get(action)
    order = ((natural,) if natural else ()) + history.communication_preferences + FALLBACK_CHANNELS
    for channel in order:
        if channel in skip or channel in history.opt_outs:
            continue
        reachable = history.has_email if channel == "email" else history.has_phone
        if reachable:
            return channel
    return None


def channel_for(
    action: str, history: PatientHistory, failed_attempts: Iterable[Communication]
) -> str | None:
    """The action's channel; for ``try_alternate_channel``, none of the failed attempts'
    (``failed_attempts``: of the last 14 days, as ``recent_failed_attempts`` finds them)."""
    skip = (
        frozenset(c.channel for c in failed_attempts)
        if action == "try_alternate_channel"
        else frozenset()
    )
    return choose_channel(action, history, skip)


# The contract's risk score, term by term: (input, points per unit, most units counted;
# None where the input is 0 or 1). The SQL builds from it.
SCORE_TERMS: tuple[tuple[str, int, int | None], ...] = (
    ("days", 1, 60),  # days since last contact
    ("no_future", 15, None),  # nothing booked
    ("missed_90", 5, MISSED_TRACKED),  # visits missed in the last 90 days
    ("failed", 5, None),  # failed contact
    ("overdue", 5, None),  # overdue follow-up
)
SCORE_MAX = 100


def score_of(inputs: Mapping[str, int]) -> int:
    """The score from ``SCORE_TERMS``' inputs."""
    points = sum(
        weight * (min(inputs[name], cap) if cap is not None else inputs[name])
        for name, weight, cap in SCORE_TERMS
    )
    return min(points, SCORE_MAX)


def risk_score(days: int, has_future: bool, missed_90: int, failed: bool, overdue: bool) -> int:
    return score_of(
        {
            "days": days,
            "no_future": int(not has_future),
            "missed_90": missed_90,
            "failed": int(failed),
            "overdue": int(overdue),
        }
    )


# From what each action's next date is counted (an open follow-up due earlier wins): today;
# a cooldown after the latest attempt of the last 7 days ("checkin", today without one); the
# day the patient would turn medium ("medium_tier"); None: no date. The SQL builds from it.
NEXT_ACTION_FROM: dict[str, str | None] = {
    "immediate_phone_call": "today",
    "reschedule_missed_appointment": "today",
    "sms_with_followup_call": "today",
    "try_alternate_channel": "today",
    "complete_overdue_followup": "today",
    "automated_checkin": "checkin",
    "routine_monitoring": "medium_tier",
    "book_next_appointment": "today",
    "none": None,
}


def next_action_date(
    action: str,
    history: PatientHistory,
    as_of: datetime,
    last_contact_day: date,
    settings: OrgSettings,
) -> date | None:
    zone = settings.zone()
    today = local_date(as_of, zone)
    basis = NEXT_ACTION_FROM[action]
    if basis is None:
        return None
    when = today
    if basis == "checkin":
        recent = [
            c.sent_at
            for c in history.attempts(as_of)
            if in_last_days(c.sent_at, as_of, zone, CHECKIN_COOLDOWN_DAYS)
        ]
        if recent:
            when = local_date(max(recent), zone) + timedelta(days=CHECKIN_COOLDOWN_DAYS)
    elif basis == "medium_tier":
        when = last_contact_day + timedelta(days=threshold("medium", settings.tier_thresholds))
    due = [local_date(f.due_at, zone) for f in history.followups if f.open_at(as_of)]
    earliest_due = min(due, default=None)
    if earliest_due is not None and earliest_due < when:
        return earliest_due
    return when


def assess(history: PatientHistory, as_of: datetime, settings: OrgSettings) -> Assessment:
    """The patient's tier, flags, action, channel, dates and score as of ``as_of``."""
    zone = settings.zone()
    contacts = list(history.contact_times(as_of))
    contact_at = max(contacts, default=history.start())
    days = days_between(contact_at, as_of, zone)
    upcoming = next_appointment(history, as_of)
    if settings.booked_patients_are_engaged and upcoming is not None:
        tier = "engaged"
    else:
        tier = tier_for_days(days, settings.tier_thresholds)

    failed_attempts = recent_failed_attempts(history, as_of, zone)
    missed_recent = upcoming is None and _missed(history, as_of, zone, ALERT_WINDOW_DAYS) > 0
    failed = _failed_contact(failed_attempts, contacts)
    overdue = _overdue_followup(history, as_of)
    flags = tuple(
        flag
        for flag, holds in (
            (MISSED_APPT, missed_recent),
            (FAILED_CONTACT, failed),
            (OVERDUE_FOLLOWUP, overdue),
            (NO_FUTURE_APPT, upcoming is None),
        )
        if holds
    )
    missed_90 = _missed(history, as_of, zone, MISSED_SCORE_WINDOW_DAYS)
    priority, action = choose_action(tier, flags)
    completed = [
        a.starts_at
        for a in history.appointments
        if a.status == "completed" and a.exists_at(as_of) and a.starts_at <= as_of
    ]
    return Assessment(
        patient_id=history.id,
        last_contact_at=contact_at,
        days_since_last_contact=days,
        tier=tier,
        next_appointment_at=upcoming,
        flags=flags,
        missed_last_90_days=missed_90,
        risk_score=risk_score(days, upcoming is not None, missed_90, failed, overdue),
        action_priority=priority,
        recommended_action=action,
        recommended_channel=channel_for(action, history, failed_attempts),
        next_action_date=next_action_date(
            action, history, as_of, local_date(contact_at, zone), settings
        ),
        last_appointment_date=local_date(max(completed), zone) if completed else None,
        total_lifetime_appointments=len(completed),
        attempted_last_7_days=any(
            in_last_days(c.sent_at, as_of, zone, WEEK_DAYS) for c in history.attempts(as_of)
        ),
    )
