"""The audit log: who touched which patients' data, through which route, from where."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from reengage import clock
from reengage.auth.principal import Principal
from reengage.models import AuditEntry

# A batch may touch 10,000 patients; past this many ids the count alone is kept.
AUDIT_MAX_IDS = 1000


def record_access(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    patient_ids: Iterable[str],
    count: int | None = None,
) -> None:
    """Add an audit entry to the request's transaction (committed with it, or not at all)."""
    ids = sorted(set(patient_ids))
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    t: Any = AuditEntry.__table__
    stmt = insert(t).values(
        org_id=principal.org_id,
        key_id=principal.key_id,
        role=principal.role,
        method=request.method,
        route=route,
        action=action,
        patient_ids=ids if len(ids) <= AUDIT_MAX_IDS else [],
        record_count=len(ids) if count is None else count,
        client_ip=client_address(request),
        at=clock.now(),
    )
    if session.get_bind().dialect.name != "postgresql":
        # No sequence: one past the org's largest id, found in the INSERT itself (by the
        # primary key's index), which SQLite's one writer runs alone.
        largest = select(func.max(t.c.id)).where(t.c.org_id == principal.org_id)
        stmt = stmt.values(id=func.coalesce(largest.scalar_subquery(), 0) + 1)
    session.execute(stmt)


def client_address(request: Request) -> str | None:
    """The client's address in its canonical form, or None when the connection (or a
    trusted proxy's header) gives something that is not an IP address."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None
