"""The alert rules: what each watches, when it holds, and how an alert's life follows it.

An alert is one rule's finding about one subject (a patient, or the org). The rules are a
table (``RULES``), as the risk rules are: the service loops over it, the settings, the docs
and the API document are generated from it, and ``tests/domain/test_alerts.py`` loops over
it too. Every function here is plain: no database, no clock.

An alert's life, for one rule and one subject:

- **raised** when the rule holds and the subject has no *current* alert for the rule
  (``current``: open, acknowledged, or resolved by a person while the rule still held);
- **resolved automatically** when the rule no longer holds (the patient rebooked, replied,
  the follow-up was done, the share fell), which also *clears* it;
- **resolved by a person** (acknowledged or not): it stays current until the rule is seen
  not to hold, so a resolved alert is not raised again the next minute. It is re-raised
  only after that: the patient rebooks and misses again, the share falls and rises again.

So at most one alert per rule and subject is current at any time; the database holds that
too (a unique index over the uncleared alerts).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reengage.domain import risk
from reengage.domain.settings import AlertRules
from reengage.domain.standing import Standing

Kind = Literal["patient", "org"]
ORG_SUBJECT = ""  # the subject of an org's alerts (patient ids are never empty)


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Kind
    title: str  # what the inbox shows: counts and rules, never patient data
    holds_when: str  # the rule in a sentence, for the docs


MISSED_APPOINTMENT = "missed_appointment"
FAILED_CONTACT = "failed_contact"
FOLLOWUP_OVERDUE = "followup_overdue"
TURNED_CRITICAL = "turned_critical"
CRITICAL_SHARE = "critical_share"
LOW_CONVERSION = "low_conversion"
AT_RISK_RISING = "at_risk_rising"
WEBHOOK_DISABLED = "webhook_disabled"

RULES: tuple[Rule, ...] = (
    Rule(
        MISSED_APPOINTMENT,
        "patient",
        "Missed appointment, nothing booked",
        "a no-show or late cancellation in the last 14 days and no future appointment "
        "(the contract's missed-appointment flag)",
    ),
    Rule(
        FAILED_CONTACT,
        "patient",
        "Failed contact, no contact since",
        "an outbound attempt in the last 14 days failed (or a call never connected) and "
        "there has been no contact since (the contract's failed-contact flag)",
    ),
    Rule(
        FOLLOWUP_OVERDUE,
        "patient",
        "Follow-up overdue",
        "a follow-up's due time has passed and it is not completed (the contract's "
        "overdue follow-up flag)",
    ),
    Rule(
        TURNED_CRITICAL,
        "patient",
        "Patient turned critical",
        "the patient's tier is critical (45+ days without contact by default)",
    ),
    Rule(
        CRITICAL_SHARE,
        "org",
        "Critical patients above target",
        "critical patients are more than `above_pct` percent of the active population "
        "(default 5, the seed's target)",
    ),
    Rule(
        LOW_CONVERSION,
        "org",
        "Contact to booking conversion below target",
        "contact -> appointment conversion over the last `days` days (default 30) is under "
        "`below_pct` percent (default 70, the seed's target); not judged with no contacts",
    ),
    Rule(
        AT_RISK_RISING,
        "org",
        "At-risk patients rising",
        "the at-risk count at the end of each of the last `days` days (default 3) was higher "
        "than at the end of the day before it",
    ),
    Rule(
        WEBHOOK_DISABLED,
        "org",
        "Webhook endpoint disabled",
        "an outgoing webhook endpoint was disabled after its deliveries kept failing; "
        "resolved when it is enabled again (one alert per endpoint)",
    ),
)
RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)
BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}
PATIENT_RULES: tuple[str, ...] = tuple(r.name for r in RULES if r.kind == "patient")
# The org rules the evaluation judges (a disabled webhook is raised where it happens).
JUDGED_ORG_RULES: tuple[str, ...] = (CRITICAL_SHARE, LOW_CONVERSION, AT_RISK_RISING)

# The flag of the contract each patient rule follows.
FLAG_OF_RULE: dict[str, str] = {
    MISSED_APPOINTMENT: risk.MISSED_APPT,
    FAILED_CONTACT: risk.FAILED_CONTACT,
    FOLLOWUP_OVERDUE: risk.OVERDUE_FOLLOWUP,
}

STATES: tuple[str, ...] = ("open", "acknowledged", "resolved")


# --- the rules -------------------------------------------------------------------------------


# A patient raises ``turned_critical`` within this many days of turning critical: the alert
# is news, not the backlog (an org's first evaluation would otherwise raise one for every
# patient already critical, who are on the list anyway). It stays open while they are.
TURNED_CRITICAL_WITHIN_DAYS = 7


def patient_rules_holding(standing: Standing, rules: AlertRules) -> list[str]:
    """The enabled patient rules that hold for this standing (an open alert stays open)."""
    found = [
        rule
        for rule, flag in FLAG_OF_RULE.items()
        if rules.enabled(rule) and flag in standing.flags
    ]
    if rules.enabled(TURNED_CRITICAL) and standing.tier == "critical":
        found.append(TURNED_CRITICAL)
    return found


def may_raise(rule: str, standing: Standing, critical_from_days: int) -> bool:
    """Whether a rule that holds may raise a new alert for this patient now."""
    if rule == TURNED_CRITICAL:
        return standing.days_since_last_contact - critical_from_days < TURNED_CRITICAL_WITHIN_DAYS
    return True


def patient_detail(standing: Standing) -> dict[str, Any]:
    """What a patient's alert carries: figures, never names or contact details."""
    return {
        "tier": standing.tier,
        "days_since_last_contact": standing.days_since_last_contact,
        "risk_score": standing.risk_score,
        "recommended_action": standing.recommended_action,
    }


