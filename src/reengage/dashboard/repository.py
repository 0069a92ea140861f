"""All SQL for dashboard sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from reengage.models import ApiKey, DashboardSession, Org


def add(session: Session, row: DashboardSession) -> None:
    session.add(row)


def by_token_hash(session: Session, token_hash: str) -> tuple[DashboardSession, ApiKey, str] | None:
    """The session, its key and its org's name."""
    stmt = (
        select(DashboardSession, ApiKey, Org.name)
        .join(
            ApiKey,
            (ApiKey.org_id == DashboardSession.org_id) & (ApiKey.id == DashboardSession.key_id),
        )
        .join(Org, Org.id == DashboardSession.org_id)
        .where(DashboardSession.token_hash == token_hash)
    )
    row = session.execute(stmt).first()
    return None if row is None else (row[0], row[1], row[2])


def org_name(session: Session, org_id: str) -> str | None:
    return session.scalar(select(Org.name).where(Org.id == org_id))


def touch(session: Session, org_id: str, session_id: str, at: datetime) -> None:
    session.execute(
        update(DashboardSession)
        .where(DashboardSession.org_id == org_id, DashboardSession.id == session_id)
        .values(last_seen_at=at)
    )


def remove(session: Session, org_id: str, session_id: str) -> None:
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.org_id == org_id, DashboardSession.id == session_id
        )
    )


def remove_idle(session: Session, org_id: str, seen_before: datetime) -> None:
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.org_id == org_id, DashboardSession.last_seen_at < seen_before
        )
    )
