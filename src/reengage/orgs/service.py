"""Reading and changing an org's settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reengage.auth import repository
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
    current = OrgSettings.model_validate(org.settings or {}).model_dump()
    updated = OrgSettings.model_validate(merge_patch(current, patch))
    org.settings = updated.model_dump()
    session.flush()
    return updated