@dataclass(frozen=True)
class OrgFigures:
    """What the org rules judge, as of one instant."""

    population: int
    critical: int
    contacts: int  # successful contacts in the conversion window
    conversion_rate: float | None  # percent; None without contacts
    at_risk_day_ends: Sequence[int]  # oldest first, ending with yesterday's


def org_rules_holding(figures: OrgFigures, rules: AlertRules) -> dict[str, dict[str, Any]]:
    """The enabled org rules that hold, each with the figures that made it hold (counts and
    percentages only: these go into emails and webhooks)."""
    found: dict[str, dict[str, Any]] = {}
    share = rules.critical_share
    if share.enabled and figures.population > 0:
        pct = 100.0 * figures.critical / figures.population
        if pct > share.above_pct:
            found[CRITICAL_SHARE] = {
                "critical": figures.critical,
                "population": figures.population,
                "critical_pct": round(pct, 1),
                "above_pct": share.above_pct,
            }
    conversion = rules.low_conversion
    rate = figures.conversion_rate
    if conversion.enabled and rate is not None and rate < conversion.below_pct:
        found[LOW_CONVERSION] = {
            "conversion_rate": rate,
            "below_pct": conversion.below_pct,
            "days": conversion.days,
            "successful_contacts": figures.contacts,
        }
    rising = rules.at_risk_rising
    counts = list(figures.at_risk_day_ends)[-(rising.days + 1) :]
    if (
        rising.enabled
        and len(counts) == rising.days + 1
        and all(a < b for a, b in itertools.pairwise(counts))
    ):
        found[AT_RISK_RISING] = {"at_risk_day_ends": counts, "days": rising.days}
    return found


# --- an alert's life -------------------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """A current alert as reconciling needs it."""

    id: str
    subject: str
    state: str  # open | acknowledged | resolved (by a person, not yet cleared)


@dataclass
class Plan:
    """What one evaluation of one rule changes."""

    raise_for: dict[str, dict[str, Any]] = field(default_factory=dict)  # subject -> detail
    resolve: list[str] = field(default_factory=list)  # alert ids: resolve and clear
    clear: list[str] = field(default_factory=list)  # ids resolved by a person: clear


def reconcile(
    current: Iterable[Current],
    holding: Mapping[str, Mapping[str, Any]],
    judged: Iterable[str] | None = None,
    may_open: Iterable[str] | None = None,
) -> Plan:
    """Compare where a rule holds (subject -> detail) with its current alerts.

    ``judged``: the subjects this evaluation looked at (a write re-judges only its patients);
    None: every subject, so an alert whose subject is gone (no longer in the population)
    resolves too. ``may_open``: the holding subjects that may raise a new alert (None: all)."""
    allowed = None if may_open is None else set(may_open)
    scope = None if judged is None else set(judged)
    plan = Plan()
    seen: set[str] = set()
    for alert in current:
        seen.add(alert.subject)
        if alert.subject in holding or (scope is not None and alert.subject not in scope):
            continue
        if alert.state == "resolved":
            plan.clear.append(alert.id)
        else:
            plan.resolve.append(alert.id)
    for subject, detail in holding.items():
        if subject not in seen and (allowed is None or subject in allowed):
            plan.raise_for[subject] = dict(detail)
    return plan


# --- outgoing webhooks: when to try again ----------------------------------------------------

# Seconds after the first attempt's failure before each further attempt: exponential, then
# spread so the last is a day after the first (Standard Webhooks' own schedule is similar).
RETRY_DELAYS: tuple[int, ...] = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
# Deliveries in a row that used up every attempt before the endpoint is disabled.
DISABLE_AFTER_FAILED_DELIVERIES = 3


def next_delay(attempts_made: int) -> int | None:
    """Seconds to wait after ``attempts_made`` failed attempts, or None: give up."""
    if attempts_made < 1 or attempts_made > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts_made - 1]


def counts_by_rule(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Every rule's count, zero for those absent (the viewer's summary and the digest)."""
    counts = dict.fromkeys(RULE_NAMES, 0)
    for rule, n in pairs:
        if rule in counts:
            counts[rule] += n
    return counts
