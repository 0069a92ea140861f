"""Where every population patient stands today, kept in ``standings`` between requests.

The risk statement (``risk_statement``) evaluates every rule for every active patient: at a
million patients, a third of a second on each request, for answers that change only when a
day ends, a booked visit starts, a follow-up falls due, or a patient's records are written.
So the org's rows are stored, each with the instant it may next read otherwise
(``until_at``), and the org's status with the instant they were brought up to
(``derived_status.standings_at``). When they answer, and when they are brought up first, is
``freshness``'s to say (``standings_answer``, ``catch_up``):

- A read reads the status and whether a row is due in the same statement as the values it
  reads (one snapshot of the data). When they do not answer but can be brought up to as_of,
  that is done under the org's status lock, and the read repeated.
- A write of records marks its patients' rows due (``invalidate``), in the transaction
  that refreshes their derived rows; a rebuild of the derived rows drops them all (its
  status keeps no instant).
- A patient whose rows hold something dated after as_of (``freshness.late_ids``: a follow-up
  due next week for a patient with no other record starts them then) is kept as a
  placeholder: a row without values, due at their horizon. Reads leave placeholders out and
  name them, and the service takes those few from their histories. Before, one such patient
  kept the org's rows from being brought up at all until their day came, and every list
  and risk-metrics request went to the risk statement, three to five times slower.

A read that brings rows up to date writes, and commits that at once, before it answers:
the status lock is then held for the catch-up alone. Held to the end of the request, as it
was, every reader that came after a write queued behind the one before it for the whole of
its request (bench/load.py: 27 requests/s at 16 clients, none completed at 64). Only reads
catch up, and what a read request did before (key checks) is bookkeeping, so the early
commit cuts no unit of work in two. The values are the risk statement's own, so they equal
its answers; ``tests/derived/test_stored_standings.py`` holds them to the straight
computation across writes, hours and days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, exists, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reengage.derived import freshness, risk_statement, status
from reengage.derived.histories import id_chunks, patient_selections
from reengage.derived.status import Status
from reengage.domain.scope import Scope
from reengage.domain.standing import Standing, Tally
from reengage.models import DerivedStatus, PatientState
from reengage.models import Standing as StandingRow

T = TypeVar("T")
# A row's ``until_at`` once a write has made it wrong: before any as_of.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VALUE_COLUMNS = ("tier", "missed", "failed", "overdue", "future", "rule", "score", "days")
COMPUTED_COLUMNS = ("patient_id", *VALUE_COLUMNS, "next_day", "week", "until_at")
# The status, whether a row is due, and the placeholders (patients late at as_of), as read.
Seen = tuple[Status | None, bool, tuple[str, ...]]
Late = tuple[str, ...]


def _table() -> Any:
    return StandingRow.__table__


def _seen_columns(session: Session, scope: Scope) -> list[Any]:
    t = _table()
    due = exists().where(t.c.org_id == scope.org_id, t.c.until_at <= scope.as_of)
    # Up to one more than may answer: enough to tell that too many are late.
    placeholders = (
        select(t.c.patient_id)
        .where(t.c.org_id == scope.org_id, t.c.tier.is_(None))
        .limit(freshness.LATE_SWAP_MOST + 1)
        .subquery()
    )
    if session.get_bind().dialect.name == "postgresql":
        joined = func.string_agg(placeholders.c.patient_id, literal(" "))
    else:
        joined = func.group_concat(placeholders.c.patient_id, " ")
    # Ids hold no spaces (``RecordId``).
    late = select(joined).scalar_subquery().label("late")
    return [*status.columns(scope.org_id), due.label("due"), late]


def _seen(row: Sequence[Any]) -> Seen:
    key, latest_at, at, due, late = row[-5:]
    return status.of_columns(key, latest_at, at), bool(due), tuple(sorted((late or "").split()))


def _answers(seen: Seen, scope: Scope) -> bool:
    found, due, late = seen
    return freshness.standings_answer(found, due, len(late), scope)


def _answer(
    session: Session, scope: Scope, read: Callable[[], tuple[T, Seen]]
) -> tuple[T, Late] | None:
    """``read``'s result and the patients late at as_of, when the rows answer at as_of,
    bringing them up to it if they can; None when they cannot."""
    result, seen = read()
    if _answers(seen, scope):
        return result, seen[2]
    if freshness.catch_up(seen[0], scope) is None or not _catch_up(session, scope):
        return None
    result, seen = read()
    return (result, seen[2]) if _answers(seen, scope) else None


def _catch_up(session: Session, scope: Scope) -> bool:
    """Recompute the rows ``freshness.catch_up`` names, under the lock; False when, seen
    under the lock, they cannot be brought up (or too many patients are late at as_of)."""
    found = status.lock(session, scope.org_id)
    which = freshness.catch_up(found, scope)
    late: Late | None = ()
    if which is not None and not freshness.rows_answer(found, scope):
        late = freshness.late_ids(session, scope)
    if which is None or late is None:
        session.commit()  # the lock, taken to look, is not held for the rest of the request
        return False
    write(session, scope, None if which == "all" else due_ids(session, scope), late)
    if session.get_bind().dialect.name == "postgresql":
        # A cache's commit need not wait for the disk: lost in a crash, the rows and the
        # status go back together, and the next read brings them up again.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    session.commit()
    return True


def _org_rows(org_id: str) -> Any:
    """The org's rows, placeholders left out."""
    t = _table()
    return select(*t.c).where(t.c.org_id == org_id, t.c.tier.is_not(None)).subquery("standings")


