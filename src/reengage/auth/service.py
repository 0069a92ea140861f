"""Keys: creating, listing, revoking, and turning a presented key into a Principal. Orgs are
created by ``reengage.orgs.service``; here they are only read."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from reengage import clock
from reengage.auth import repository
from reengage.auth.keys import hash_key, new_key
from reengage.auth.principal import Principal
from reengage.auth.throttle import KeyFailures, key_id_of
from reengage.db.locks import lock_org_writes
from reengage.domain.vocabulary import ROLES
from reengage.models import ApiKey

# Recording last use on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class AuthError(ValueError):
    """A refused org or key operation; the message is fit to show the operator."""


class LastAdminKey(AuthError):
    """Revoking this key would leave the org with no admin key: nobody could then manage
    its keys or settings through the API."""


def create_key(
    session: Session, org_id: str, role: str, label: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for the org; the full key is returned once and never stored."""
    if role not in ROLES:
        raise AuthError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
    if repository.get_org(session, org_id) is None:
        raise AuthError(f"no org '{org_id}'")
    key_id, key = new_key()
    row = ApiKey(
        org_id=org_id,
        id=key_id,
        role=role,
        label=label,
        key_hash=hash_key(key),
        created_at=clock.now(),
    )
    repository.add(session, row)
    session.flush()
    return row, key


def revoke_key(
    session: Session, key_id: str, org_id: str | None = None, keep_an_admin: bool = False
) -> ApiKey:
    """Revoke a key (again: no change). ``keep_an_admin``: refuse to revoke the org's last
    active admin key (the API's rule; the operator's CLI may, and can make a new one)."""
    row = repository.key_by_id(session, key_id, org_id)
    if row is None:
        raise AuthError(f"no key '{key_id}'")
    if row.revoked_at is None and keep_an_admin and row.role == "admin":
        # Under the org's write lock: two admins revoking each other's keys at once must
        # not both succeed.
        lock_org_writes(session, row.org_id)
        if repository.count_active_keys(session, row.org_id, "admin") <= 1:
            raise LastAdminKey(
                f"key '{key_id}' is the org's last admin key: create another admin key "
                "first, then revoke this one"
            )
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.flush()
    return row


def list_keys(session: Session, org_id: str) -> list[ApiKey]:
    if repository.get_org(session, org_id) is None:
        raise AuthError(f"no org '{org_id}'")
    return repository.keys_of_org(session, org_id)


def authenticate_limited(
    session: Session, presented: str, client: str | None, failures: KeyFailures
) -> Principal | None:
    """``authenticate``, under the limits on failed checks: raises ``Throttled`` when this
    client or the key's org has failed too often lately, and counts a failure."""
    failures.check(client, presented)
    principal = authenticate(session, presented)
    if principal is None:
        key_id = key_id_of(presented)
        known = repository.key_by_id(session, key_id) if key_id else None
        failures.failed(client, presented, known.org_id if known else None)
    return principal


def authenticate(session: Session, presented: str) -> Principal | None:
    """The principal a presented key stands for, or None if it is unknown or revoked."""
    row = repository.key_by_hash(session, hash_key(presented))
    if row is None or row.revoked_at is not None:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        repository.touch_key(session, row.org_id, row.id, now)
    return Principal(key_id=row.id, org_id=row.org_id, role=row.role)
