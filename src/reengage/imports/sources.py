"""Opening what a user names (a CSV file and a profile, a FHIR file or folder) as a source
for the import service: one place for the CLI and the API."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy.orm import Session

from reengage.imports import profiles
from reengage.imports.csv_source import CsvSource
from reengage.imports.fhir_source import FhirSource
from reengage.imports.service import Source
from reengage.orgs import service as orgs_service

FORMATS = ("csv", "fhir")


def open_source(
    session: Session,
    org_id: str,
    format_: str,
    path: Path,
    *,
    profile: str | None = None,
    phone_region: str | None = None,
    name: str | None = None,
) -> Source:
    """Raises ``LookupError`` for an org that does not exist, ``profiles.ProfileError`` for a
    profile that cannot be used, ``ValueError`` for anything else the user must change."""
    timezone = orgs_service.get_settings(session, org_id).timezone
    if not path.exists():
        raise ValueError(f"no such file or folder: {path.name}")
    if format_ == "csv":
        if profile is None:
            raise ValueError(
                f"a CSV import needs a profile: one of {', '.join(profiles.builtin_names())}, "
                "or a profile file's path"
            )
        if path.is_dir():
            raise ValueError("a CSV import reads one file, not a folder")
        return CsvSource(path, profiles.load(profile, timezone), name=name)
    if format_ == "fhir":
        if phone_region is not None and phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"phone region '{phone_region}' is not a region code such as AU")
        source = FhirSource(path, ZoneInfo(timezone), phone_region)
        if name:
            source.name = name
        return source
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
