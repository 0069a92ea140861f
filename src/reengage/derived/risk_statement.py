"""The risk rules as one SQL statement over ``patient_state``: every settled patient's
standing (``freshness``); the service reads the others from their histories.

The expressions mirror ``reengage.domain.risk`` rule for rule, and the action table is read
from there; ``tests/derived/test_risk_fast_path.py`` checks the two agree over random histories.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import reduce
from typing import Any

from sqlalchemy import and_, case, func, literal, null, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from reengage.db.types import UTCDateTime
from reengage.derived.freshness import Freshness
from reengage.domain import risk
from reengage.domain.calendar import next_day_start
from reengage.domain.scope import Scope
from reengage.domain.settings import TierThresholds
from reengage.domain.standing import AT_RISK_LEVEL, SORTS, Standing, Tally
from reengage.models import PatientState


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# The statement computes integer codes, not names: a tier is its index in ``risk.TIERS`` and
# the action its rule's index in ``RULES`` (the last one: no action). Integers compare and
# aggregate faster than text, and each rule's outcome is one column instead of two.
TIER_CODES = {tier: code for code, tier in enumerate(risk.TIERS)}
RULES: tuple[tuple[int, str], ...] = (
    *((priority, action) for priority, action, _ in risk.ACTION_RULES),
    risk.NO_ACTION,
)
NO_ACTION_RULE = len(RULES) - 1


def _rules_where(test: Callable[[int, str], bool]) -> list[int]:
    """The rule codes whose (priority, action) pass ``test``."""
    return [code for code, (priority, action) in enumerate(RULES) if test(priority, action)]


def tier_sql(contact_day: Any, today: int, thresholds: TierThresholds, booked: Any) -> Any:
    """``risk.tier_for_days`` (and, ``booked``, the conditions that make a patient engaged
    first) over the day of the last contact: a ``TIER_CODES`` code."""
    return case(
        *((condition, TIER_CODES["engaged"]) for condition in booked),
        *(
            (contact_day <= today - risk.threshold(tier, thresholds), TIER_CODES[tier])
            for tier in risk.THRESHOLD_TIERS
        ),
        else_=TIER_CODES["engaged"],
    )


def score_sql(inputs: Mapping[str, Any]) -> Any:
    """``risk.score_of`` over SQL values of ``risk.SCORE_TERMS``' inputs."""

    def term(name: str, weight: int, cap: int | None) -> Any:
        value = inputs[name] if cap is None else case((inputs[name] > cap, cap), else_=inputs[name])
        return value if weight == 1 else weight * value

    points = reduce(operator.add, (term(*t) for t in risk.SCORE_TERMS))
    return case((points > risk.SCORE_MAX, risk.SCORE_MAX), else_=points)


def next_day_sql(rule: Any, bases: Mapping[str, Any], followup_due_day: Any) -> Any:
    """``risk.next_action_date`` over a ``RULES`` code: the day ordinal each action's basis
    gives (``bases``, by ``risk.NEXT_ACTION_FROM``'s names), or the open follow-up's due day
    when earlier; NULL for no action."""

    def earlier_due(day: Any) -> Any:
        return case((followup_due_day < day, followup_due_day), else_=day)

    codes: dict[str, list[int]] = {}
    for code, (_, action) in enumerate(RULES):
        basis = risk.NEXT_ACTION_FROM[action]
        if basis is not None:
            codes.setdefault(basis, []).append(code)
    return case(
        *((rule.in_(found), earlier_due(bases[basis])) for basis, found in codes.items()),
        else_=null(),
    )


def _level_fence(session: Session) -> int | None:
    """``OFFSET 0`` where it keeps a level computed once (SQLite); none on PostgreSQL."""
    return None if session.get_bind().dialect.name == "postgresql" else 0


