"""FastAPI dependencies: the request's principal, and org/role checks (the request's session
is ``reengage.db.session``'s).

A key used on another org's path gets exactly what a missing org gets (404), so nobody can
learn which org ids exist. Only a key of the right org learns that its role falls short (403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from reengage.auth.principal import Principal
from reengage.wording import with_article

OrgId = Annotated[str, Path(description="The organization's id, e.g. org_demo")]


def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):  # only reachable if the middleware is missing
        raise HTTPException(401, "missing or invalid API key")
    return principal


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that admits the principal to ``{org_id}`` for ``permission``."""

    def check(org_id: OrgId, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.org_id != org_id:
            raise HTTPException(404, "Not Found")
        if not principal.may(permission):
            role = with_article(f"'{principal.role}'")
            raise HTTPException(403, f"{role} key may not do this (it needs '{permission}' access)")
        return principal

    return check
