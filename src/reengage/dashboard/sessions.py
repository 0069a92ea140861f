"""Signing staff in to the dashboard with an org API key, and keeping them signed in.

A session lives in the database, not in the cookie: signing out, a revoked key and 30
minutes of inactivity all end it on the server, whatever the browser still holds. The cookie
carries a random token; the database keeps its SHA-256 only (as for API keys).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from reengage import clock
from reengage.auth import service as auth_service
from reengage.auth.keys import hash_key
from reengage.auth.principal import Principal
from reengage.auth.throttle import KeyFailures
from reengage.dashboard import repository
from reengage.models import DashboardSession

IDLE_TIMEOUT = timedelta(minutes=30)
# Recording every page view would turn every read into a write; a minute is close enough.
TOUCH_RESOLUTION = timedelta(minutes=1)
TOKEN_PREFIX = "rs_"  # noqa: S105  (a marker, not a secret)
# Roles that may use the dashboard; ``ingest`` keys only write records.
DASHBOARD_PERMISSION = "analytics"


class SignInError(ValueError):
    """A refused sign-in; the message is fit to show on the sign-in page."""


@dataclass(frozen=True)
class SignedIn:
    """The request's signed-in user: who (as a Principal), and the session's own ids."""

    principal: Principal
    session_id: str
    csrf_token: str
    org_name: str  # the clinic's name, for the header (its id is for machines)

    @property
    def sees_patients(self) -> bool:
        return self.principal.may("read_patients")

    @property
    def may_write(self) -> bool:
        return self.principal.may("write")

    @property
    def may_act_on_alerts(self) -> bool:
        return self.principal.may("alerts")

    @property
    def may_approve_checkins(self) -> bool:
        return self.principal.may("checkins")


def csrf_token(token: str) -> str:
    """Derived from the session's secret: only a page served to that session can know it."""
    return hashlib.sha256(f"csrf:{token}".encode()).hexdigest()


def sign_in(
    session: Session, presented_key: str, client: str | None, failures: KeyFailures
) -> tuple[SignedIn, str]:
    """A new session for the key's org and role, and the cookie token to send (once).
    Raises ``Throttled`` after too many failed sign-ins (``auth.throttle``)."""
    principal = auth_service.authenticate_limited(session, presented_key.strip(), client, failures)
    if principal is None:
        raise SignInError("That key is not valid: check it, or ask your administrator for one.")
    if not principal.may(DASHBOARD_PERMISSION):
        raise SignInError(
            f"A '{principal.role}' key only sends records; sign in with an admin, staff "
            "or viewer key."
        )
    now = clock.now()
    repository.remove_idle(session, principal.org_id, now - IDLE_TIMEOUT)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = DashboardSession(
        org_id=principal.org_id,
        id=secrets.token_hex(8),
        token_hash=hash_key(token),
        key_id=principal.key_id,
        created_at=now,
        last_seen_at=now,
    )
    repository.add(session, row)
    session.flush()
    name = repository.org_name(session, principal.org_id) or principal.org_id
    return SignedIn(principal, row.id, csrf_token(token), name), token


def resolve(session: Session, token: str | None) -> SignedIn | None:
    """The signed-in user for a cookie token; None when it is unknown, idle for 30 minutes,
    or its key was revoked (an ended session is deleted)."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    found = repository.by_token_hash(session, hash_key(token))
    if found is None:
        return None
    row, key, org_name = found
    now = clock.now()
    if key.revoked_at is not None or now - row.last_seen_at >= IDLE_TIMEOUT:
        repository.remove(session, row.org_id, row.id)
        return None
    if now - row.last_seen_at >= TOUCH_RESOLUTION:
        repository.touch(session, row.org_id, row.id, now)
    principal = Principal(key_id=key.id, org_id=key.org_id, role=key.role)
    return SignedIn(principal, row.id, csrf_token(token), org_name)


def sign_out(session: Session, user: SignedIn) -> None:
    repository.remove(session, user.principal.org_id, user.session_id)