def tally(session: Session, scope: Scope) -> tuple[Tally, Late] | None:
    """Counts over the population but the late patients, from the stored rows, and those
    patients; None when the rows cannot answer."""

    def read() -> tuple[Tally, Seen]:
        checks = _seen_columns(session, scope)
        stmt = risk_statement.tally_statement(_org_rows(scope.org_id), *checks)
        row = session.execute(stmt).one()
        return risk_statement.tally_of(row), _seen(row)

    return _answer(session, scope, read)


def listed_page(
    session: Session,
    scope: Scope,
    risk_level: str | None,
    flag: str | None,
    sort_by: str,
    limit: int,
    offset: int,
    priority: int | None = None,
) -> tuple[tuple[Tally, list[Standing]], Late] | None:
    """The list's counts and a page's standings from the stored rows (the page read in
    order from the sort's index), the late patients left out, and those patients; None when
    the rows cannot answer."""

    def read() -> tuple[tuple[Tally, list[Standing]], Seen]:
        rows = _org_rows(scope.org_id)
        listed = select(*rows.c).where(
            *risk_statement.listed_filter(rows, risk_level, flag, priority)
        )
        stmt = risk_statement.page_statement(
            listed.subquery("listed"), sort_by, limit, offset, *_seen_columns(session, scope)
        )
        found = session.execute(stmt).all()
        return risk_statement.page_of(found), _seen(found[0])

    return _answer(session, scope, read)


def due_ids(session: Session, scope: Scope) -> list[str]:
    t = _table()
    stmt = (
        select(t.c.patient_id)
        .where(t.c.org_id == scope.org_id, t.c.until_at <= scope.as_of)
        .order_by(t.c.patient_id)
    )
    return list(session.scalars(stmt))


def write(session: Session, scope: Scope, ids: Sequence[str] | None, late: Late = ()) -> None:
    """Compute the rows of these patients (``None``: of every patient) at as_of, in place
    of their old ones, and date them as_of; those of them ``late`` (every patient whose
    rows hold something after as_of) as placeholders, due at their horizon. Only under
    ``status.lock``, and only when the derived rows are complete under the current settings
    (the statement trusts every row but the late ones')."""
    t = _table()
    s: Any = PatientState.__table__
    settled = [s.c.horizon_at <= scope.as_of] if late else []
    for where in patient_selections(t.c.patient_id, ids, None):
        session.execute(delete(t).where(t.c.org_id == scope.org_id, *where))
    for chunk in [None] if ids is None else id_chunks(ids):
        st = risk_statement.standings_subquery(session, scope, settled, chunk, with_until=True)
        computed = select(literal(scope.org_id), *(st.c[name] for name in COMPUTED_COLUMNS))
        session.execute(insert(t).from_select(["org_id", *COMPUTED_COLUMNS], computed))
    wanted = set(late) if ids is None else set(late) & set(ids)
    for chunk in id_chunks(sorted(wanted)):
        held = select(literal(scope.org_id), s.c.patient_id, s.c.horizon_at).where(
            s.c.org_id == scope.org_id, s.c.patient_id.in_(chunk)
        )
        session.execute(insert(t).from_select(["org_id", "patient_id", "until_at"], held))
    status.date_standings(session, scope.org_id, scope.as_of)


def invalidate(session: Session, org_id: str, ids: Sequence[str]) -> None:
    """Writers: these patients' rows are wrong from now on (a row is made for a patient who
    had none), so that the next read recomputes them. Waits, on PostgreSQL, for whoever
    holds ``status.lock`` to commit; one that locks later waits for this write's commit,
    and so reads its records. Nothing to do while the org keeps no rows."""
    d = DerivedStatus
    found = session.execute(
        select(d.standings_at).where(d.org_id == org_id).with_for_update(read=True)
    ).one_or_none()
    if found is None or found[0] is None or not ids:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(StandingRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "patient_id"], set_={"until_at": stmt.excluded.until_at}
    )
    rows = [{"org_id": org_id, "patient_id": pid, "until_at": EPOCH} for pid in sorted(ids)]
    session.execute(stmt, rows)


def clear(session: Session, org_id: str) -> None:
    """Forget the org's rows (a rebuild's status keeps none)."""
    t = _table()
    session.execute(delete(t).where(t.c.org_id == org_id))