def standings_subquery(
    session: Session,
    scope: Scope,
    settled: Sequence[Any] | Callable[[Any], list[Any]],
    patient_ids: Sequence[str] | None = None,
    with_until: bool = False,
) -> Any:
    """One row per population patient whose derived state is valid at as_of: patient_id,
    tier (a ``TIER_CODES`` code), the four flags (0/1, ``future`` is 1 when booked), rule (a
    ``RULES`` code: priority and action), score, days, next_day (a day ordinal), week.

    ``settled``: which rows answer (``Freshness.settled`` over ``patient_state``; nothing to
    filter when the org's status vouches for every row). ``patient_ids``: only these
    patients. ``with_until``: also ``until_at``, the first
    instant after as_of at which the row may read otherwise: as_of's day ends, the last
    booked visit starts (``future`` turns 0), or the open follow-up falls due (from the
    instant after it, ``overdue`` is 1; the row is recomputed at that instant, harmlessly).

    Three levels, each value computed once in the level below its readers: inlined, the
    tier would be evaluated in every rule and the rule in every date (the statement was
    tens of kilobytes). On SQLite, OFFSET 0 keeps the planner from flattening the levels
    back into one. PostgreSQL may flatten them: a subquery with OFFSET cannot run in
    parallel workers, and two workers scanning and counting halves of the org beat
    evaluating each rule once (a third less time at 100,000 patients and at 1,000,000).
    A condition on a NULL column is not true, so no rule needs an explicit IS NOT NULL.
    """
    level = _level_fence(session)
    s: Any = PatientState.__table__
    org_id, as_of, settings = scope.org_id, scope.as_of, scope.settings
    today = scope.today.toordinal()
    t = settings.tier_thresholds
    window = today - (risk.ALERT_WINDOW_DAYS - 1)
    booked = (s.c.future_until > as_of,) if settings.booked_patients_are_engaged else ()
    tier = tier_sql(s.c.contact_day, today, t, booked)
    score_window = today - (risk.MISSED_SCORE_WINDOW_DAYS - 1)
    cooldown = risk.CHECKIN_COOLDOWN_DAYS
    checkin_since = today - (cooldown - 1)
    extra: list[Any] = []
    if with_until:
        day_end = literal(next_day_start(as_of, settings.zone()), UTCDateTime())
        booked_until = case(
            (and_(s.c.future_until > as_of, s.c.future_until < day_end), s.c.future_until),
            else_=day_end,
        )
        extra.append(
            case(
                (
                    and_(s.c.followup_due_at >= as_of, s.c.followup_due_at < booked_until),
                    s.c.followup_due_at,
                ),
                else_=booked_until,
            ).label("until_at")
        )
    inner = (
        select(
            s.c.patient_id,
            (literal(today) - s.c.contact_day).label("days"),
            tier.label("tier"),
            _flag(s.c.future_until > as_of).label("future"),
            _flag(
                and_(
                    or_(s.c.future_until.is_(None), s.c.future_until <= as_of),
                    s.c.missed_day_1 >= window,
                )
            ).label("missed"),
            _flag(
                and_(
                    s.c.failed_day >= window,
                    or_(s.c.last_contact_at.is_(None), s.c.last_contact_at < s.c.failed_sent_at),
                )
            ).label("failed"),
            _flag(s.c.followup_due_at < as_of).label("overdue"),
            sum(
                (_flag(s.c[f"missed_day_{i}"] >= score_window) for i in (1, 2, 3)),
                start=literal(0),
            ).label("missed_90"),
            case(
                (s.c.last_attempt_day >= checkin_since, s.c.last_attempt_day + cooldown),
                else_=literal(today),
            ).label("checkin_day"),
            _flag(s.c.last_attempt_day >= today - (risk.WEEK_DAYS - 1)).label("week"),
            (s.c.contact_day + risk.threshold("medium", t)).label("medium_day"),
            s.c.followup_due_day,
            *extra,
        )
        .where(
            s.c.org_id == org_id,
            s.c.status == "active",
            *([s.c.patient_id.in_(patient_ids)] if patient_ids is not None else ()),
            *(settled(s) if callable(settled) else settled),
        )
        .offset(level)
        .subquery()
    )
    c = inner.c
    holds = {
        risk.MISSED_APPT: c.missed == 1,
        risk.FAILED_CONTACT: c.failed == 1,
        risk.OVERDUE_FOLLOWUP: c.overdue == 1,
        risk.NO_FUTURE_APPT: c.future == 0,
        **{name: c.tier == code for name, code in TIER_CODES.items()},
    }
    rule = case(
        *((holds[condition], code) for code, (_, _, condition) in enumerate(risk.ACTION_RULES)),
        else_=NO_ACTION_RULE,
    )
    score = score_sql(
        {
            "days": c.days,
            "no_future": 1 - c.future,
            "missed_90": c.missed_90,
            "failed": c.failed,
            "overdue": c.overdue,
        }
    )
    ruled = select(*c, rule.label("rule"), score.label("score")).offset(level).subquery()
    c = ruled.c

    bases = {"today": literal(today), "checkin": c.checkin_day, "medium_tier": c.medium_day}
    next_day = next_day_sql(c.rule, bases, c.followup_due_day)
    return select(
        c.patient_id,
        c.tier,
        c.missed,
        c.failed,
        c.overdue,
        c.future,
        c.rule,
        c.score,
        c.days,
        next_day.label("next_day"),
        c.week,
        *([c.until_at] if with_until else ()),
    ).subquery()


