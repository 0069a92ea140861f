"""What a page of the list shows beyond where each patient stands, read for the page's
patients in a few statements whose answers do not grow with the length of a history.

Their all-time figures (visits completed, the last one, the next one, attempts made) are
counted by the database; their responses arrive as bare instants; of their records, only
the attempts that the page's history and the channel choice look at (the 10 latest, and any
sent since the alert window began) become domain values. The full-history reading
(``queries.load_histories``) costs in proportion to the records: a patient with nine years
of history was three times as slow to show as one with three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from reengage.analytics.queries import HISTORY_COLUMNS, id_chunks, utc_instant
from reengage.domain.outreach import HISTORY_LENGTH
from reengage.models import Appointment, Communication


@dataclass
class PageFacts:
    """One patient's figures as of as_of, as ``service`` shows them."""

    completed: int = 0  # completed visits that exist and have started
    last_completed_at: datetime | None = None
    next_appointment_at: datetime | None = None  # as ``risk.next_appointment`` finds it
    attempts: int = 0  # outreach attempts sent
    success_times: list[datetime] = field(default_factory=list)
    # The latest HISTORY_LENGTH attempts, and every attempt sent since ``since``, as the
    # values of ``HISTORY_COLUMNS`` (``queries.pack`` takes them).
    recent_attempts: list[Sequence[Any]] = field(default_factory=list)


def page_facts(
    session: Session, org_id: str, ids: Sequence[str], as_of: datetime, since: datetime
) -> dict[str, PageFacts]:
    facts: dict[str, PageFacts] = defaultdict(PageFacts)
    for chunk in id_chunks(ids):
        _visits(session, org_id, chunk, as_of, facts)
        _success_times(session, org_id, chunk, as_of, facts)
        _recent_attempts(session, org_id, chunk, as_of, since, facts)
    return facts


def _visits(
    session: Session, org_id: str, ids: Sequence[str], as_of: datetime, out: dict[str, PageFacts]
) -> None:
    a: Any = Appointment.__table__
    exists = or_(a.c.booked_at.is_(None), a.c.booked_at <= as_of)
    completed = and_(a.c.status == "completed", exists, a.c.starts_at <= as_of)
    upcoming = and_(exists, a.c.starts_at > as_of, a.c.status != "cancelled")
    stmt = (
        select(
            a.c.patient_id,
            func.count().filter(completed),
            func.max(a.c.starts_at).filter(completed),
            func.min(a.c.starts_at).filter(upcoming),
        )
        .where(a.c.org_id == org_id, a.c.patient_id.in_(ids))
        .group_by(a.c.patient_id)
    )
    for pid, n, last, upcoming_at in session.execute(stmt):
        facts = out[pid]
        facts.completed, facts.last_completed_at, facts.next_appointment_at = n, last, upcoming_at


def _success_times(
    session: Session, org_id: str, ids: Sequence[str], as_of: datetime, out: dict[str, PageFacts]
) -> None:
    """The instants of the attempts that succeeded by as_of."""
    c: Any = Communication.__table__
    sent = c.c.sent_at <= as_of
    success = case((c.c.channel == "phone", c.c.connected_at), else_=c.c.responded_at)
    at = type_coerce(case((and_(sent, success <= as_of), success)), c.c.sent_at.type)
    times = select(c.c.patient_id, _read(session)(at.label("at"))).where(
        _attempts(c, org_id, ids), at.is_not(None)
    )
    for pid, instant in session.execute(times):
        out[pid].success_times.append(instant)


def _attempts(c: Any, org_id: str, ids: Sequence[str]) -> Any:
    """The patients' attempts, by the patient index. Each statement tests ``sent_at``
    itself, outside the WHERE clause: given a range on it there, SQLite chose the org's
    ``(org_id, sent_at)`` index and read every attempt up to as_of (seconds at 100,000
    patients)."""
    return and_(c.c.org_id == org_id, c.c.patient_id.in_(ids), c.c.direction == "outbound")


def _read(session: Session) -> Callable[[Any], Any]:
    """How instants are read (``queries.utc_instant`` on PostgreSQL)."""
    return utc_instant if session.get_bind().dialect.name == "postgresql" else lambda c: c


def _recent_attempts(
    session: Session,
    org_id: str,
    ids: Sequence[str],
    as_of: datetime,
    since: datetime,
    out: dict[str, PageFacts],
) -> None:
    """The latest attempts sent by as_of in the domain's order (newest first, equal times
    by id), those sent since ``since``, and how many were sent by as_of (on each row: a
    patient with none has no row). Any sent after as_of rank after them."""
    c: Any = Communication.__table__
    names = HISTORY_COLUMNS[Communication]
    later = case((c.c.sent_at > as_of, 1), else_=0)
    rank = func.row_number().over(
        partition_by=c.c.patient_id, order_by=(later, c.c.sent_at.desc(), c.c.id)
    )
    sent = func.sum(1 - later).over(partition_by=c.c.patient_id)
    ranked = (
        select(
            c.c.patient_id,
            *(c.c[name] for name in names),
            rank.label("rank"),
            sent.label("sent"),
        )
        .where(_attempts(c, org_id, ids))
        .subquery()
    )
    read = _read(session)
    stmt = select(
        ranked.c.patient_id, ranked.c.sent, *(read(ranked.c[name]) for name in names)
    ).where(
        ranked.c.sent_at <= as_of,
        or_(ranked.c.rank <= HISTORY_LENGTH, ranked.c.sent_at >= since),
    )
    for pid, n, *values in session.execute(stmt):
        out[pid].attempts = int(n)
        out[pid].recent_attempts.append(values)
