"""Reading and changing an org's settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reengage.auth import repository
from reengage.derived import upkeep
from reengage.domain.settings import OrgSettings, merge_patch


def get_settings(session: Session, org_id: str) -> OrgSettings:
    org = repository.get_org(session, org_id)
    if org is None:
        raise LookupError(org_id)
    return OrgSettings.model_validate(org.settings or {})


def patch_settings(session: Session, org_id: str, patch: dict[str, Any]) -> OrgSettings:
    """Apply a JSON merge patch; the whole result is validated before anything is stored.

    Raises pydantic's ValidationError, whose locations are the settings' own field names.
    """
    org = repository.get_org(session, org_id)
    if org is None:
        raise LookupError(org_id)
    current = OrgSettings.model_validate(org.settings or {})
    updated = OrgSettings.model_validate(merge_patch(current.model_dump(), patch))
    org.settings = updated.model_dump()
    session.flush()
    if updated.derivation_key() != current.derivation_key():
        # Derived rows hold days in the org's timezone and tiers under its thresholds.
        upkeep.rebuild(session, org_id, updated)
    return updated
