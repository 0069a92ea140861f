"""What a page of the list shows beyond where each patient stands, read for the page's
patients in a few statements whose cost does not grow with the length of a history.

Their all-time figures (visits completed and the last one, attempts made, responses by
part of day) are kept with their derived state (``patient_state``, ``domain.state``); the
next visit is found through the appointments' patient index by start time; of their
records, only the attempts the page's history and the channel choice look at (from where
the 10 latest begin, and any sent since the alert window began) are read, by the
communications' patient index by send time. These figures answer where the stored
standings do: when the org's status vouches for every row (``freshness.rows_answer``),
which is the only caller's precondition. Reading whole histories (``load_histories``)
cost in proportion to the records: a patient with nine years of history was three times
as slow to show as one with three, and counting its records in SQL a third slower.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from reengage.db.types import UTCDateTime
from reengage.derived.histories import HISTORY_COLUMNS, id_chunks, utc_instant
from reengage.domain.risk import MISSED_STATUSES
from reengage.models import Appointment, Communication, PatientState


@dataclass
class PageFacts:
    """One patient's figures as of as_of, as ``service`` shows them."""

    completed: int = 0  # completed visits that exist and have started
    missed_last_90_days: int = 0  # no_show and late_cancelled visits started since ``missed_since``
    last_completed_at: datetime | None = None
    next_appointment_at: datetime | None = None  # as ``risk.next_appointment`` finds it
    attempts: int = 0  # outreach attempts sent
    successes: tuple[int, ...] = (0, 0, 0)  # by part of day, as ``PatientState`` keeps them
    # At least the latest HISTORY_LENGTH attempts, and every attempt sent since ``since``,
    # as the values of ``HISTORY_COLUMNS`` (``histories.pack`` takes them).
    recent_attempts: list[Sequence[Any]] = field(default_factory=list)


def page_facts(
    session: Session,
    org_id: str,
    ids: Sequence[str],
    as_of: datetime,
    since: datetime,
    missed_since: datetime,
) -> dict[str, PageFacts]:
    """``since``: where the alert window begins; ``missed_since``: where the 90 days whose
    missed visits are shown begin (each the first instant of that window's first day)."""
    facts: dict[str, PageFacts] = defaultdict(PageFacts)
    for chunk in id_chunks(ids):
        page = _Chunk(session, org_id, chunk, as_of, since, missed_since, facts)
        for read in (_kept, _next_visits, _missed_visits, _recent_attempts):
            read(page)
    return facts


@dataclass(frozen=True)
class _Chunk:
    """What each read below is asked for: some of the page's patients, and where to put
    their figures."""

    session: Session
    org_id: str
    ids: Sequence[str]
    as_of: datetime
    since: datetime
    missed_since: datetime
    out: dict[str, PageFacts]


def _kept(page: _Chunk) -> None:
    session, org_id, ids, out = page.session, page.org_id, page.ids, page.out
    s: Any = PatientState.__table__
    stmt = select(
        s.c.patient_id,
        s.c.completed,
        s.c.last_completed_at,
        s.c.attempts,
        s.c.successes_morning,
        s.c.successes_afternoon,
        s.c.successes_evening,
    ).where(s.c.org_id == org_id, s.c.patient_id.in_(ids))
    for pid, completed, last, attempts, *successes in session.execute(stmt):
        facts = out[pid]
        facts.completed, facts.last_completed_at, facts.attempts = completed, last, attempts
        facts.successes = tuple(successes)


def _exists_at(a: Any, as_of: datetime) -> Any:
    """A visit exists at as_of once it is booked (one with no booking time always has)."""
    return or_(a.c.booked_at.is_(None), a.c.booked_at <= as_of)


def _next_visits(page: _Chunk) -> None:
    """The earliest start after as_of of a visit that exists then and is not cancelled
    (``risk.next_appointment``)."""
    session, org_id, ids, as_of, out = page.session, page.org_id, page.ids, page.as_of, page.out
    a: Any = Appointment.__table__
    stmt = (
        select(a.c.patient_id, func.min(a.c.starts_at))
        .where(
            a.c.org_id == org_id,
            a.c.patient_id.in_(ids),
            a.c.starts_at > as_of,
            a.c.status != "cancelled",
            _exists_at(a, as_of),
        )
        .group_by(a.c.patient_id)
    )
    for pid, upcoming_at in session.execute(stmt):
        out[pid].next_appointment_at = upcoming_at


def _missed_visits(page: _Chunk) -> None:
    """no_show and late_cancelled visits that exist at as_of and started in the window from
    ``missed_since`` to as_of (``risk._missed``, uncapped: ``patient_state`` keeps only the
    latest three, which is all the score counts)."""
    session, org_id, ids, as_of, out = page.session, page.org_id, page.ids, page.as_of, page.out
    since = page.missed_since
    a: Any = Appointment.__table__
    stmt = (
        select(a.c.patient_id, func.count())
        .where(
            a.c.org_id == org_id,
            a.c.patient_id.in_(ids),
            a.c.starts_at >= since,
            a.c.starts_at <= as_of,
            a.c.status.in_(sorted(MISSED_STATUSES)),
            _exists_at(a, as_of),
        )
        .group_by(a.c.patient_id)
    )
    for pid, missed in session.execute(stmt):
        out[pid].missed_last_90_days = missed


def _read(session: Session) -> Callable[[Any], Any]:
    """How instants are read (``histories.utc_instant`` on PostgreSQL)."""
    return utc_instant if session.get_bind().dialect.name == "postgresql" else lambda c: c


def _recent_attempts(page: _Chunk) -> None:
    """The attempts sent, by as_of, at or after the earlier of where the patient's latest
    attempts begin (``recent_from``) and ``since``: each patient's range of the patient
    index, joined from their state row."""
    session, org_id, ids, as_of, out = page.session, page.org_id, page.ids, page.as_of, page.out
    since = page.since
    c: Any = Communication.__table__
    s: Any = PatientState.__table__
    names = HISTORY_COLUMNS[Communication]
    # ``since`` typed as the columns are: a bare datetime in ``else_`` is bound as DateTime,
    # which SQLite writes in its own offset (00:00+10:00 as "00:00"), not in UTC, and an
    # attempt sent in the hours between the two was left out of the page's history.
    first = case((s.c.recent_from < since, s.c.recent_from), else_=literal(since, UTCDateTime()))
    read = _read(session)
    stmt = (
        select(s.c.patient_id, *(read(c.c[name]) for name in names))
        .select_from(s)
        .join(
            c,
            and_(
                c.c.org_id == s.c.org_id,
                c.c.patient_id == s.c.patient_id,
                c.c.sent_at >= first,
                c.c.sent_at <= as_of,
            ),
        )
        .where(s.c.org_id == org_id, s.c.patient_id.in_(ids), c.c.direction == "outbound")
    )
    for pid, *values in session.execute(stmt):
        out[pid].recent_attempts.append(values)