FLAG_COLUMNS = {
    risk.MISSED_APPT: "missed",
    risk.FAILED_CONTACT: "failed",
    risk.OVERDUE_FOLLOWUP: "overdue",
}


def _has_flag(st: Any, flag: str) -> Any:
    if flag == risk.NO_FUTURE_APPT:
        return st.c.future == 0
    return st.c[FLAG_COLUMNS[flag]] == 1


# A standing's columns, in the order ``standing_of`` reads them.
STANDING_COLUMNS = (
    "patient_id",
    "tier",
    "missed",
    "failed",
    "overdue",
    "future",
    "rule",
    "score",
    "days",
    "next_day",
    "week",
)


def standing_of(values: Sequence[Any]) -> Standing:
    """A standing from the values of ``STANDING_COLUMNS``."""
    pid, tier_, m, f, o, fut, rule, sc, d, nd, wk = values
    flags = tuple(
        flag
        for flag, on in (
            (risk.MISSED_APPT, m),
            (risk.FAILED_CONTACT, f),
            (risk.OVERDUE_FOLLOWUP, o),
            (risk.NO_FUTURE_APPT, 1 - fut),
        )
        if on
    )
    priority, action = RULES[rule]
    return Standing(
        patient_id=pid,
        tier=risk.TIERS[tier_],
        flags=flags,
        action_priority=priority,
        recommended_action=action,
        risk_score=int(sc),
        days_since_last_contact=int(d),
        next_action_date=date.fromordinal(int(nd)) if nd is not None else None,
        attempted_last_7_days=bool(wk),
    )


def _settled_standings(fresh: Freshness) -> Any:
    return standings_subquery(
        fresh.session, fresh.scope, lambda rows: fresh.settled(rows, "instants")
    )


def standings(fresh: Freshness) -> list[Standing]:
    """Standings of the settled population patients."""
    session = fresh.session
    st = _settled_standings(fresh)
    stmt = select(*(st.c[name] for name in STANDING_COLUMNS))
    return [standing_of(row) for row in session.execute(stmt)]


def listed_filter(
    st: Any, risk_level: str | None, flag: str | None, priority: int | None = None
) -> list[Any]:
    """The prioritized list's membership: an action to take, and the filters
    (``standing.listed``'s)."""
    where: list[Any] = [st.c.rule != NO_ACTION_RULE]
    if risk_level == AT_RISK_LEVEL:
        where.append(st.c.tier.in_([TIER_CODES[t] for t in risk.AT_RISK_TIERS]))
    elif risk_level is not None:
        where.append(st.c.tier == TIER_CODES[risk_level])
    if flag is not None:
        where.append(_has_flag(st, flag))
    if priority is not None:
        where.append(st.c.rule.in_(_rules_where(lambda p, a: p == priority)))
    return where


