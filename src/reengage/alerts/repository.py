"""All SQL of the alerts, the webhook endpoints and the deliveries; every statement is
scoped by ``org_id``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from reengage.derived.histories import id_chunks
from reengage.domain.alerts import Current
from reengage.models import Alert, Delivery, DeliveryAttempt, WebhookEndpoint

OPEN_STATES = ("open", "acknowledged")


def current(
    session: Session, org_id: str, rule: str, subjects: Sequence[str] | None = None
) -> list[Current]:
    """The rule's current (uncleared) alerts: of these subjects, or of all."""
    a = Alert
    base = select(a.id, a.subject, a.state).where(
        a.org_id == org_id, a.rule == rule, a.cleared_at.is_(None)
    )
    if subjects is None:
        return [Current(*row) for row in session.execute(base)]
    found: list[Current] = []
    for chunk in id_chunks(subjects):
        found.extend(Current(*row) for row in session.execute(base.where(a.subject.in_(chunk))))
    return found


def add_alerts(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Alert), rows)


def resolve_automatically(session: Session, org_id: str, ids: Sequence[str], at: datetime) -> None:
    for chunk in id_chunks(ids):
        session.execute(
            update(Alert)
            .where(Alert.org_id == org_id, Alert.id.in_(chunk))
            .values(state="resolved", resolved_at=at, resolved_by=None, cleared_at=at)
            .execution_options(synchronize_session=False)
        )


def clear(session: Session, org_id: str, ids: Sequence[str], at: datetime) -> None:
    for chunk in id_chunks(ids):
        session.execute(
            update(Alert)
            .where(Alert.org_id == org_id, Alert.id.in_(chunk))
            .values(cleared_at=at)
            .execution_options(synchronize_session=False)
        )


def get(session: Session, org_id: str, alert_id: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.org_id == org_id, Alert.id == alert_id))


def by_ids(session: Session, org_id: str, ids: Sequence[str]) -> list[Alert]:
    found: list[Alert] = []
    for chunk in id_chunks(ids):
        found.extend(
            session.scalars(select(Alert).where(Alert.org_id == org_id, Alert.id.in_(chunk)))
        )
    return found


def listed(
    session: Session,
    org_id: str,
    *,
    states: Sequence[str],
    rules: Sequence[str] | None,
    patient_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Alert]]:
    """Alerts in these states, newest first, and how many there are in all."""
    a = Alert
    where = [a.org_id == org_id, a.state.in_(states)]
    if rules:
        where.append(a.rule.in_(rules))
    if patient_id is not None:
        where.append(a.patient_id == patient_id)
    total = session.scalar(select(func.count()).select_from(a).where(*where)) or 0
    rows = session.scalars(
        select(a)
        .where(*where)
        .order_by(a.opened_at.desc(), a.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total), list(rows)


def open_counts(session: Session, org_id: str) -> list[tuple[str, str, int]]:
    """(rule, state, count) of the open and acknowledged alerts."""
    a = Alert
    stmt = (
        select(a.rule, a.state, func.count())
        .where(a.org_id == org_id, a.state.in_(OPEN_STATES))
        .group_by(a.rule, a.state)
    )
    return [(rule, state, int(n)) for rule, state, n in session.execute(stmt)]


def opened_between(
    session: Session, org_id: str, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    a = Alert
    stmt = (
        select(a.rule, func.count())
        .where(a.org_id == org_id, a.opened_at >= start, a.opened_at <= end)
        .group_by(a.rule)
    )
    return [(rule, int(n)) for rule, n in session.execute(stmt)]


# --- webhook endpoints ----------------------------------------------------------------------


def endpoints(session: Session, org_id: str) -> list[WebhookEndpoint]:
    w = WebhookEndpoint
    return list(session.scalars(select(w).where(w.org_id == org_id).order_by(w.created_at, w.id)))


def endpoint(session: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    w = WebhookEndpoint
    return session.scalar(select(w).where(w.org_id == org_id, w.id == endpoint_id))


def add(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def delete_row(session: Session, row: Any) -> None:
    session.delete(row)
    session.flush()


# --- deliveries -----------------------------------------------------------------------------


def add_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Delivery), rows)


def due_deliveries(session: Session, org_id: str, now: datetime, most: int) -> list[str]:
    d = Delivery
    stmt = (
        select(d.id)
        .where(
            d.org_id == org_id,
            d.state == "pending",
            d.next_attempt_at <= now,
            or_(d.lease_until.is_(None), d.lease_until <= now),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(most)
    )
    return list(session.scalars(stmt))


def lease(session: Session, org_id: str, delivery_id: str, now: datetime, until: datetime) -> bool:
    """Take the delivery for sending until ``until``, if nobody holds it: one conditional
    UPDATE, so of two senders exactly one gets it (on either database)."""
    d = Delivery
    result: Any = session.execute(
        update(d)
        .where(
            d.org_id == org_id,
            d.id == delivery_id,
            d.state == "pending",
            or_(d.lease_until.is_(None), d.lease_until <= now),
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def delivery(session: Session, org_id: str, delivery_id: str) -> Delivery | None:
    d = Delivery
    return session.scalar(select(d).where(d.org_id == org_id, d.id == delivery_id))


def add_attempt(session: Session, row: DeliveryAttempt) -> None:
    session.add(row)


def deliveries(session: Session, org_id: str, *, target: str | None, limit: int) -> list[Delivery]:
    d = Delivery
    where = [d.org_id == org_id]
    if target is not None:
        where.append(d.target == target)
    return list(
        session.scalars(
            select(d).where(*where).order_by(d.created_at.desc(), d.id.desc()).limit(limit)
        )
    )


def attempts_of(session: Session, org_id: str, ids: Iterable[str]) -> list[DeliveryAttempt]:
    t = DeliveryAttempt
    found: list[DeliveryAttempt] = []
    for chunk in id_chunks(list(ids)):
        found.extend(
            session.scalars(
                select(t)
                .where(t.org_id == org_id, t.delivery_id.in_(chunk))
                .order_by(t.delivery_id, t.attempt)
            )
        )
    return found


def drop_pending_for(session: Session, org_id: str, target: str, at: datetime) -> None:
    """An endpoint disabled or deleted: its waiting deliveries will not be sent."""
    d = Delivery
    session.execute(
        update(d)
        .where(d.org_id == org_id, d.target == target, d.state == "pending")
        .values(state="failed", finished_at=at, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
