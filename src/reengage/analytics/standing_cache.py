"""Where every population patient stands today, kept in ``standings`` between requests.

The risk statement (``risk_queries.standings_subquery``) evaluates every rule for every
active patient: at a million patients, a third of a second on each request, for answers
that change only when a day ends, a booked visit starts, a follow-up falls due, or a
patient's records are written. So the org's rows are stored, each with the instant it may
next read otherwise (``until_at``), and the table with the instant it was brought up to
(``derived_status.standings_at``). It answers for an as_of of that same day, at or after
that instant, while no row's ``until_at`` has come:

- A read checks this in the same statement as the values it reads (one snapshot of the
  data). When it does not hold but as_of is at or after the table's instant and the
  derived rows answer at as_of (``rollups.usable``), the rows are brought up to as_of under
  the org's status lock, and read again: all of them when as_of is on a later day (the
  day's first request pays for the day), else only those due. Otherwise (an as_of in the
  past, records dated after as_of, other settings) the caller computes as before.
- A write of records marks its patients' rows due (``standing_queries.invalidate``), in
  the transaction that refreshes their derived rows; a rebuild of the derived rows drops
  them all (its status keeps no instant).

A read that brings rows up to date writes; its request commits, like any other. The
values are the risk statement's own, so they equal its answers; ``tests/test_standings.py``
holds them to the straight computation across writes, hours and days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from reengage.analytics import standing_queries
from reengage.analytics.risk_queries import Standing, Tally
from reengage.analytics.standing_queries import Checks
from reengage.domain.calendar import local_date
from reengage.domain.settings import OrgSettings

T = TypeVar("T")


class Where(Protocol):
    """What the rows are asked about (the service's ``Scope``)."""

    @property
    def org_id(self) -> str: ...

    @property
    def settings(self) -> OrgSettings: ...

    @property
    def as_of(self) -> datetime: ...


def _answer(session: Session, where: Where, read: Callable[[], tuple[T, Checks]]) -> T | None:
    """``read``'s result when the rows answer at as_of, bringing them up to it if they can;
    None when they cannot."""
    result, checks = read()
    if _holds(checks, where):
        return result
    if not _may_bring_up(checks, where) or not _bring_up(session, where):
        return None
    result, checks = read()
    return result if _holds(checks, where) else None


def _holds(checks: Checks, where: Where) -> bool:
    at = checks.standings_at
    return (
        checks.usable
        and at is not None
        and not checks.stale
        and at <= where.as_of
        and _same_day(at, where)
    )


def _same_day(at: datetime, where: Where) -> bool:
    zone = where.settings.zone()
    return local_date(at, zone) == local_date(where.as_of, zone)


def _may_bring_up(checks: Checks, where: Where) -> bool:
    """Worth taking the lock for: not for an as_of the rows are already past."""
    at = checks.standings_at
    return checks.usable and (at is None or at <= where.as_of)


def _bring_up(session: Session, where: Where) -> bool:
    """Recompute the rows due at as_of (all of them on a new day), under the lock; False
    when, seen under the lock, they cannot answer at as_of."""
    status = standing_queries.lock(session, where.org_id)
    if (
        status is None
        or status.settings_key != where.settings.derivation_key()
        or (status.latest_at is not None and status.latest_at > where.as_of)
    ):
        return False
    at = status.standings_at
    if at is not None and at > where.as_of:
        return False
    if at is None or not _same_day(at, where):
        ids = None
    else:
        ids = standing_queries.stale_ids(session, where.org_id, where.as_of)
    standing_queries.write(session, where.org_id, where.as_of, where.settings, ids)
    return True


def tally(session: Session, where: Where) -> Tally | None:
    """Counts over the population from the stored rows; None when they cannot answer."""
    return _answer(
        session,
        where,
        lambda: standing_queries.tally(session, where.org_id, where.as_of, where.settings),
    )


def listed_page(
    session: Session,
    where: Where,
    risk_level: str | None,
    flag: str | None,
    sort_by: str,
    limit: int,
    offset: int,
) -> tuple[Tally, list[Standing]] | None:
    """The list's counts and a page's standings from the stored rows; None when they
    cannot answer."""
    return _answer(
        session,
        where,
        lambda: standing_queries.listed_page(
            session,
            where.org_id,
            where.as_of,
            where.settings,
            risk_level,
            flag,
            sort_by,
            limit,
            offset,
        ),
    )
