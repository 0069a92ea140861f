"""This week's target (``domain.week_target``): found, and listed as the call list lists.

The week's contacted patients are few (those with an attempt since Monday: their histories
are read whole); the rest of the target is the head of the call list's at-risk patients, read
the way the call list reads it. Services never commit and never see HTTP.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy.orm import Session

from reengage.derived import histories
from reengage.domain import risk
from reengage.domain import week_target as rules
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import round_one_decimal
from reengage.domain.scope import Scope
from reengage.domain.standing import AT_RISK_LEVEL, level_matches
from reengage.models import Patient
from reengage.risk import service
from reengage.risk.schemas import ListSummary, PrioritizedList, PrioritizedPatient, WeekTarget
from reengage.risk.service import ListedPage

# A list order over entries: the call list's (``standing.SORTS``); the target's patients
# with nothing to do now have no next action date and come last in that order.
ENTRY_SORTS = {
    "risk_score": lambda e: (-e.risk_score, e.id),
    "days_since_contact": lambda e: (-e.days_since_last_contact, e.id),
    "next_action_date": lambda e: (
        e.next_action_date is None,
        e.next_action_date or date.min,
        e.id,
    ),
}


@dataclass(frozen=True)
class Found:
    target: rules.WeekTarget
    contacted: dict[str, tuple[Patient, PatientHistory]]  # the week's contacted, loaded
    head: ListedPage | None  # the call list's first at-risk patients, when any are needed


def find(session: Session, where: Scope) -> Found:
    """The week's target, from the histories of the week's attempted patients and the
    order of the call list's at-risk patients (their standings only: no entries)."""
    settings = where.settings
    since = rules.week_start(where.as_of, settings)
    ids = histories.patients_with_attempts_between(session, where.org_id, since, where.as_of)
    loaded = {p.id: (p, h) for p, h in histories.load_histories(session, where.org_id, ids)}
    contacted = rules.contacted_order([h for _, h in loaded.values()], where.as_of, settings)
    size = settings.weekly_contact_target
    room = max(size - len(contacted), 0)
    head = None
    if room:
        head = service.listed_page(
            session, where, AT_RISK_LEVEL, None, "risk_score", room + len(contacted), 0
        )
        tiers = head.counts.tiers
    else:
        tiers = service.population_tally(session, where).tiers
    target = rules.choose(
        size,
        rules.week_first_day(where.as_of, settings),
        contacted,
        [s.patient_id for s in head.page] if head is not None else [],
        sum(tiers[t] for t in risk.AT_RISK_TIERS),
        sum(
            1
            for pid in contacted
            if risk.is_at_risk(risk.tier_at(loaded[pid][1], where.as_of, settings))
        ),
    )
    return Found(target, {pid: loaded[pid] for pid in contacted}, head)


def entries(found: Found, where: Scope) -> list[PrioritizedPatient]:
    """The target's patients in full, in the target's order, each marked contacted or not."""
    done = [service.entry(*found.contacted[pid], where) for pid in found.target.contacted]
    head = {e.id: e for e in service.page_entries(found.head)} if found.head else {}
    return [e.model_copy(update={"contacted_this_week": True}) for e in done] + [
        head[pid].model_copy(update={"contacted_this_week": False}) for pid in found.target.waiting
    ]


def shown(target: rules.WeekTarget) -> WeekTarget:
    return WeekTarget(
        target=target.size,
        patients=len(target.patients),
        contacted=len(target.contacted),
        waiting=len(target.waiting),
        week_start=target.first_day,
        backlog_beyond=target.backlog_beyond,
    )


def listed(
    session: Session,
    where: Scope,
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    action_priority: int | None = None,
) -> PrioritizedList:
    """The call list of this week's target: its patients (whatever they need now: a
    contacted patient stays), with the list's other filters, order and paging."""
    found = find(session, where)
    kept = sorted(
        (
            e
            for e in entries(found, where)
            if level_matches(risk_level, e.risk_level)
            and (action_required is None or action_required in e.action_required)
            and (action_priority is None or e.action_priority == action_priority)
        ),
        key=ENTRY_SORTS[sort_by],
    )
    at_risk: Counter[str] = Counter(e.risk_level for e in kept if risk.is_at_risk(e.risk_level))
    total_at_risk = sum(at_risk.values())
    summary = ListSummary(
        total=len(kept),
        total_at_risk=total_at_risk,
        immediate_action_required=sum(1 for e in kept if e.action_priority == 1),
        avg_days_since_contact=(
            round_one_decimal(Fraction(sum(e.days_since_last_contact for e in kept), len(kept)))
            if kept
            else None
        ),
        success_rate_prediction=(
            service.prediction(session, where, at_risk) if total_at_risk else None
        ),
    )
    return PrioritizedList(
        organization_id=where.org_id,
        last_updated=where.shown(),
        patients=kept[offset : offset + limit],
        summary=summary,
        limit=limit,
        offset=offset,
        week_target=shown(found.target),
    )
