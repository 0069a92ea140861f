"""The patients whose alert rules need judging again because their records were written.

Every write of records passes through ``upkeep.refresh``, which marks its patients here in
the write's own transaction: a write that commits is always judged, one that rolls back
never is. ``reengage.alerts`` takes the marks a few seconds later (the ``alerts-checks``
job). It lives with the derived state because it is written where the derived rows are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reengage.derived.histories import id_chunks
from reengage.models import AlertCheck


def _table() -> Any:
    return AlertCheck.__table__


def mark(session: Session, org_id: str, patient_ids: Sequence[str]) -> None:
    """Queue these patients (once each, however often they are written)."""
    t = _table()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for chunk in id_chunks(patient_ids):
        rows = [{"org_id": org_id, "patient_id": one} for one in chunk]
        session.execute(dialect.insert(t).values(rows).on_conflict_do_nothing())


def take(session: Session, org_id: str, most: int) -> list[str]:
    """Up to ``most`` queued patients, removed from the queue in the caller's transaction:
    a write that commits after this marks its patients again, for the next run."""
    t = _table()
    ids = list(
        session.scalars(
            select(t.c.patient_id).where(t.c.org_id == org_id).order_by(t.c.patient_id).limit(most)
        )
    )
    for chunk in id_chunks(ids):
        session.execute(delete(t).where(t.c.org_id == org_id, t.c.patient_id.in_(chunk)))
    return ids


def waiting(session: Session, org_id: str) -> bool:
    t = _table()
    return session.scalar(select(t.c.patient_id).where(t.c.org_id == org_id).limit(1)) is not None


def clear(session: Session, org_id: str) -> None:
    session.execute(delete(_table()).where(_table().c.org_id == org_id))
