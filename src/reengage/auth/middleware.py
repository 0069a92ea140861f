"""Authentication before anything else reads the request, and one access-log line per request.

Running as ASGI middleware (not a FastAPI dependency) means an unauthenticated request is
refused with 401 before its body is even parsed: nothing about the API's validation or an
org's existence can be learnt without a valid key.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reengage.auth.principal import Principal
from reengage.auth.service import authenticate_limited
from reengage.auth.throttle import KeyFailures, Throttled
from reengage.metrics import observe_request

log = logging.getLogger("reengage.access")

PROTECTED_PREFIX = "/api/"
# Static files and the API docs: nothing about a patient or a user to log.
UNLOGGED_PREFIXES = (
    "/dashboard-static/",
    "/static/",
    "/docs",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
)
# Every org-scoped route lives under one of these; the segment after it is the org id.
ORG_PATH = re.compile(r"^/api/v1/(?:orgs|reengagement)/([^/]+)")


class ApiAuthMiddleware:
    def __init__(
        self, app: ASGIApp, sessions: sessionmaker[Session], failures: KeyFailures
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if scope["path"].startswith(PROTECTED_PREFIX):
                await self._api(scope, receive, send_logged)
            else:
                # Dashboard pages authenticate by session themselves and put the principal
                # in the request's state; here they only get the same access-log line.
                await self.app(scope, receive, send_logged)
        finally:
            principal = scope.get("state", {}).get("principal")
            _log_access(
                scope,
                principal if isinstance(principal, Principal) else None,
                status["code"],
                started,
            )

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = _not_cached(send)
        client = scope.get("client")
        try:
            principal = await to_thread.run_sync(
                self._principal, Headers(scope=scope), client[0] if client else None
            )
        except Throttled as throttled:
            response = JSONResponse(
                {"detail": throttled.message()},
                status_code=429,
                headers={"Retry-After": str(throttled.retry_after)},
            )
            await response(scope, receive, send)
            return
        if principal is None:
            response = JSONResponse(
                {"detail": "missing or invalid API key: send 'Authorization: Bearer <key>'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        if _foreign_org(scope["path"], principal):
            # Before the body is parsed: another org's path must look exactly like a
            # missing one, whatever the request carries.
            await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _principal(self, headers: Headers, client: str | None) -> Principal | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        # Its own unit of work, before the request's: the key's last use (``authenticate``)
        # stands whatever the request then does.
        with self.sessions.begin() as session:
            return authenticate_limited(session, token.strip(), client, self.failures)


def _not_cached(send: Send) -> Send:
    """Every API answer carries an org's data or says something about a key: no browser,
    proxy or CDN may keep a copy (``Cache-Control: no-store``), whatever the route set."""

    async def send_uncached(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Cache-Control"] = "no-store"
        await send(message)

    return send_uncached


def _foreign_org(path: str, principal: Principal) -> bool:
    match = ORG_PATH.match(path)
    return match is not None and match.group(1) != principal.org_id


def _log_access(scope: Scope, principal: Principal | None, status: int, started: float) -> None:
    """Route template, key id and org only: never a query value or a body. The same
    request, without the key and org, counts in the metrics."""
    route: Any = scope.get("route")
    template = getattr(route, "path", None) or "(unmatched)"
    seconds = time.perf_counter() - started
    method = scope.get("method", "-")
    observe_request(method, template, status, seconds)
    log.info(
        "%s %s status=%d key=%s org=%s ms=%.1f",
        method,
        template,
        status,
        principal.key_id if principal else "-",
        principal.org_id if principal else "-",
        seconds * 1000,
    )
