"""The dashboard's headline figures that the four analytics endpoints do not already give.

- **This week's target**: at-risk patients with no outreach attempt in the last 7 days
  (``risk.Assessment.attempted_last_7_days``): whom nobody has tried yet this week. It is
  counted with the risk tallies (``Tally.weekly_target``).
- **Reengagement success rate**: of the patients who got an outreach attempt in the last 30
  days while in an at-risk spell, the share whose spell has since ended in reengagement.
  "While in a spell" is the reading ``avg_days_to_reengage`` uses: sent on a day from the
  spell's first day to the day it ended, both included (the call that ended it counts).
  Ended "in reengagement" is what ``reengaged_successfully`` counts: a contact on the day
  the patient stopped being at risk (a discharge is not a success).
- **Trend**: that rate now against the same rate at the end of the day 30 days earlier (so
  the 30 days before), in percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal

from reengage.domain.calendar import local_date, window_first_day
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import rate, round_one_decimal
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import at_risk_spells

SUCCESS_WINDOW_DAYS = 30
Direction = Literal["up", "down", "flat"]


@dataclass(frozen=True)
class Reengagement:
    """Patients reached while at risk in the window, and those of them reengaged since."""

    reached: int = 0
    reengaged: int = 0

    def __add__(self, other: Reengagement) -> Reengagement:
        return Reengagement(self.reached + other.reached, self.reengaged + other.reengaged)

    @property
    def rate(self) -> float | None:
        return rate(self.reengaged, self.reached)


def reengagement(
    history: PatientHistory,
    as_of: datetime,
    settings: OrgSettings,
    days: int = SUCCESS_WINDOW_DAYS,
) -> Reengagement:
    """This patient's share of the success rate: (1, 1), (1, 0) or (0, 0)."""
    zone = settings.zone()
    first = window_first_day(as_of, zone, days)
    today = local_date(as_of, zone)
    sent = [
        day
        for day in (local_date(a.sent_at, zone) for a in history.attempts(as_of))
        if first <= day <= today
    ]
    reached = reengaged = False
    if not sent:
        return Reengagement()
    for spell in at_risk_spells(history, as_of, settings):
        last = spell.end_day or today
        if any(spell.first_day <= day <= last for day in sent):
            reached = True
            reengaged = reengaged or spell.reengaged
    return Reengagement(int(reached), int(reengaged))


def rate_change(current: float | None, previous: float | None) -> float | None:
    """Percentage points from the previous rate to the current one, as the two are shown
    (one decimal each), so the card's figures add up; None if either is missing."""
    if current is None or previous is None:
        return None
    return round_one_decimal(Fraction(str(current)) - Fraction(str(previous)))


def rate_direction(change: float | None) -> Direction | None:
    """``up``, ``down`` or ``flat``: which way the arrow points (None without a change)."""
    if change is None:
        return None
    if change > 0:
        return "up"
    if change < 0:
        return "down"
    return "flat"
