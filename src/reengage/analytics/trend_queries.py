"""Outreach funnels, daily movement and tier counts from the derived rows: the fast path of
performance and trends. Each query reads one table: ``attempt_outcomes`` and ``risk_spans``
carry copies of their patient's ``horizon_at`` and ``settings_key``.

Rows are used for the patients they answer for exactly ("settled" at as_of): fresh rows
(computed under the org's current settings) and, unless as_of is the last instant of its
day, no record dated after as_of and no visit starting between as_of and the day's end
(their day-end state could differ from the state at as_of). The service computes the other
patients from their histories and adds them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

from reengage.domain.calendar import end_of_day, local_date
from reengage.domain.performance import Funnel, OutreachCounts
from reengage.domain.settings import OrgSettings
from reengage.models import (
    Appointment,
    AttemptOutcome,
    Patient,
    PatientState,
    RiskSpan,
)


@dataclass(frozen=True)
class Frame:
    """Which org, under which settings, as of when; whether as_of ends its day; and who has
    a visit starting between as_of and the day's end (few: one day's remaining visits)."""

    org_id: str
    settings: OrgSettings
    as_of: datetime
    visiting_ids: tuple[str, ...] = ()

    @property
    def today(self) -> date:
        return local_date(self.as_of, self.settings.zone())

    @property
    def day_end(self) -> datetime:
        return end_of_day(self.today, self.settings.zone())

    @property
    def ends_its_day(self) -> bool:
        return self.as_of >= self.day_end


def frame_for(session: Session, org_id: str, settings: OrgSettings, as_of: datetime) -> Frame:
    frame = Frame(org_id, settings, as_of)
    if frame.ends_its_day:
        return frame
    a: Any = Appointment.__table__
    stmt = (
        select(a.c.patient_id)
        .where(
            a.c.org_id == org_id,
            a.c.status != "cancelled",
            a.c.starts_at > as_of,
            a.c.starts_at <= frame.day_end,
        )
        .distinct()
    )
    return Frame(org_id, settings, as_of, tuple(sorted(session.scalars(stmt))))


def _settled(frame: Frame, s: Any) -> Any:
    """SQL over rows carrying a patient's ``settings_key`` and ``horizon_at`` (patient_state,
    and the copies in attempt_outcomes and risk_spans): the patient's derived rows answer
    exactly at as_of (see the module docstring)."""
    fresh = s.c.settings_key == frame.settings.derivation_key()
    if frame.ends_its_day:
        return fresh
    return and_(fresh, s.c.horizon_at <= frame.as_of, s.c.patient_id.not_in(frame.visiting_ids))


def unsettled_patient_ids(session: Session, frame: Frame) -> list[str]:
    """Patients of any status whose figures must come from their histories."""
    p: Any = Patient.__table__
    s: Any = PatientState.__table__
    stmt = (
        select(p.c.id)
        .select_from(p.outerjoin(s, and_(s.c.org_id == p.c.org_id, s.c.patient_id == p.c.id)))
        .where(p.c.org_id == frame.org_id, or_(s.c.patient_id.is_(None), not_(_settled(frame, s))))
        .order_by(p.c.id)
    )
    return list(session.scalars(stmt))


def funnels(session: Session, frame: Frame, first_day: date, last_day: date) -> OutreachCounts:
    """Per channel, as of as_of, the attempts sent from ``first_day`` to ``last_day``."""
    o: Any = AttemptOutcome.__table__
    as_of = frame.as_of

    def by(*columns: Any) -> Any:
        return func.sum(case((or_(*(col <= as_of for col in columns)), 1), else_=0))

    stmt = (
        select(
            o.c.channel,
            func.count(),
            by(o.c.delivered_at, o.c.responded_at),
            by(o.c.opened_at, o.c.responded_at),
            by(o.c.responded_at),
            by(o.c.connected_at),
            by(o.c.converted_at),
        )
        .where(
            o.c.org_id == frame.org_id,
            o.c.sent_day >= first_day.toordinal(),
            o.c.sent_day <= last_day.toordinal(),
            o.c.sent_at <= as_of,
            _settled(frame, o),
        )
        .group_by(o.c.channel)
    )
    counts = OutreachCounts()
    for channel, sent, delivered, opened, responded, connected, converted in session.execute(stmt):
        counts.channels[channel] += Funnel(
            sent=int(sent),
            delivered=int(delivered or 0),
            opened=int(opened or 0),
            responded=int(responded or 0),
            connected=int(connected or 0),
            converted=int(converted or 0),
        )
    return counts


def daily(
    session: Session, frame: Frame, first_day: date, last_day: date
) -> dict[date, dict[str, int]]:
    """Per day: spells begun, spells ended with a contact, attempts sent, bookings that
    converted a contact; only days with something to count."""
    out: dict[date, dict[str, int]] = {}
    first, last = first_day.toordinal(), last_day.toordinal()
    r: Any = RiskSpan.__table__
    o: Any = AttemptOutcome.__table__
    queries = {
        "new_at_risk": select(r.c.first_day, func.count())
        .where(
            r.c.org_id == frame.org_id,
            r.c.first_day == r.c.spell_first_day,
            r.c.first_day.between(first, last),
            _settled(frame, r),
        )
        .group_by(r.c.first_day),
        "reengaged_successfully": select(r.c.end_day, func.count())
        .where(
            r.c.org_id == frame.org_id,
            r.c.end_day == r.c.spell_end_day,
            r.c.reengaged == 1,
            r.c.end_day.between(first, last),
            _settled(frame, r),
        )
        .group_by(r.c.end_day),
        "outreach_attempts": select(o.c.sent_day, func.count())
        .where(
            o.c.org_id == frame.org_id,
            o.c.sent_day.between(first, last),
            o.c.sent_at <= frame.as_of,
            _settled(frame, o),
        )
        .group_by(o.c.sent_day),
        "appointments_scheduled": select(o.c.converted_day, func.count())
        .where(
            o.c.org_id == frame.org_id,
            o.c.converted_day.between(first, last),
            o.c.converted_at <= frame.as_of,
            _settled(frame, o),
        )
        .group_by(o.c.converted_day),
    }
    for name, stmt in queries.items():
        for day, count in session.execute(stmt):
            out.setdefault(date.fromordinal(int(day)), {})[name] = int(count)
    return out


def reengagement_days(
    session: Session, frame: Frame, first_day: date, last_day: date
) -> tuple[int, int]:
    """(sum, count) of days from first attempt to reengagement, over spells that ended in
    reengagement between the two days and had an attempt."""
    r: Any = RiskSpan.__table__
    stmt = select(func.sum(r.c.spell_end_day - r.c.first_attempt_day), func.count()).where(
        r.c.org_id == frame.org_id,
        r.c.end_day == r.c.spell_end_day,
        r.c.reengaged == 1,
        r.c.first_attempt_day.is_not(None),
        r.c.spell_end_day.between(first_day.toordinal(), last_day.toordinal()),
        _settled(frame, r),
    )
    total, count = session.execute(stmt).one()
    return int(total or 0), int(count)


def tiers_at_day_end(session: Session, frame: Frame, day: date) -> dict[str, int]:
    """At-risk patients per tier at the end of ``day``, a day up to as_of's date: on
    as_of's own day, that is also the count at as_of (the settled rows have nothing after
    as_of and no visit later that day)."""
    r: Any = RiskSpan.__table__
    d = day.toordinal()
    stmt = (
        select(r.c.tier, func.count())
        .where(
            r.c.org_id == frame.org_id,
            r.c.first_day <= d,
            or_(r.c.end_day.is_(None), r.c.end_day > d),
            _settled(frame, r),
        )
        .group_by(r.c.tier)
    )
    return {tier: int(n) for tier, n in session.execute(stmt)}


def reengagement(
    session: Session, frame: Frame, first_day: date, last_day: date
) -> tuple[int, int]:
    """(reached, reengaged): patients with an outreach attempt sent from ``first_day`` to
    ``last_day`` on a day of an at-risk spell (its first day to its end day), and those of
    them with such a spell ended in reengagement by ``last_day``. See
    ``reengage.domain.overview``."""
    r: Any = RiskSpan.__table__
    o: Any = AttemptOutcome.__table__
    first, last = first_day.toordinal(), last_day.toordinal()
    spell_end = func.coalesce(r.c.spell_end_day, last)
    ended = and_(r.c.reengaged == 1, r.c.spell_end_day <= last)
    stmt = (
        select(
            func.count(r.c.patient_id.distinct()),
            func.count(case((ended, r.c.patient_id), else_=None).distinct()),
        )
        .select_from(
            r.join(
                o,
                and_(
                    o.c.org_id == r.c.org_id,
                    o.c.patient_id == r.c.patient_id,
                    # first_day is the spell's own (below): written so, the planner looks
                    # spells up by risk_spans' key from the window's attempts, instead of
                    # pairing every spell with every attempt of the window (16 s on SQLite
                    # at 10,000 patients).
                    r.c.first_day <= o.c.sent_day,
                    o.c.sent_day <= spell_end,
                ),
            )
        )
        .where(
            r.c.org_id == frame.org_id,
            r.c.first_day == r.c.spell_first_day,  # one row per spell
            o.c.sent_day.between(first, last),
            o.c.sent_at <= frame.as_of,
            _settled(frame, r),
        )
    )
    reached, reengaged = session.execute(stmt).one()
    return int(reached), int(reengaged)
