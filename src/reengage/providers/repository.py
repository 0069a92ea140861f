"""All SQL for the providers' credentials, events and consent changes, scoped by ``org_id``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reengage.models import Communication, ConsentChange, Patient, ProviderCredential, ProviderEvent


def credential(session: Session, org_id: str, provider: str) -> ProviderCredential | None:
    return session.get(ProviderCredential, (org_id, provider))


def credentials(session: Session, org_id: str) -> list[ProviderCredential]:
    stmt = select(ProviderCredential).where(ProviderCredential.org_id == org_id)
    return list(session.scalars(stmt.order_by(ProviderCredential.provider)))


def put_credential(session: Session, org_id: str, provider: str, sealed: str, at: datetime) -> None:
    row = credential(session, org_id, provider)
    if row is None:
        session.add(
            ProviderCredential(org_id=org_id, provider=provider, sealed=sealed, updated_at=at)
        )
    else:
        row.sealed, row.updated_at = sealed, at
    session.flush()


def known_keys(session: Session, org_id: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(ProviderEvent.key).where(
            ProviderEvent.org_id == org_id, ProviderEvent.key.in_(chunk)
        )
        found.update(session.scalars(stmt))
    return found


def add_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.add_all(ProviderEvent(**row) for row in rows)
    session.flush()


def communications_by_message(
    session: Session, org_id: str, message_ids: Sequence[str]
) -> dict[str, Communication]:
    """The org's communications carrying these provider message ids (the newest, should a
    clinic have given two the same id)."""
    found: dict[str, Communication] = {}
    for start in range(0, len(message_ids), 500):
        stmt = (
            select(Communication)
            .where(
                Communication.org_id == org_id,
                Communication.provider_message_id.in_(message_ids[start : start + 500]),
            )
            .order_by(Communication.sent_at)
        )
        for row in session.scalars(stmt):
            assert row.provider_message_id is not None
            found[row.provider_message_id] = row
    return found


def patients_by_phone(session: Session, org_id: str, phone: str) -> list[Patient]:
    stmt = select(Patient).where(Patient.org_id == org_id, Patient.phone == phone)
    return list(session.scalars(stmt.order_by(Patient.id)))


def patients_by_email(session: Session, org_id: str, emails: Sequence[str]) -> list[Patient]:
    stmt = select(Patient).where(Patient.org_id == org_id, Patient.email.in_(list(emails)))
    return list(session.scalars(stmt.order_by(Patient.id)))


def latest_communications(
    session: Session, org_id: str, patient_ids: Sequence[str], limit: int = 20
) -> dict[str, list[Communication]]:
    """Each patient's latest communications, newest first."""
    out: dict[str, list[Communication]] = {}
    for patient_id in patient_ids:
        stmt = (
            select(Communication)
            .where(Communication.org_id == org_id, Communication.patient_id == patient_id)
            .order_by(Communication.sent_at.desc(), Communication.id.desc())
            .limit(limit)
        )
        out[patient_id] = list(session.scalars(stmt))
    return out


def add_consent(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.add_all(ConsentChange(**row) for row in rows)
    session.flush()


def consent_history(session: Session, org_id: str, patient_id: str) -> list[ConsentChange]:
    stmt = (
        select(ConsentChange)
        .where(ConsentChange.org_id == org_id, ConsentChange.patient_id == patient_id)
        .order_by(ConsentChange.at.desc(), ConsentChange.id.desc())
    )
    return list(session.scalars(stmt))


def recent_events(
    session: Session, org_id: str, waiting_only: bool, limit: int
) -> list[ProviderEvent]:
    stmt = select(ProviderEvent).where(ProviderEvent.org_id == org_id)
    if waiting_only:
        stmt = stmt.where(ProviderEvent.applied_at.is_(None))
    stmt = stmt.order_by(ProviderEvent.received_at.desc(), ProviderEvent.key).limit(limit)
    return list(session.scalars(stmt))
