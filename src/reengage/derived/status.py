"""SQL of the org's derived status row (``derived_status``): whether every derived row of
the org is complete, under which settings, up to when, and the instant its stored standings
were brought up to. ``freshness`` judges what it allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from reengage.models import DerivedStatus


@dataclass(frozen=True)
class Status:
    """The row as read: ``freshness`` decides from these values alone."""

    settings_key: str
    latest_at: datetime | None
    standings_at: datetime | None


def read(session: Session, org_id: str) -> Status | None:
    """The row, or None while the org's derived rows are incomplete (a primary-key read)."""
    d = DerivedStatus
    stmt = select(d.settings_key, d.latest_at, d.standings_at).where(d.org_id == org_id)
    found = session.execute(stmt).one_or_none()
    return Status(*found) if found is not None else None


def columns(org_id: str) -> list[object]:
    """The row's values as scalar subqueries, to read in the same statement (one snapshot of
    the data) as values whose use depends on them (``stored_standings``)."""
    d = DerivedStatus
    return [
        select(column).where(d.org_id == org_id).scalar_subquery().label(name)
        for name, column in (
            ("status_key", d.settings_key),
            ("status_latest_at", d.latest_at),
            ("status_standings_at", d.standings_at),
        )
    ]


def of_columns(key: str | None, latest_at: datetime | None, at: datetime | None) -> Status | None:
    """The row from the values of ``columns`` (no key: no row)."""
    return Status(key, latest_at, at) if key is not None else None


def put(session: Session, org_id: str, settings_key: str, latest_at: datetime | None) -> None:
    """The org's derived rows are complete under ``settings_key`` (replacing any status)."""
    session.execute(delete(DerivedStatus).where(DerivedStatus.org_id == org_id))
    session.add(DerivedStatus(org_id=org_id, settings_key=settings_key, latest_at=latest_at))
    session.flush()


def extend(session: Session, org_id: str, latest_at: datetime | None) -> None:
    """Rows up to ``latest_at`` were written under the status's settings. One conditional
    UPDATE, so concurrent writers can only move it forward."""
    if latest_at is None:
        return
    d = DerivedStatus
    session.execute(
        update(d)
        .where(d.org_id == org_id, or_(d.latest_at.is_(None), d.latest_at < latest_at))
        .values(latest_at=latest_at)
        .execution_options(synchronize_session="fetch")
    )


def clear(session: Session, org_id: str) -> None:
    """The org's derived rows are incomplete (a rebuild writes the status again)."""
    session.execute(delete(DerivedStatus).where(DerivedStatus.org_id == org_id))


def lock(session: Session, org_id: str) -> Status | None:
    """Take the row for writing, until commit (on SQLite, the database's write lock), and
    read it: whoever brings the stored standings up to date does it alone, and after every
    write that made rows wrong has committed (``stored_standings.invalidate``)."""
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


def date_standings(session: Session, org_id: str, as_of: datetime) -> None:
    """The stored standings are now as of as_of."""
    d = DerivedStatus
    session.execute(
        update(d)
        .where(d.org_id == org_id)
        .values(standings_at=as_of)
        .execution_options(synchronize_session=False)
    )
