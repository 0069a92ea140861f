"""Mapping profiles: which column of a clinic's CSV export holds which field of our records.

A profile is a small TOML file (``docs/imports.md`` describes every key). It is read once and
compiled into one function per field, so that the rows of a large file go through plain
calls, no lookups of the profile's text. A mistake in a profile is refused at load, naming
the key and the reason, before any row is read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from reengage import clock
from reengage.domain import phones
from reengage.records.kinds import KINDS, KINDS_BY_NAME

# Fields whose values are instants, lists of words, a phone number, or ids.
LIST_FIELDS = frozenset({"communication_preferences", "opt_outs", "health_conditions"})
ID_FIELDS = frozenset({"id", "patient_id"})
TOP_KEYS = frozenset(
    {
        "name",
        "title",
        "system",
        "documentation",
        "delimiter",
        "encoding",
        "timezone",
        "datetime_formats",
        "phone_region",
        "list_separator",
        "id_prefix",
        *(kind.name for kind in KINDS),
    }
)
SPEC_KEYS = frozenset(
    {"column", "columns", "join", "first_of", "value", "values", "default", "rules", "otherwise"}
)
RULE_KEYS = frozenset({"column", "equals", "present", "past", "then"})
DELIMITERS = {"auto": None, ",": ",", ";": ";", "tab": "\t", "\t": "\t", "|": "|"}
ISO = "iso"


class ProfileError(ValueError):
    """A profile that cannot be used: names the key and the reason."""


class CellError(ValueError):
    """A cell that does not fit its field: the reason, never the value (it may be patient data)."""


Row = Sequence[str]
Getter = Callable[[Row], Any]


Index = Callable[[str], int]  # a column's position in the file's header


@dataclass(frozen=True)
class FieldMap:
    """One field of a record kind: the columns it reads (for the header check and for naming
    them in a problem), and how to make its reader once the header's positions are known."""

    name: str
    columns: tuple[str, ...]
    make: Callable[[Index], Getter]


@dataclass(frozen=True)
class KindMap:
    kind: str
    fields: tuple[FieldMap, ...]
    # Records already in the org are left as they are (a wide appointments report names
    # each row's patient, but the patients export knows them better).
    only_new: bool = False


@dataclass(frozen=True)
class BoundKind:
    """A kind's readers bound to one file's header: row in, record values out."""

    kind: str
    fields: tuple[tuple[FieldMap, Getter], ...]
    only_new: bool = False

    def record(self, row: Row) -> tuple[dict[str, Any], list[tuple[FieldMap, str]]]:
        """The record's values from one row, and the fields that could not be read (why)."""
        values: dict[str, Any] = {}
        problems: list[tuple[FieldMap, str]] = []
        for one, read in self.fields:
            try:
                value = read(row)
            except CellError as exc:
                problems.append((one, str(exc)))
                continue
            if value is not None and value != []:
                values[one.name] = value
        return values, problems


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    delimiter: str | None  # None: found from the header line
    encoding: str
    kinds: tuple[KindMap, ...]
    columns: tuple[str, ...]  # every column any field reads, in the profile's order
    documentation: tuple[str, ...] = field(default=())

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(kind.kind for kind in self.kinds)


def builtin_names() -> list[str]:
    """The profiles shipped with reengage (``src/reengage/imports/profiles/*.toml``)."""
    folder = resources.files("reengage.imports").joinpath("profiles")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def builtin_text(name: str) -> str:
    return resources.files("reengage.imports").joinpath("profiles", f"{name}.toml").read_text()


def load(name_or_path: str, org_timezone: str) -> Profile:
    """A built-in profile by name, or a profile file by path."""
    if name_or_path in builtin_names():
        text = builtin_text(name_or_path)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(
                f"no built-in profile '{name_or_path}' and no such file; the built-in ones "
                f"are {', '.join(builtin_names())}"
            )
        text = path.read_text(encoding="utf-8")
    return parse(text, org_timezone)


def parse(text: str, org_timezone: str) -> Profile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"is not valid TOML: {exc}") from None
    return compile_profile(raw, org_timezone)


