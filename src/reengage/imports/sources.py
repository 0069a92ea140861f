"""Opening what a user names (a CSV file and a profile, a FHIR file or folder) as a source
for the import service: one place for the CLI and the API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy.orm import Session

from reengage.imports import profiles
from reengage.imports.csv_source import CsvSource
from reengage.imports.fhir_source import FhirSource
from reengage.imports.service import Found, Item, Source
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


class Chained:
    """Several sources read as one import, in the order given: one transaction, one report,
    one derived refresh at the end (a clinic's patients, appointments and messages usually
    come as separate exports; importing them one by one would redo every patient's derived
    state once per file). Appointments in a later file may name patients of an earlier one."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.name = ", ".join(source.name for source in self.sources)
        self.total = sum(source.total for source in self.sources)
        self._finished = 0
        self._current: Source | None = None

    @property
    def done(self) -> int:
        return self._finished + (self._current.done if self._current is not None else 0)

    def __iter__(self) -> Iterator[Item | Found]:
        for source in self.sources:
            self._current = source
            yield from source
            self._finished += source.total
            self._current = None


def open_csv_sources(
    session: Session, org_id: str, paths: Sequence[Path], profile_names: Sequence[str]
) -> Source:
    """CSV files, each read through its profile: one profile for all of them, or one per
    file in the same order. Raises as ``open_source`` does."""
    if not paths:
        raise ValueError("name at least one CSV file")
    if len(profile_names) not in (1, len(paths)):
        raise ValueError(
            f"give one profile for all the files, or one per file: {len(paths)} file(s), "
            f"{len(profile_names)} profile(s)"
        )
    names = list(profile_names) * len(paths) if len(profile_names) == 1 else list(profile_names)
    opened = [
        open_source(session, org_id, "csv", path, profile=name)
        for path, name in zip(paths, names, strict=True)
    ]
    return opened[0] if len(opened) == 1 else Chained(opened)
