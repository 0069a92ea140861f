"""Where a patient stands, and counts over many standings: what the risk metrics, the
prioritized list and the dashboard's cards are made of, however they were found (from the
derived rows, the stored standings or a full history)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from reengage.domain import risk


@dataclass(frozen=True)
class Standing:
    """Where one patient stands as of as_of: everything the list filters and sorts by."""

    patient_id: str
    tier: str
    flags: tuple[str, ...]
    action_priority: int
    recommended_action: str
    risk_score: int
    days_since_last_contact: int
    next_action_date: date | None
    attempted_last_7_days: bool = False

    @property
    def at_risk(self) -> bool:
        return risk.is_at_risk(self.tier)

    @staticmethod
    def of(assessment: risk.Assessment) -> Standing:
        return Standing(
            patient_id=assessment.patient_id,
            tier=assessment.tier,
            flags=assessment.flags,
            action_priority=assessment.action_priority,
            recommended_action=assessment.recommended_action,
            risk_score=assessment.risk_score,
            days_since_last_contact=assessment.days_since_last_contact,
            next_action_date=assessment.next_action_date,
            attempted_last_7_days=assessment.attempted_last_7_days,
        )


@dataclass(frozen=True)
class Tally:
    """Counts over a set of standings: per tier, per flag, of priority 1, the days sum, and
    the weekly target (at risk, no outreach attempt in the last 7 days)."""

    tiers: dict[str, int]
    flags: dict[str, int]
    priority_one: int
    total: int
    days_sum: int
    weekly_target: int = 0

    @staticmethod
    def of(items: list[Standing]) -> Tally:
        tiers = dict.fromkeys(risk.TIERS, 0)
        flags = dict.fromkeys(risk.FLAGS, 0)
        for item in items:
            tiers[item.tier] += 1
            for flag in item.flags:
                flags[flag] += 1
        return Tally(
            tiers=tiers,
            flags=flags,
            priority_one=sum(1 for i in items if i.action_priority == 1),
            total=len(items),
            days_sum=sum(i.days_since_last_contact for i in items),
            weekly_target=sum(1 for i in items if i.at_risk and not i.attempted_last_7_days),
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            tiers={t: self.tiers[t] + other.tiers[t] for t in risk.TIERS},
            flags={f: self.flags[f] + other.flags[f] for f in risk.FLAGS},
            priority_one=self.priority_one + other.priority_one,
            total=self.total + other.total,
            days_sum=self.days_sum + other.days_sum,
            weekly_target=self.weekly_target + other.weekly_target,
        )


# The list's orders: (the ``Standing`` field, highest first); ties by patient id. The SQL
# builds from it.
SORTS: dict[str, tuple[str, bool]] = {
    "risk_score": ("risk_score", True),
    "days_since_contact": ("days_since_last_contact", True),
    "next_action_date": ("next_action_date", False),
}


def sort_key(sort_by: str) -> Callable[[Standing], Any]:
    """The Python key of ``SORTS[sort_by]`` (highest first only for numbers)."""
    field, descending = SORTS[sort_by]

    def key(s: Standing) -> tuple[Any, str]:
        value = getattr(s, field)
        return (-value if descending else value), s.patient_id

    return key


SORT_KEYS: dict[str, Callable[[Standing], Any]] = {name: sort_key(name) for name in SORTS}


AT_RISK_LEVEL = "at_risk"  # the list's risk_level for medium, high and critical at once


def level_matches(risk_level: str, tier: str) -> bool:
    """Whether a patient in ``tier`` passes the list's ``risk_level`` filter."""
    if risk_level == AT_RISK_LEVEL:
        return risk.is_at_risk(tier)
    return risk_level == "all" or tier == risk_level


def listed(
    population: Iterable[Standing],
    risk_level: str,
    action_required: str | None,
    sort_by: str,
    action_priority: int | None = None,
) -> list[Standing]:
    """The prioritized list from standings: an action to take, the filters, the order."""
    found = [
        s
        for s in population
        if s.recommended_action != "none"
        and level_matches(risk_level, s.tier)
        and (action_required is None or action_required in s.flags)
        and (action_priority is None or s.action_priority == action_priority)
    ]
    return sorted(found, key=SORT_KEYS[sort_by])
