"""Judging the alert rules, and what people do with the alerts (acknowledge, resolve).

The rules are ``domain.alerts``'; the figures they judge come from the same services as
the API's answers (``risk.service`` for standings and counts, ``outreach.service`` for the
conversion and the day-end at-risk counts), so an alert never disagrees with the page a
person opens to act on it. Services never commit: the job or the request does.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reengage.alerts import repository
from reengage.alerts.events import alert_event, enqueue_event
from reengage.db.locks import lock_org_writes
from reengage.derived import alert_checks, histories
from reengage.domain import alerts as rules
from reengage.domain.outreach import rate
from reengage.domain.scope import Scope
from reengage.domain.standing import Standing
from reengage.models import Alert
from reengage.orgs import service as orgs_service
from reengage.outreach import service as outreach_service
from reengage.risk import service as risk_service

# Patients judged per run of ``alerts-checks``: a bulk write of many is left to the next
# run (and to the full evaluation), so one run stays short.
CHECKS_PER_RUN = 5000


@dataclass
class Evaluated:
    """What one evaluation changed, by rule: for logs, the CLI and the tests."""

    opened: dict[str, int] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    judged_patients: int = 0

    def count(self, into: dict[str, int], rule: str, n: int) -> None:
        if n:
            into[rule] = into.get(rule, 0) + n


def new_id() -> str:
    return f"alr_{secrets.token_hex(8)}"


def evaluate(session: Session, org_id: str, now: datetime) -> Evaluated:
    """Judge every rule for the whole org as of ``now``."""
    where = Scope(org_id, orgs_service.get_settings(session, org_id), now)
    standings = risk_service.standings(session, where)
    found = where.settings.alerts
    conversion, rising = found.low_conversion, found.at_risk_rising
    # Reads that may bring the stored standings up to date commit on their own: all reads
    # come before the first write of this transaction.
    figures = outreach_service.alert_figures(session, where, conversion.days, rising.days)
    org_figures = rules.OrgFigures(
        population=figures.tally.total,
        critical=figures.tally.tiers["critical"],
        contacts=figures.funnel.successes,
        conversion_rate=rate(figures.funnel.conversions, figures.funnel.successes),
        at_risk_day_ends=figures.at_risk_day_ends,
    )
    lock_org_writes(session, org_id)
    done = Evaluated(judged_patients=len(standings))
    _apply_patient_rules(session, where, standings, None, done)
    holding = rules.org_rules_holding(org_figures, found)
    for rule in rules.JUDGED_ORG_RULES:
        held = {rules.ORG_SUBJECT: holding[rule]} if rule in holding else {}
        _apply(session, where, rule, held, None, None, done)
    return done


def evaluate_written(session: Session, org_id: str, now: datetime) -> Evaluated:
    """Judge the patient rules for the patients written since they were last judged."""
    lock_org_writes(session, org_id)
    ids = alert_checks.take(session, org_id, CHECKS_PER_RUN)
    done = Evaluated(judged_patients=len(ids))
    if not ids:
        return done
    where = Scope(org_id, orgs_service.get_settings(session, org_id), now)
    pairs = histories.load_histories(session, org_id, ids)
    standings = risk_service.standings_of((h for _, h in pairs), where)
    _apply_patient_rules(session, where, standings, ids, done)
    return done


def _apply_patient_rules(
    session: Session,
    where: Scope,
    standings: Sequence[Standing],
    judged: Sequence[str] | None,
    done: Evaluated,
) -> None:
    settings = where.settings
    holding: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in rules.PATIENT_RULES}
    may_open: dict[str, set[str]] = {r: set() for r in rules.PATIENT_RULES}
    critical_from = settings.tier_thresholds.critical
    for standing in standings:
        for rule in rules.patient_rules_holding(standing, settings.alerts):
            holding[rule][standing.patient_id] = rules.patient_detail(standing)
            if rules.may_raise(rule, standing, critical_from):
                may_open[rule].add(standing.patient_id)
    for rule in rules.PATIENT_RULES:
        _apply(session, where, rule, holding[rule], judged, may_open[rule], done)


def _apply(
    session: Session,
    where: Scope,
    rule: str,
    holding: dict[str, dict[str, Any]],
    judged: Sequence[str] | None,
    may_open: set[str] | None,
    done: Evaluated,
) -> None:
    org_id, now = where.org_id, where.as_of
    current = repository.current(session, org_id, rule, judged)
    plan = rules.reconcile(current, holding, judged, may_open)
    patient_rule = rules.BY_NAME[rule].kind == "patient"
    rows = [
        {
            "org_id": org_id,
            "id": new_id(),
            "rule": rule,
            "subject": subject,
            "patient_id": subject if patient_rule else None,
            "state": "open",
            "opened_at": now,
            "detail": detail,
        }
        for subject, detail in sorted(plan.raise_for.items())
    ]
    repository.add_alerts(session, rows)
    repository.resolve_automatically(session, org_id, plan.resolve, now)
    repository.clear(session, org_id, plan.clear, now)
    changed = [str(r["id"]) for r in rows] + plan.resolve
    if changed:
        session.flush()
        for alert in repository.by_ids(session, org_id, changed):
            kind = "alert.opened" if alert.state == "open" else "alert.resolved"
            enqueue_event(session, alert_event(alert, kind, where.settings))
    done.count(done.opened, rule, len(rows))
    done.count(done.resolved, rule, len(plan.resolve))


def raise_for_endpoint(session: Session, org_id: str, endpoint_id: str, now: datetime) -> None:
    """An endpoint was just disabled: tell the admin in the inbox (and the digest)."""
    settings = orgs_service.get_settings(session, org_id)
    if not settings.alerts.enabled(rules.WEBHOOK_DISABLED):
        return
    where = Scope(org_id, settings, now)
    held = {endpoint_id: {"endpoint_id": endpoint_id}}
    _apply(session, where, rules.WEBHOOK_DISABLED, held, [endpoint_id], None, Evaluated())


def resolve_for_endpoint(session: Session, org_id: str, endpoint_id: str, now: datetime) -> None:
    """The endpoint was enabled again (or deleted): its alert resolves."""
    where = Scope(org_id, orgs_service.get_settings(session, org_id), now)
    _apply(session, where, rules.WEBHOOK_DISABLED, {}, [endpoint_id], None, Evaluated())


# --- people's actions -----------------------------------------------------------------------


class AlertStateError(Exception):
    """The action does not apply to the alert in its state (answered 409)."""


def acknowledge(session: Session, org_id: str, alert_id: str, key_id: str, now: datetime) -> Alert:
    alert = _get(session, org_id, alert_id)
    if alert.state == "resolved":
        raise AlertStateError(f"alert '{alert_id}' is resolved: there is nothing to acknowledge")
    if alert.state == "open":
        alert.state, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, key_id
        session.flush()
        settings = orgs_service.get_settings(session, org_id)
        enqueue_event(session, alert_event(alert, "alert.acknowledged", settings))
    return alert


def resolve(session: Session, org_id: str, alert_id: str, key_id: str, now: datetime) -> Alert:
    """Resolved by a person: it stays the subject's current alert until its rule is seen
    not to hold, so it is not raised again meanwhile (``domain.alerts``)."""
    alert = _get(session, org_id, alert_id)
    if alert.state == "resolved":
        raise AlertStateError(f"alert '{alert_id}' is already resolved")
    alert.state, alert.resolved_at, alert.resolved_by = "resolved", now, key_id
    session.flush()
    settings = orgs_service.get_settings(session, org_id)
    enqueue_event(session, alert_event(alert, "alert.resolved", settings))
    return alert


def _get(session: Session, org_id: str, alert_id: str) -> Alert:
    # Taken before reading: an evaluation resolving it meanwhile waits, or goes first.
    lock_org_writes(session, org_id)
    alert = repository.get(session, org_id, alert_id)
    if alert is None:
        raise LookupError(alert_id)
    return alert


def counts(session: Session, org_id: str) -> dict[str, dict[str, int]]:
    """Open and acknowledged alerts per rule: what a viewer may see."""
    found = repository.open_counts(session, org_id)
    return {
        state: rules.counts_by_rule((rule, n) for rule, s, n in found if s == state)
        for state in repository.OPEN_STATES
    }