def compile_profile(raw: Mapping[str, Any], org_timezone: str) -> Profile:
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ProfileError(
            f"'{unknown[0]}' is not a profile key; the keys are {', '.join(sorted(TOP_KEYS))}"
        )
    zone = _zone(str(raw.get("timezone", "org")), org_timezone)
    formats = raw.get("datetime_formats", [ISO])
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        raise ProfileError("datetime_formats must be a list of strptime formats (or 'iso')")
    region = raw.get("phone_region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ProfileError(f"phone_region '{region}' is not a region code such as AU, GB or US")
    delimiter = str(raw.get("delimiter", "auto"))
    if delimiter not in DELIMITERS:
        raise ProfileError(f"delimiter must be one of {', '.join(map(repr, DELIMITERS))}")
    patients = raw.get("patients", {})
    if not isinstance(patients, dict):
        raise ProfileError("[patients] must be a table of field = column")
    context = _Context(
        zone=zone,
        formats=tuple(formats),
        region=region,
        separator=str(raw.get("list_separator", ",")),
        prefix=str(raw.get("id_prefix", "")),
        patient_prefix=str(patients.get("id_prefix", raw.get("id_prefix", ""))),
    )
    kinds = [_kind(name, raw[name], context) for name in KINDS_BY_NAME if name in raw]
    if not kinds:
        raise ProfileError(
            "names no record kind: add a [patients], [appointments], [communications] or "
            "[followups] table"
        )
    columns: list[str] = []
    for kind in kinds:
        for one in kind.fields:
            columns += [c for c in one.columns if c not in columns]
    docs = raw.get("documentation", [])
    return Profile(
        name=str(raw.get("name", "custom")),
        title=str(raw.get("title", raw.get("name", "custom profile"))),
        delimiter=DELIMITERS[delimiter],
        encoding=str(raw.get("encoding", "utf-8-sig")),
        kinds=tuple(kinds),
        columns=tuple(columns),
        documentation=tuple(docs) if isinstance(docs, list) else (str(docs),),
    )


@dataclass(frozen=True)
class _Context:
    zone: tzinfo
    formats: tuple[str, ...]
    region: str | None
    separator: str
    prefix: str
    patient_prefix: str


def _zone(name: str, org_timezone: str) -> tzinfo:
    try:
        return ZoneInfo(org_timezone if name == "org" else name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(
            f"timezone '{name}' is not an IANA time zone such as Australia/Sydney"
        ) from None


def _kind(name: str, table: Any, context: _Context) -> KindMap:
    kind = KINDS_BY_NAME[name]
    if not isinstance(table, dict):
        raise ProfileError(f"[{name}] must be a table of field = column")
    allowed = set(kind.fields)
    fields: list[FieldMap] = []
    for key, spec in table.items():
        if key in ("id_prefix", "only_new"):
            continue
        if key not in allowed:
            raise ProfileError(
                f"{name}.{key} is not a field of {kind.singular} records; they have "
                f"{', '.join(kind.fields)}"
            )
        fields.append(_field(name, key, spec, table.get("id_prefix", context.prefix), context))
    required = [
        f for f, info in kind.schema.model_fields.items() if info.is_required() and f != "id"
    ]
    missing = [f for f in ("id", *required) if f not in table]
    if missing:
        raise ProfileError(f"[{name}] must say where {', '.join(missing)} come(s) from")
    return KindMap(name, tuple(fields), bool(table.get("only_new", False)))


def _field(kind: str, name: str, spec: Any, prefix: str, context: _Context) -> FieldMap:
    at = f"{kind}.{name}"
    if isinstance(spec, str):
        spec = {"column": spec}
    if isinstance(spec, list):
        spec = {"columns": spec}
    if not isinstance(spec, dict):
        raise ProfileError(f"{at} must be a column name or a table")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ProfileError(f"{at}: '{unknown[0]}' is not a key of a field")
    values = {_fold(k): v for k, v in spec.get("values", {}).items()}
    columns: list[str] = []
    source: Callable[[Index], Getter]
    if "value" in spec:
        constant = str(spec["value"])

        def source(_: Index) -> Getter:
            return lambda row: constant
    elif "rules" in spec:
        source = _rules(at, spec, name in LIST_FIELDS, columns, context)
    elif "columns" in spec or "first_of" in spec:
        names = spec.get("columns") or spec.get("first_of")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProfileError(f"{at}: columns and first_of are lists of column names")
        columns += names
        joiner = str(spec.get("join", " "))
        first = "first_of" in spec

        def source(index: Index) -> Getter:
            at_ = [index(n) for n in names]
            if first:
                return lambda row: next((row[i].strip() for i in at_ if row[i].strip()), "")
            return lambda row: joiner.join(row[i].strip() for i in at_ if row[i].strip())
    elif "column" in spec:
        column = str(spec["column"])
        columns.append(column)

        def source(index: Index) -> Getter:
            i = index(column)
            return lambda row: row[i]
    else:
        raise ProfileError(f"{at} must name a column, columns, first_of, value or rules")
    default = None if spec.get("default") is None else str(spec["default"])
    convert = _converter(kind, name, values, prefix, context)

    def make(index: Index) -> Getter:
        raw = source(index)

        def read(row: Row) -> Any:
            value = raw(row)
            if isinstance(value, list):
                return value
            if value is None or not value.strip():
                if default is None:
                    return None
                value = default
            return convert(value.strip())

        return read

    return FieldMap(name, tuple(columns), make)


def bind(profile: Profile, header: Sequence[str]) -> tuple[BoundKind, ...]:
    """The profile's readers with column positions from this header (the reader has checked
    that every column the profile names is there)."""
    positions = {name.strip(): i for i, name in enumerate(header)}
    return tuple(
        BoundKind(
            kind.kind,
            tuple((one, one.make(positions.__getitem__)) for one in kind.fields),
            kind.only_new,
        )
        for kind in profile.kinds
    )


def _fold(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def _rules(
    at: str, spec: dict[str, Any], collect: bool, columns: list[str], context: _Context
) -> Callable[[Index], Getter]:
    """Ordered tests of cells: the first that holds gives the value (for a list field, every
    one that holds adds its value)."""
    instant = instant_parser(context.formats, context.zone)

    def past(cell: str) -> bool:
        try:
            return instant(cell) <= clock.now()
        except CellError:
            return False

    rules = spec["rules"]
    if not isinstance(rules, list) or not rules:
        raise ProfileError(f"{at}.rules must be a list of {{ column, equals|present|past, then }}")
    checked = []
    for number, rule in enumerate(rules, 1):
        if not isinstance(rule, dict) or "column" not in rule or "then" not in rule:
            raise ProfileError(f"{at}.rules[{number}] needs a column and a then")
        unknown = sorted(set(rule) - RULE_KEYS)
        if unknown:
            raise ProfileError(f"{at}.rules[{number}]: '{unknown[0]}' is not a key of a rule")
        tests = [k for k in ("equals", "present", "past") if k in rule]
        if len(tests) != 1:
            raise ProfileError(f"{at}.rules[{number}] needs exactly one of equals, present, past")
        equals = rule.get("equals")
        wanted = (
            frozenset(_fold(v) for v in (equals if isinstance(equals, list) else [equals]))
            if equals is not None
            else None
        )
        columns.append(str(rule["column"]))
        checked.append((str(rule["column"]), wanted, bool(rule.get("present", True)), rule))
    otherwise = spec.get("otherwise")

    def source(index: Index) -> Getter:
        bound = [(index(c), wanted, present, rule) for c, wanted, present, rule in checked]

        def read(row: Row) -> Any:
            found: list[str] = []
            for i, wanted, present, rule in bound:
                cell = row[i].strip()
                if wanted is not None:
                    hit = _fold(cell) in wanted
                elif "past" in rule:
                    hit = bool(cell) and past(cell)
                else:
                    hit = bool(cell) == present
                if hit:
                    if not collect:
                        return str(rule["then"])
                    found.append(str(rule["then"]))
            if collect:
                return found
            return None if otherwise is None else str(otherwise)

        return read

    return source


def _converter(
    kind: str, name: str, values: dict[str, Any], prefix: str, context: _Context
) -> Callable[[str], Any]:
    def mapped(value: str) -> str:
        return str(values.get(_fold(value), value)) if values else value

    if name.endswith("_at"):
        parse = instant_parser(context.formats, context.zone)
        return lambda value: parse(mapped(value))
    if name in LIST_FIELDS:
        separator = context.separator

        def listed(value: str) -> list[str]:
            return [mapped(v.strip()) for v in value.split(separator) if v.strip()]

        return listed
    if name == "phone":
        region = context.region

        def phone(value: str) -> str:
            number = phones.e164(value, region)
            if number is None:
                where = f" in region {region}" if region else " (no phone_region is set)"
                raise CellError(f"is not a phone number that can be read{where}")
            return number

        return phone
    if name in ID_FIELDS:
        own = context.patient_prefix if (name == "patient_id" or kind == "patients") else prefix
        return lambda value: own + mapped(value)
    return mapped


def instant_parser(formats: Sequence[str], zone: tzinfo) -> Callable[[str], datetime]:
    """Read an instant with the first of ``formats`` that fits ('iso' for ISO 8601); a time
    without an offset is the profile's (or the org's) local time, a bare date its midnight."""
    names = ", ".join(formats)

    def parse(value: str) -> datetime:
        for form in formats:
            try:
                if form == ISO:
                    found = datetime.fromisoformat(value)
                else:
                    found = datetime.strptime(value, form)  # noqa: DTZ007 (zone set below)
            except ValueError:
                continue
            if found.tzinfo is None:
                found = found.replace(tzinfo=zone)
            return found
        raise CellError(f"does not fit the profile's date-time formats ({names})")

    return parse
