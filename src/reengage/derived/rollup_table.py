"""SQL of the daily roll-ups, and the stored rows they are moved by, always scoped by
``org_id``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reengage.db import bulk
from reengage.derived.histories import patient_selections
from reengage.models import AttemptOutcome, DailyRollup, PatientState, RiskSpan

Sums = Counter[tuple[int, str]]

OUTCOME_COLUMNS = (
    "patient_id",
    "sent_day",
    "channel",
    "delivered_at",
    "opened_at",
    "responded_at",
    "connected_at",
    "converted_at",
    "converted_day",
    "tier_before",
    "contacted",
)
SPAN_COLUMNS = (
    "patient_id",
    "first_day",
    "end_day",
    "tier",
    "spell_first_day",
    "spell_end_day",
    "reengaged",
    "first_attempt_day",
)


def lock_states(session: Session, org_id: str, ids: Sequence[str]) -> None:
    """Lock these patients' state rows until commit (PostgreSQL; SQLite has one writer), so
    that two writes to one patient read the rows they replace one after the other, and the
    roll-ups move by each difference once."""
    s: Any = PatientState.__table__
    for where in patient_selections(s.c.patient_id, ids, None):
        stmt = (
            select(s.c.patient_id)
            .where(s.c.org_id == org_id, *where)
            .order_by(s.c.patient_id)
            .with_for_update()
        )
        session.execute(stmt).all()


def clear(session: Session, org_id: str) -> None:
    """Forget the org's roll-ups (a rebuild writes them again)."""
    session.execute(delete(DailyRollup).where(DailyRollup.org_id == org_id))


def _rollup_rows(org_id: str, sums: Sums) -> list[dict[str, Any]]:
    """Non-zero amounts as ``daily_rollups`` rows, in key order."""
    return [
        {"org_id": org_id, "day": day, "measure": measure, "n": n}
        for (day, measure), n in sorted(sums.items())
        if n
    ]


def insert(session: Session, org_id: str, sums: Sums) -> None:
    """Write roll-ups into an org that has none (after ``clear``)."""
    rows = _rollup_rows(org_id, sums)
    bulk.writer(session.connection())(DailyRollup.__table__, rows)  # type: ignore[arg-type]


def add(session: Session, org_id: str, deltas: Sums) -> None:
    """Add these amounts to the roll-ups, in key order (so concurrent writers to one org
    lock rows in the same order and cannot deadlock)."""
    rows = _rollup_rows(org_id, deltas)
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(DailyRollup)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "day", "measure"],
        set_={"n": DailyRollup.n + stmt.excluded.n},
    )
    session.execute(stmt, rows)


def sums(
    session: Session,
    org_id: str,
    first_day: int,
    last_day: int,
    measures: Sequence[str],
    by_day: bool,
) -> Sums:
    """Sums of the measures over days ``first_day`` to ``last_day``: per (day, measure), or
    with ``by_day`` false per (0, measure)."""
    r: Any = DailyRollup.__table__
    groups = [r.c.measure, *([r.c.day] if by_day else [])]
    stmt = (
        select(*groups, func.sum(r.c.n))
        .where(
            r.c.org_id == org_id,
            r.c.day >= first_day,
            r.c.day <= last_day,
            r.c.measure.in_(measures),
        )
        .group_by(*groups)
    )
    out: Sums = Counter()
    for row in session.execute(stmt):
        out[(int(row[1]) if by_day else 0, row[0])] += int(row[-1] or 0)
    return out


def contacted_on(session: Session, org_id: str, ids: Sequence[str], day: int) -> set[str]:
    """Those of these patients whose latest contact fell on ``day``."""
    s: Any = PatientState.__table__
    found: set[str] = set()
    for where in patient_selections(s.c.patient_id, ids, None):
        stmt = select(s.c.patient_id).where(
            s.c.org_id == org_id,
            *where,
            s.c.last_contact_at.is_not(None),
            s.c.contact_day == day,
        )
        found.update(session.scalars(stmt))
    return found


def _rows(
    session: Session,
    model: Any,
    columns: Sequence[str],
    org_id: str,
    ids: Iterable[str],
    *also: Any,
) -> Iterator[Any]:
    table = model.__table__
    for where in patient_selections(table.c.patient_id, sorted(set(ids)), None):
        stmt = select(*(table.c[name] for name in columns)).where(
            table.c.org_id == org_id, *where, *also
        )
        yield from session.execute(stmt).mappings()


def outcome_rows(session: Session, org_id: str, ids: Iterable[str]) -> list[Any]:
    """The stored ``attempt_outcomes`` of these patients, as mappings."""
    return list(_rows(session, AttemptOutcome, OUTCOME_COLUMNS, org_id, ids))


def span_rows(
    session: Session, org_id: str, ids: Iterable[str], unended_on: int | None = None
) -> list[Any]:
    """The stored ``risk_spans`` of these patients, as mappings; with ``unended_on``, only
    those of spells not ended before that day."""
    r: Any = RiskSpan.__table__
    unended = (
        ()
        if unended_on is None
        else (or_(r.c.spell_end_day.is_(None), r.c.spell_end_day >= unended_on),)
    )
    return list(_rows(session, RiskSpan, SPAN_COLUMNS, org_id, ids, *unended))
