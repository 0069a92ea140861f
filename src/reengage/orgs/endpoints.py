"""Settings and key management for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict

from reengage.auth import service as auth_service
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.domain.settings import (
    AlertRules,
    Benchmarks,
    Kpis,
    KpiTargets,
    OrgSettings,
    TierThresholds,
    known_timezones,
)
from reengage.domain.vocabulary import Role
from reengage.errors import pattern
from reengage.orgs import service
from reengage.plain_text import ShortText

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}", tags=["settings and keys"], route_class=PermissionFirst
)
KEY_ID = pattern(r"^[0-9a-f]{1,32}$", "must be a key id: 1-32 lowercase hexadecimal digits")

SettingsAdmin = Annotated[Principal, Depends(require("settings"))]
KeysAdmin = Annotated[Principal, Depends(require("keys"))]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object_of(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": fields}


def _bounds(model: type[BaseModel], name: str) -> dict[str, Any]:
    """A setting's number schema, with the bounds its model holds it to."""
    schema = model.model_json_schema()["properties"][name]
    return {k: v for k, v in schema.items() if k in ("type", "minimum", "maximum")}


# What a PATCH of the alert rules may carry (also ``PATCH /alerts/rules``' body).
ALERTS_PATCH_SCHEMA = _object_of(
    {
        name: _nullable(
            _object_of(
                {field: _nullable(_bounds(type(rule), field)) for field in type(rule).model_fields}
            )
        )
        for name, rule in AlertRules()
    }
)

# What a PATCH may carry, read from the settings' own models (the request is a merge patch
# of any subset, so every key is optional and null, which restores the default). Thresholds
# must also increase, after the merge: a rule a schema cannot state, answered 422.
PATCH_SCHEMA = _object_of(
    {
        "timezone": _nullable({"type": "string", "enum": sorted(known_timezones())}),
        "tier_thresholds": _nullable(
            _object_of(
                {
                    name: _nullable(_bounds(TierThresholds, name))
                    for name in TierThresholds.model_fields
                }
            )
        ),
        "booked_patients_are_engaged": _nullable({"type": "boolean"}),
        "attribution_window_days": _nullable(_bounds(OrgSettings, "attribution_window_days")),
        "benchmarks": _nullable(
            _object_of(
                {name: _nullable(_bounds(Benchmarks, name)) for name in Benchmarks.model_fields}
            )
        ),
        "weekly_contact_target": _nullable(_bounds(OrgSettings, "weekly_contact_target")),
        "checkins_daily_cap": _nullable(_bounds(OrgSettings, "checkins_daily_cap")),
        "alerts": _nullable(ALERTS_PATCH_SCHEMA),
        "digest": _nullable(
            _object_of(
                {
                    "enabled": _nullable({"type": "boolean"}),
                    "recipients": _nullable(
                        {"type": "array", "items": {"type": "string"}, "maxItems": 50}
                    ),
                    "at": _nullable({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}),
                }
            )
        ),
        "kpis": _nullable(
            _object_of(
                {
                    "period_days": _nullable(_bounds(Kpis, "period_days")),
                    "baseline_start": _nullable({"type": "string", "format": "date"}),
                    "baseline_end": _nullable({"type": "string", "format": "date"}),
                    "targets": _nullable(
                        _object_of(
                            {
                                name: _nullable(_bounds(KpiTargets, name))
                                for name in KpiTargets.model_fields
                            }
                        )
                    ),
                }
            )
        ),
    }
)


@router.get("/settings", response_model=OrgSettings, summary="The org's settings")
def get_settings(org_id: OrgId, session: SessionDep, _: SettingsAdmin) -> OrgSettings:
    return service.get_settings(session, org_id)


@router.patch(
    "/settings",
    response_model=OrgSettings,
    summary="Change settings (JSON merge patch: send only what changes; null restores a default)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": PATCH_SCHEMA}}}},
)
def patch_settings(
    org_id: OrgId,
    patch: Annotated[dict[str, Any], Body(examples=[{"tier_thresholds": {"low": 10}}])],
    session: SessionDep,
    _: SettingsAdmin,
) -> OrgSettings:
    updated = service.patch_settings(session, org_id, patch)
    return updated


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    label: ShortText | None = None


class NewKeyOut(KeyOut):
    key: str


@router.get("/keys", response_model=list[KeyOut], summary="The org's API keys (never the keys)")
def list_keys(org_id: OrgId, session: SessionDep, _: KeysAdmin) -> list[Any]:
    return list(auth_service.list_keys(session, org_id))


@router.post(
    "/keys", response_model=NewKeyOut, status_code=201, summary="Create a key (shown once)"
)
def create_key(org_id: OrgId, body: NewKeyIn, session: SessionDep, _: KeysAdmin) -> NewKeyOut:
    row, key = auth_service.create_key(session, org_id, body.role, body.label)
    return NewKeyOut(**KeyOut.model_validate(row).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke a key")
def revoke_key(
    org_id: OrgId,
    key_id: Annotated[
        str, Path(pattern=KEY_ID, description="The key's id, as the key list shows it")
    ],
    session: SessionDep,
    _: KeysAdmin,
) -> Any:
    try:
        row = auth_service.revoke_key(session, key_id, org_id, keep_an_admin=True)
    except auth_service.LastAdminKey as exc:
        raise HTTPException(409, str(exc)) from None
    except auth_service.AuthError:
        raise HTTPException(404, f"no key '{key_id}' in this org") from None
    return row
