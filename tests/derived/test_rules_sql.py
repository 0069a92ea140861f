"""Each rule the SQL needs is a table in ``reengage.domain``; its Python form and the SQL
built from it (``derived.risk_statement``, ``derived.row_counts``) are held equal here, row
by row, on the real database: the score's terms, the tiers' bounds, each action's next date,
the list's orders and the funnel's steps.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Integer, literal, select, union_all

from reengage.db.types import UTCDateTime
from reengage.derived import risk_statement, row_counts
from reengage.derived.risk_statement import RULES
from reengage.domain import performance, risk
from reengage.domain.settings import OrgSettings, TierThresholds
from reengage.domain.standing import SORT_KEYS, SORTS, Standing
from reengage.models import AttemptOutcome
from tests.domain.builders import AS_OF, TODAY, ago, followup, patient, sms

EXAMPLES = settings(max_examples=40, deadline=None)


def evaluate(engine: Engine, expression: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(expression)).scalar_one()


def score_sql(inputs: dict[str, int]) -> Any:
    return risk_statement.score_sql({name: literal(v) for name, v in inputs.items()})


def test_every_score_term_counts_as_in_python(engine: Engine) -> None:
    """Each term alone, at and past its cap, then all at once past the score's cap."""
    zero = {name: 0 for name, _, _ in risk.SCORE_TERMS}
    for name, weight, cap in risk.SCORE_TERMS:
        for units in sorted({1, cap or 1, (cap or 1) + 1} if cap else {1}):
            inputs = zero | {name: units}
            found = evaluate(
                engine, risk_statement.score_sql({k: literal(v) for k, v in inputs.items()})
            )
            assert found == risk.score_of(inputs) == weight * min(units, cap or units)
    most = {name: (cap or 1) * 3 for name, _, cap in risk.SCORE_TERMS}
    found = evaluate(engine, score_sql(most))
    assert found == risk.score_of(most) == risk.SCORE_MAX


@EXAMPLES
@given(
    days=st.integers(0, 120),
    flags=st.tuples(*(st.integers(0, 1) for _ in range(3))),
    missed=st.integers(0, 3),
)
def test_the_score_matches_for_any_inputs(
    engine: Engine, days: int, flags: tuple[int, int, int], missed: int
) -> None:
    inputs = {"days": days, "no_future": flags[0], "missed_90": missed}
    inputs |= {"failed": flags[1], "overdue": flags[2]}
    found = evaluate(engine, score_sql(inputs))
    assert found == risk.score_of(inputs)


@EXAMPLES
@given(bounds=st.lists(st.integers(1, 200), min_size=4, max_size=4, unique=True).map(sorted))
def test_every_tier_bound_matches(engine: Engine, bounds: list[int]) -> None:
    """Around every threshold (a day before, on it, a day after), for any thresholds."""
    low, medium, high, critical = bounds
    t = TierThresholds(low=low, medium=medium, high=high, critical=critical)
    today = TODAY.toordinal()
    for tier in risk.THRESHOLD_TIERS:
        for days in (risk.threshold(tier, t) + d for d in (-1, 0, 1)):
            code = evaluate(engine, risk_statement.tier_sql(literal(today - days), today, t, ()))
            assert risk.TIERS[code] == risk.tier_for_days(days, t)
    assert risk.tier_for_days(0, t) == "engaged"


def test_every_action_dates_its_next_step_as_in_python(engine: Engine) -> None:
    """Each action of the table, for a patient with an attempt today (the check-in's
    cooldown runs from it) and a last contact 3 days ago; without, and with, an open
    follow-up due 2 days ago (its day comes first)."""
    assert set(risk.NEXT_ACTION_FROM) == {action for _, action in RULES}
    defaults = OrgSettings()
    last_contact_day = TODAY - timedelta(days=3)
    day_of = {
        "today": TODAY,
        "checkin": TODAY + timedelta(days=risk.CHECKIN_COOLDOWN_DAYS),
        "medium_tier": last_contact_day + timedelta(days=defaults.tier_thresholds.medium),
    }
    bases = {basis: literal(day.toordinal()) for basis, day in day_of.items()}
    for due in (None, ago(2, 9)):
        history = patient(sms(ago(0, 9)), *([followup(due)] if due is not None else []))
        due_day = literal(due.date().toordinal() if due is not None else None, Integer())
        for code, (_, action) in enumerate(RULES):
            expected = risk.next_action_date(action, history, AS_OF, last_contact_day, defaults)
            found = evaluate(engine, risk_statement.next_day_sql(literal(code), bases, due_day))
            assert (date.fromordinal(found) if found is not None else None) == expected, action


def test_every_order_of_the_list_sorts_as_in_python(engine: Engine) -> None:
    rows = [
        ("p3", 40, 9, date(2024, 7, 2).toordinal()),
        ("p1", 40, 12, date(2024, 7, 1).toordinal()),
        ("p2", 75, 9, date(2024, 7, 1).toordinal()),
        ("p4", 10, 30, date(2024, 6, 30).toordinal()),
    ]
    names = ("patient_id", "score", "days", "next_day")
    table = union_all(
        *(select(*(literal(v).label(n) for n, v in zip(names, row, strict=True))) for row in rows)
    ).subquery("standings")
    standings = [
        Standing(pid, "medium", (), 3, "automated_checkin", score, days, date.fromordinal(nd))
        for pid, score, days, nd in rows
    ]
    for sort_by in SORTS:
        sub = select(table).subquery()
        with engine.connect() as conn:
            found = list(
                conn.scalars(
                    select(sub.c.patient_id).order_by(*risk_statement.sort_sql(sub, sort_by))
                )
            )
        assert found == [s.patient_id for s in sorted(standings, key=SORT_KEYS[sort_by])], sort_by


INSTANT = st.one_of(st.none(), st.integers(-3, 3).map(lambda h: AS_OF + timedelta(hours=h)))


@EXAMPLES
@given(instants=st.fixed_dictionaries({name: INSTANT for name in row_counts.INSTANTS}))
def test_every_funnel_step_is_reached_as_in_python(
    engine: Engine, instants: dict[str, datetime | None]
) -> None:
    python = performance.funnel_of(instants, AS_OF)
    conditions = row_counts.funnel_sql(
        {name: literal(at, UTCDateTime()) for name, at in instants.items()}, AS_OF
    )
    for step, condition in conditions.items():
        assert bool(evaluate(engine, condition)) == bool(getattr(python, step)), step


def test_the_funnel_table_names_every_step_and_only_instants_the_rows_keep() -> None:
    assert list(performance.FUNNEL_STEPS) == list(performance.Funnel.__dataclass_fields__)
    kept = set(AttemptOutcome.__table__.c.keys())
    assert set(row_counts.INSTANTS) <= kept