def _tally_columns(st: Any) -> list[Any]:
    at_risk = [TIER_CODES[tier] for tier in risk.AT_RISK_TIERS]
    columns: list[Any] = [
        func.count(),
        func.count().filter(st.c.rule.in_(_rules_where(lambda p, a: p == 1))),
        func.sum(st.c.days),
        func.count().filter(and_(st.c.tier.in_(at_risk), st.c.week == 0)),
    ]
    columns += [func.count().filter(st.c.tier == TIER_CODES[tier]) for tier in risk.TIERS]
    columns += [func.count().filter(_has_flag(st, f)) for f in risk.FLAGS]
    return columns


# The counts ``_tally_columns`` computes, in order: all, priority 1, the days' sum, the
# weekly target, then per tier and per flag.
TALLY_WIDTH = 4 + len(risk.TIERS) + len(risk.FLAGS)


def tally_of(row: Sequence[Any]) -> Tally:
    """The counts from the first ``TALLY_WIDTH`` values of a row."""
    values = [int(v or 0) for v in row[:TALLY_WIDTH]]
    n_tiers = len(risk.TIERS)
    return Tally(
        tiers=dict(zip(risk.TIERS, values[4 : 4 + n_tiers], strict=True)),
        flags=dict(zip(risk.FLAGS, values[4 + n_tiers :], strict=True)),
        priority_one=values[1],
        total=values[0],
        days_sum=values[2],
        weekly_target=values[3],
    )


def tally_statement(st: Any, *checks: Any) -> Any:
    """Counts over the standings ``st`` (``tally_of`` reads them), then ``checks``."""
    return select(*_tally_columns(st), *checks)


def tally(fresh: Freshness) -> Tally:
    """Counts over the settled population in one aggregate query, without fetching a row
    per patient."""
    st = _settled_standings(fresh)
    return tally_of(fresh.session.execute(tally_statement(st)).one())


# The statement's column of each ``Standing`` field a sort reads.
SORT_COLUMNS = {
    "risk_score": "score",
    "days_since_last_contact": "days",
    "next_action_date": "next_day",
}


def sort_sql(st: Any, sort_by: str) -> tuple[Any, Any]:
    """``standing.SORTS[sort_by]`` over the statement's columns, ties by patient id."""
    field, descending = SORTS[sort_by]
    column = st.c[SORT_COLUMNS[field]]
    return (column.desc() if descending else column), st.c.patient_id


def listed_page(
    fresh: Freshness,
    risk_level: str | None,
    flag: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    priority: int | None = None,
) -> tuple[Tally, list[Standing]]:
    """The prioritized list's counts and one page's standings over the settled patients,
    filtered, sorted and paged in SQL: one statement, whose standings are computed once for
    both."""
    st = _settled_standings(fresh)
    listed = (
        select(*st.c)
        .where(*listed_filter(st, risk_level, flag, priority))
        .cte("listed")
        .prefix_with("MATERIALIZED")
    )
    rows = fresh.session.execute(page_statement(listed, sort_by, limit, offset)).all()
    return page_of(rows)


def page_statement(listed: Any, sort_by: str, limit: int, offset: int, *checks: Any) -> Any:
    """One page of ``listed`` (standings with the list's filters applied) and the counts
    over all of it, in one statement: a row per patient of the page (at least one row),
    each the patient's ``STANDING_COLUMNS``, the counts, then ``checks`` (scalar values the
    caller asks for in the same snapshot of the data)."""
    totals = select(*_tally_columns(listed), *checks).subquery("totals")
    page = (
        select(*(listed.c[name] for name in STANDING_COLUMNS))
        .order_by(*sort_sql(listed, sort_by))
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    return (
        select(*page.c, *totals.c)
        .select_from(totals.outerjoin(page, true()))
        .order_by(*sort_sql(page, sort_by))
    )


def page_of(rows: Sequence[Any]) -> tuple[Tally, list[Standing]]:
    """``page_statement``'s rows as the counts and the page's standings."""
    width = len(STANDING_COLUMNS)
    page = [standing_of(row[:width]) for row in rows if row[0] is not None]
    return tally_of(rows[0][width:]), page
