"""All SQL for orgs and keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reengage.models import ApiKey, Org


def get_org(session: Session, org_id: str) -> Org | None:
    return session.get(Org, org_id)


def list_orgs(session: Session) -> list[Org]:
    return list(session.scalars(select(Org).order_by(Org.id)))


def add(session: Session, row: Org | ApiKey) -> None:
    session.add(row)


def key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()


def keys_of_org(session: Session, org_id: str) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at, ApiKey.id)
    return list(session.scalars(stmt))


def key_by_id(session: Session, key_id: str, org_id: str | None = None) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.id == key_id)
    if org_id is not None:
        stmt = stmt.where(ApiKey.org_id == org_id)
    return session.scalars(stmt).first()


def touch_key(session: Session, org_id: str, key_id: str, at: datetime) -> None:
    session.execute(
        update(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id).values(last_used_at=at)
    )


def count_active_keys(session: Session, org_id: str, role: str) -> int:
    stmt = select(func.count()).where(
        ApiKey.org_id == org_id, ApiKey.role == role, ApiKey.revoked_at.is_(None)
    )
    return session.scalar(stmt) or 0
