"""FastAPI dependencies: the request's principal, and org/role checks (the request's session
is ``reengage.db.session``'s).

A key used on another org's path gets exactly what a missing org gets (404), so nobody can
learn which org ids exist. Only a key of the right org learns that its role falls short (403).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from reengage.auth.principal import Principal
from reengage.wording import with_article

OrgId = Annotated[str, Path(description="The organization's id, e.g. org_demo")]


# The two below are ``async`` for what they do not do: they read the request and raise,
# no I/O. Plain functions, FastAPI would run each in a worker thread: two of the seven thread
# hops of every API request, each a wait for the interpreter when requests are many.
async def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):  # only reachable if the middleware is missing
        raise HTTPException(401, "missing or invalid API key")
    return principal


def require(permission: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits the principal to ``{org_id}`` for ``permission``."""

    async def check(
        org_id: OrgId, principal: Annotated[Principal, Depends(get_principal)]
    ) -> Principal:
        if principal.org_id != org_id:
            raise HTTPException(404, "Not Found")
        if not principal.may(permission):
            raise _forbidden(principal, permission)
        return principal

    setattr(check, "permission", permission)  # read by PermissionFirst  # noqa: B010
    return check


def _forbidden(principal: Principal, permission: str) -> HTTPException:
    role = with_article(f"'{principal.role}'")
    return HTTPException(403, f"{role} key may not do this (it needs '{permission}' access)")


def _permission_of(dependant: Dependant) -> str | None:
    """The permission a route's ``require`` dependency asks for, wherever it is declared."""
    for sub in dependant.dependencies:
        found = getattr(sub.call, "permission", None) or _permission_of(sub)
        if found:
            return str(found)
    return None


class PermissionFirst(APIRoute):
    """A route that refuses a key whose role falls short before the body is read.

    FastAPI parses a JSON body before it runs any dependency, so a viewer key sending
    malformed JSON to a write route would learn about the JSON (422), not that it may not
    write (403). The ``require`` dependency still runs as before; this only answers first.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        permission = _permission_of(self.dependant)
        if permission is None:
            return handler

        async def checked(request: Request) -> Response:
            principal = getattr(request.state, "principal", None)
            if (
                isinstance(principal, Principal)
                and principal.org_id == request.path_params.get("org_id")
                and not principal.may(permission)
            ):
                raise _forbidden(principal, permission)
            return await handler(request)

        return checked
