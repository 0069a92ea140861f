"""Outreach funnels, daily movement and tier counts counted over the settled patients'
derived rows (``freshness``, rows that count days): what performance, trends and the
overview read when the roll-ups do not answer, and the overview's success rate always. Each
query reads one table: ``attempt_outcomes`` and ``risk_spans`` carry copies of their
patient's ``horizon_at`` and ``settings_key``. The service adds the unsettled patients from
their histories.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true

from reengage.derived.freshness import Freshness
from reengage.domain.performance import FUNNEL_STEPS, Funnel, OutreachCounts
from reengage.domain.prediction import qualifying_days
from reengage.models import AttemptOutcome, RiskSpan


def funnels(fresh: Freshness, first_day: date, last_day: date) -> OutreachCounts:
    """Per channel, as of as_of, the attempts sent from ``first_day`` to ``last_day``."""
    o: Any = AttemptOutcome.__table__
    as_of = fresh.scope.as_of

    reached = funnel_sql({name: o.c[name] for name in INSTANTS}, as_of)
    stmt = (
        select(
            o.c.channel,
            *(func.sum(case((condition, 1), else_=0)) for condition in reached.values()),
        )
        .where(
            o.c.org_id == fresh.scope.org_id,
            o.c.sent_day >= first_day.toordinal(),
            o.c.sent_day <= last_day.toordinal(),
            o.c.sent_at <= as_of,
            *fresh.settled(o, "days"),
        )
        .group_by(o.c.channel)
    )
    counts = OutreachCounts()
    for channel, *values in fresh.session.execute(stmt):
        counts.channels[channel] += Funnel(
            **{step: int(n or 0) for step, n in zip(reached, values, strict=True)}
        )
    return counts


# Every instant a funnel step may need (``performance.FUNNEL_STEPS``).
INSTANTS = tuple(dict.fromkeys(name for names in FUNNEL_STEPS.values() for name in names))


def funnel_sql(instants: Mapping[str, Any], as_of: datetime) -> dict[str, Any]:
    """``performance.funnel_of`` in SQL: per step, the condition that the attempt reached
    it by as_of, over SQL values of its instants."""
    return {
        step: or_(*(instants[name] <= as_of for name in names)) if names else true()
        for step, names in FUNNEL_STEPS.items()
    }


def daily(fresh: Freshness, first_day: date, last_day: date) -> dict[date, dict[str, int]]:
    """Per day: spells begun, spells ended with a contact, attempts sent, bookings that
    converted a contact; only days with something to count."""
    out: dict[date, dict[str, int]] = {}
    first, last = first_day.toordinal(), last_day.toordinal()
    r: Any = RiskSpan.__table__
    o: Any = AttemptOutcome.__table__
    queries = {
        "new_at_risk": select(r.c.first_day, func.count())
        .where(
            r.c.org_id == fresh.scope.org_id,
            r.c.first_day == r.c.spell_first_day,
            r.c.first_day.between(first, last),
            *fresh.settled(r, "days"),
        )
        .group_by(r.c.first_day),
        "reengaged_successfully": select(r.c.end_day, func.count())
        .where(
            r.c.org_id == fresh.scope.org_id,
            r.c.end_day == r.c.spell_end_day,
            r.c.reengaged == 1,
            r.c.end_day.between(first, last),
            *fresh.settled(r, "days"),
        )
        .group_by(r.c.end_day),
        "outreach_attempts": select(o.c.sent_day, func.count())
        .where(
            o.c.org_id == fresh.scope.org_id,
            o.c.sent_day.between(first, last),
            o.c.sent_at <= fresh.scope.as_of,
            *fresh.settled(o, "days"),
        )
        .group_by(o.c.sent_day),
        "appointments_scheduled": select(o.c.converted_day, func.count())
        .where(
            o.c.org_id == fresh.scope.org_id,
            o.c.converted_day.between(first, last),
            o.c.converted_at <= fresh.scope.as_of,
            *fresh.settled(o, "days"),
        )
        .group_by(o.c.converted_day),
    }
    for name, stmt in queries.items():
        for day, count in fresh.session.execute(stmt):
            out.setdefault(date.fromordinal(int(day)), {})[name] = int(count)
    return out


def reengagement_days(fresh: Freshness, first_day: date, last_day: date) -> tuple[int, int]:
    """(sum, count) of days from first attempt to reengagement, over spells that ended in
    reengagement between the two days and had an attempt."""
    r: Any = RiskSpan.__table__
    stmt = select(func.sum(r.c.spell_end_day - r.c.first_attempt_day), func.count()).where(
        r.c.org_id == fresh.scope.org_id,
        r.c.end_day == r.c.spell_end_day,
        r.c.reengaged == 1,
        r.c.first_attempt_day.is_not(None),
        r.c.spell_end_day.between(first_day.toordinal(), last_day.toordinal()),
        *fresh.settled(r, "days"),
    )
    total, count = fresh.session.execute(stmt).one()
    return int(total or 0), int(count)


def first_outreach_waits(fresh: Freshness, first_day: date, last_day: date) -> list[int]:
    """Over the settled patients' at-risk spells whose first outreach attempt was sent from
    ``first_day`` to ``last_day``: the days from the spell's first day to that attempt
    (``domain.kpis.first_outreach_waits``)."""
    r: Any = RiskSpan.__table__
    stmt = select(r.c.first_attempt_day - r.c.spell_first_day).where(
        r.c.org_id == fresh.scope.org_id,
        r.c.first_day == r.c.spell_first_day,  # one row per spell
        r.c.first_attempt_day.between(first_day.toordinal(), last_day.toordinal()),
        *fresh.settled(r, "days"),
    )
    return sorted(int(n) for n in fresh.session.scalars(stmt))


def tiers_at_day_end(fresh: Freshness, day: date) -> dict[str, int]:
    """At-risk patients per tier at the end of ``day``, a day up to as_of's date: on
    as_of's own day, that is also the count at as_of (the settled rows have nothing after
    as_of and no visit later that day)."""
    r: Any = RiskSpan.__table__
    d = day.toordinal()
    stmt = (
        select(r.c.tier, func.count())
        .where(
            r.c.org_id == fresh.scope.org_id,
            r.c.first_day <= d,
            or_(r.c.end_day.is_(None), r.c.end_day > d),
            *fresh.settled(r, "days"),
        )
        .group_by(r.c.tier)
    )
    return {tier: int(n) for tier, n in fresh.session.execute(stmt)}


def reengagement(fresh: Freshness, first_day: date, last_day: date) -> tuple[int, int]:
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
            r.c.org_id == fresh.scope.org_id,
            r.c.first_day == r.c.spell_first_day,  # one row per spell
            o.c.sent_day.between(first, last),
            o.c.sent_at <= fresh.scope.as_of,
            *fresh.settled(r, "days"),
        )
    )
    reached, reengaged = fresh.session.execute(stmt).one()
    return int(reached), int(reengaged)


def prediction(fresh: Freshness) -> dict[str, tuple[int, int]]:
    """Per at-risk tier, (qualifying attempts, those followed by a contact), over the
    settled patients (the others are counted from their histories)."""
    a: Any = AttemptOutcome.__table__
    first_day, last_day = qualifying_days(fresh.scope.as_of, fresh.scope.settings)
    stmt = (
        select(a.c.tier_before, func.count(), func.sum(a.c.contacted))
        .where(
            a.c.org_id == fresh.scope.org_id,
            a.c.sent_day >= first_day.toordinal(),
            a.c.sent_day <= last_day.toordinal(),
            a.c.tier_before.is_not(None),
            *fresh.settled(a, "instants"),
        )
        .group_by(a.c.tier_before)
    )
    return {tier: (int(n), int(k or 0)) for tier, n, k in fresh.session.execute(stmt)}
