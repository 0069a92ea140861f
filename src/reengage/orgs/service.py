"""Creating orgs, and reading and changing their settings."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from reengage import clock
from reengage.auth import repository
from reengage.auth.service import AuthError
from reengage.db.locks import lock_org_writes
from reengage.derived import histories, status, upkeep
from reengage.domain.settings import OrgSettings, merge_patch
from reengage.models import Org

# Patients an org may have for a settings change to rebuild its derived rows in the request
# (well under a second); above, the scheduler does it.
INLINE_REBUILD_MOST = 1000
ORG_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,62}$")


def create_org(session: Session, org_id: str, name: str, timezone: str = "UTC") -> Org:
    if not ORG_ID_PATTERN.match(org_id):
        raise AuthError(
            "org id must be 2-63 characters: lowercase letters, digits, _ and -, "
            "starting with a letter or digit"
        )
    if not name.strip():
        raise AuthError("org name must not be empty")
    if repository.get_org(session, org_id) is not None:
        raise AuthError(f"org '{org_id}' already exists")
    try:
        settings = OrgSettings(timezone=timezone)
    except ValueError:
        raise AuthError(
            f"unknown timezone '{timezone}': use an IANA name such as 'Australia/Sydney'"
        ) from None
    org = Org(
        id=org_id,
        name=name.strip(),
        settings=settings.model_dump(mode="json"),
        created_at=clock.now(),
    )
    repository.add(session, org)
    session.flush()
    # No patients yet, so every derived row there is (none) is complete and summed.
    status.put(session, org_id, settings.derivation_key(), None)
    return org


def org_exists(session: Session, org_id: str) -> bool:
    return repository.get_org(session, org_id) is not None


def org_ids(session: Session) -> list[str]:
    return [org.id for org in repository.list_orgs(session)]


def get_org(session: Session, org_id: str) -> Org:
    org = repository.get_org(session, org_id)
    if org is None:
        raise LookupError(org_id)
    return org


def get_settings(session: Session, org_id: str) -> OrgSettings:
    org = repository.get_org(session, org_id)
    if org is None:
        raise LookupError(org_id)
    return OrgSettings.model_validate(org.settings or {})


def patch_settings(session: Session, org_id: str, patch: dict[str, Any]) -> OrgSettings:
    """Apply a JSON merge patch; the whole result is validated before anything is stored.

    Raises pydantic's ValidationError, whose locations are the settings' own field names.
    """
    lock_org_writes(session, org_id)
    org = repository.get_org(session, org_id)
    if org is None:
        raise LookupError(org_id)
    current = OrgSettings.model_validate(org.settings or {})
    updated = OrgSettings.model_validate(merge_patch(current.model_dump(mode="json"), patch))
    org.settings = updated.model_dump(mode="json")
    session.flush()
    # Derived rows hold days in the org's timezone and tiers under its thresholds: rows under
    # the old key no longer answer (``derived.freshness``), so every answer comes from the
    # histories until they are rebuilt. A small org is rebuilt here; a larger one by the
    # scheduler's ``derived-rebuild`` (seconds later), so that this answers at once whatever
    # the org's size.
    if (
        updated.derivation_key() != current.derivation_key()
        and histories.patient_count(session, org_id) <= INLINE_REBUILD_MOST
    ):
        upkeep.rebuild(session, org_id, updated)
    return updated
