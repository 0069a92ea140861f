"""SQL of the ``standings`` table: written from the risk statement, read by the list and
the risk metrics. ``reengage.analytics.standing_cache`` decides when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reengage.analytics import queries, risk_queries
from reengage.analytics.risk_queries import Standing, Tally
from reengage.domain.settings import OrgSettings
from reengage.models import DerivedStatus
from reengage.models import Standing as StandingRow

# A row's ``until_at`` once a write has made it wrong: before any as_of.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VALUE_COLUMNS = ("tier", "missed", "failed", "overdue", "future", "rule", "score", "days")
COMPUTED_COLUMNS = ("patient_id", *VALUE_COLUMNS, "next_day", "week", "until_at")


@dataclass(frozen=True)
class Checks:
    """What a read saw of the table, in the same statement as the values it read."""

    usable: bool  # the org's derived rows answer at as_of (``rollups.usable``)
    standings_at: datetime | None  # the instant the rows were brought up to
    stale: bool  # some row is due for recomputing at as_of


def _table() -> Any:
    return StandingRow.__table__


def _check_columns(org_id: str, as_of: datetime, settings: OrgSettings) -> list[Any]:
    d, t = DerivedStatus, _table()
    usable = exists().where(
        d.org_id == org_id,
        d.settings_key == settings.derivation_key(),
        or_(d.latest_at.is_(None), d.latest_at <= as_of),
    )
    at = select(d.standings_at).where(d.org_id == org_id).scalar_subquery()
    stale = exists().where(t.c.org_id == org_id, t.c.until_at <= as_of)
    return [usable.label("usable"), at.label("standings_at"), stale.label("stale")]


def _checks(row: Sequence[Any]) -> Checks:
    usable, at, stale = row[-3:]
    return Checks(bool(usable), at, bool(stale))


def _org_rows(org_id: str) -> Any:
    t = _table()
    return select(*t.c).where(t.c.org_id == org_id).subquery("standings")


def tally(
    session: Session, org_id: str, as_of: datetime, settings: OrgSettings
) -> tuple[Tally, Checks]:
    """Counts over the org's rows, and what they were read with."""
    stmt = risk_queries.tally_statement(_org_rows(org_id), *_check_columns(org_id, as_of, settings))
    row = session.execute(stmt).one()
    return risk_queries.tally_of(row), _checks(row)


def listed_page(
    session: Session,
    org_id: str,
    as_of: datetime,
    settings: OrgSettings,
    risk_level: str | None,
    flag: str | None,
    sort_by: str,
    limit: int,
    offset: int,
) -> tuple[tuple[Tally, list[Standing]], Checks]:
    """The list's counts and one page's standings (the page read in order from the sort's
    index), and what they were read with."""
    rows = _org_rows(org_id)
    listed = select(*rows.c).where(*risk_queries.listed_filter(rows, risk_level, flag))
    stmt = risk_queries.page_statement(
        listed.subquery("listed"),
        sort_by,
        limit,
        offset,
        *_check_columns(org_id, as_of, settings),
    )
    found = session.execute(stmt).all()
    return risk_queries.page_of(found), _checks(found[0])


@dataclass(frozen=True)
class Status:
    settings_key: str
    latest_at: datetime | None
    standings_at: datetime | None


def lock(session: Session, org_id: str) -> Status | None:
    """Take the org's derived status row for writing, until commit (on SQLite, the
    database's write lock), and read it: whoever brings the rows up to date does it alone,
    and after every write that made rows wrong has committed (``invalidate``)."""
    d = DerivedStatus
    stmt = (
        update(d)
        .where(d.org_id == org_id)
        .values(standings_at=d.standings_at)
        .returning(d.settings_key, d.latest_at, d.standings_at)
        .execution_options(synchronize_session=False)
    )
    found = session.execute(stmt).one_or_none()
    return Status(*found) if found is not None else None


def stale_ids(session: Session, org_id: str, as_of: datetime) -> list[str]:
    t = _table()
    stmt = (
        select(t.c.patient_id)
        .where(t.c.org_id == org_id, t.c.until_at <= as_of)
        .order_by(t.c.patient_id)
    )
    return list(session.scalars(stmt))


def write(
    session: Session,
    org_id: str,
    as_of: datetime,
    settings: OrgSettings,
    ids: Sequence[str] | None,
) -> None:
    """Compute the rows of these patients (``None``: of every patient) at as_of, in place
    of their old ones, and date the table as_of. Only under ``lock``, and only when the
    derived rows answer at as_of (the statement trusts them all)."""
    t = _table()
    for where in queries.patient_selections(t.c.patient_id, ids, None):
        session.execute(delete(t).where(t.c.org_id == org_id, *where))
    chunks = [None] if ids is None else queries.id_chunks(ids)
    for chunk in chunks:
        st = risk_queries.standings_subquery(
            session, org_id, as_of, settings, True, chunk, with_until=True
        )
        computed = select(literal(org_id), *(st.c[name] for name in COMPUTED_COLUMNS))
        session.execute(insert(t).from_select(["org_id", *COMPUTED_COLUMNS], computed))
    d = DerivedStatus
    session.execute(
        update(d)
        .where(d.org_id == org_id)
        .values(standings_at=as_of)
        .execution_options(synchronize_session=False)
    )


def invalidate(session: Session, org_id: str, ids: Sequence[str]) -> None:
    """Writers: these patients' rows are wrong from now on (a row is made for a patient who
    had none), so that the next read recomputes them. Waits, on PostgreSQL, for whoever
    holds ``lock`` to commit; one that locks later waits for this write's commit, and so
    reads its records. Nothing to do while the org keeps no rows."""
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
