"""One error shape for every refusal: ``{"detail": ...}``.

Validation errors list each problem with the ``field`` it concerns (dotted, with list
indexes: ``appointments[3].patient_id``), the ``reason`` in words, the raw ``loc`` and a
machine-readable ``type``. Submitted values are never echoed back: they may be patient data.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import exc as db_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reengage.metrics import DATABASE_ERRORS

log = logging.getLogger("reengage.errors")

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    reason: str
    type: str = "invalid"


class RecordValidationError(Exception):
    """Input that parsed but breaks a rule needing context (a patient that does not exist...)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} validation problem(s)")
        self.problems = list(problems)


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "appointments", 3, "patient_id")`` -> ``appointments[3].patient_id``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def problem_dict(loc: Sequence[str | int], reason: str, type_: str) -> dict[str, Any]:
    return {"field": field_name(loc), "reason": reason, "loc": list(loc), "type": type_}


# What each pattern of a path or query parameter means, in words: a 422 names the rule, never
# the regular expression (which reads as noise to a clinic's integrator).
PATTERN_RULES: dict[str, str] = {}


def pattern(regex: str, rule: str) -> str:
    """``regex``, for a parameter's ``pattern=``, remembered with ``rule`` ("must be ...") as
    the reason a value that does not match it is refused."""
    PATTERN_RULES[regex] = rule
    return regex


def reason_of(error: Mapping[str, Any]) -> str:
    """A pydantic error's reason as a clause that follows the field's name."""
    if error.get("type") == "string_pattern_mismatch":
        regex = (error.get("ctx") or {}).get("pattern")
        return PATTERN_RULES.get(str(regex), "is not in the form this field takes")
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def problems_from_pydantic(errors: Sequence[Any], prefix: Loc = ()) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = prefix + tuple(err.get("loc", ()))
        type_ = str(err.get("type", "invalid"))
        problem = problem_dict(loc, reason_of(err), type_)
        if type_ == "json_invalid":
            # Its loc is ("body", character position): the field is the body as a whole.
            problem["field"] = "body"
        out.append(problem)
    return out


def validation_response(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": problems})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(problems_from_pydantic(exc.errors()))

    @app.exception_handler(ValidationError)
    async def _pydantic_validation(_: Request, exc: ValidationError) -> JSONResponse:
        return validation_response(problems_from_pydantic(exc.errors(), ("body",)))

    @app.exception_handler(RecordValidationError)
    async def _record_validation(_: Request, exc: RecordValidationError) -> JSONResponse:
        return validation_response([problem_dict(p.loc, p.reason, p.type) for p in exc.problems])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = unreadable_body(exc)
        if unreadable is not None:
            return validation_response([problem_dict(("body",), unreadable, "json_invalid")])
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only reached by an error outside UnexpectedErrorMiddleware; Starlette re-raises it.
        return internal_error_response(log_unexpected(request.scope, exc))


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# Seconds a client is told to wait when the database cannot answer: about how long a
# PostgreSQL restart or a failover takes.
RETRY_AFTER_SECONDS = 5
# One log line per kind of database failure per this many seconds, with how many requests
# it answered: an outage must not write a traceback per request (20 MB in 20 s).
FAILURE_LOG_INTERVAL = 30.0

# Shown for the dashboard's pages, which are HTML (the API answers JSON): set by the app.
PageRenderer = Callable[[Scope, int, str], Response]


class DatabaseTrouble(Exception):
    """What a database error means for the client: the status, the words, a kind to log."""

    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def database_trouble(exc: BaseException) -> DatabaseTrouble | None:
    """The answer a database error deserves, or None for any other error (a 500: a bug).

    Two writers of one new record that lost the race (a unique violation at the insert or
    at commit): 409, retry. The database unreachable, restarting, out of connections, busy
    past its lock timeout, or a deadlock: 503 with ``Retry-After``; the request can be sent
    again as it was, and nothing of it was written.
    """
    if isinstance(exc, db_errors.IntegrityError):
        return DatabaseTrouble(
            409, "a concurrent request wrote the same record; send this one again", "conflict"
        )
    if isinstance(
        exc, db_errors.OperationalError | db_errors.InterfaceError | db_errors.TimeoutError
    ):
        orig = getattr(exc, "orig", None)
        code = getattr(orig, "sqlstate", None) or type(orig or exc).__name__
        return DatabaseTrouble(
            503,
            f"the database is unavailable or busy; retry in {RETRY_AFTER_SECONDS} seconds",
            f"database {code}",
        )
    return None


class FailureLog:
    """Logs the first failure of each kind, then at most one line per interval per kind,
    counting the failures in between. Types and codes only: never a message (PHI)."""

    def __init__(self, interval: float = FAILURE_LOG_INTERVAL) -> None:
        self.interval = interval
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}
        self.unlogged: dict[str, int] = {}

    def failed(self, kind: str, route: str) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(kind, -self.interval) < self.interval:
                self.unlogged[kind] = self.unlogged.get(kind, 0) + 1
                return
            self.last[kind] = now
            skipped = self.unlogged.pop(kind, 0)
        log.warning(
            "request failed: %s route=%s (%d more of this kind in the last %.0f s)",
            kind,
            route,
            skipped,
            self.interval,
        )


def unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why a body FastAPI could not read is refused, in words; None for any other error.

    JSON that does not parse is a 422 already (``json_invalid``); JSON that parses but that
    Python cannot hold (nested a thousand deep, a number of thousands of digits) or bytes
    that are not UTF-8 reach here as FastAPI's bare 400, out of the error shape.
    """
    if exc.status_code == 400 and isinstance(exc.__context__, MultiPartException):
        # Starlette's own 400 for an upload whose multipart framing is broken.
        return "is not a multipart/form-data upload that can be read (a broken part header?)"
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return "is not UTF-8 text: send JSON encoded as UTF-8"
    if isinstance(cause, RecursionError):
        return "nests arrays or objects too deeply to read"
    if isinstance(cause, ValueError):
        return "is not JSON this API can read (a number with thousands of digits?)"
    return "could not be read as JSON"


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route of this path answers: Starlette's 405 names only the first
    route that matched the path (GET, for a path that also takes PUT). Each method is
    tried against the router (routes may sit inside included routers, whose own routes
    are not public), so what is named is exactly what would be served."""
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


class UnexpectedErrorMiddleware:
    """Answer any unhandled exception, and end it there.

    A database that cannot answer gets a 503 with ``Retry-After`` and a lost race a 409
    (``database_trouble``), logged once per kind per interval (``FailureLog``). Anything
    else is a bug: a 500 with an error id. Starlette's handler for ``Exception`` answers and
    then re-raises, so that the server logs the exception, and uvicorn logs its message,
    which may quote patient data (a name in a ``ValueError``, a value in a driver error).
    This middleware logs the type and stack only, under an id the client can quote, and
    lets nothing reach the server. Dashboard pages get a page (``page``), not JSON.
    """

    def __init__(self, app: ASGIApp, page: PageRenderer | None = None) -> None:
        self.app = app
        self.page = page
        self.failures = FailureLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            trouble = database_trouble(exc)
            if trouble is not None:
                DATABASE_ERRORS.labels(trouble.kind).inc()
                self.failures.failed(trouble.kind, _route_template(scope))
                response = self._answer(scope, trouble.status, trouble.message)
                if trouble.status == 503:
                    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            else:
                error_id = log_unexpected(scope, exc)
                response = self._answer(
                    scope, 500, f"internal error; quote error id {error_id} when reporting it"
                )
            if not started:  # else the client sees a cut-off response; nothing more to send
                await response(scope, receive, send)

    def _answer(self, scope: Scope, status: int, message: str) -> Response:
        if self.page is not None and not scope["path"].startswith("/api/"):
            return self.page(scope, status, message)
        return JSONResponse(status_code=status, content={"detail": message})


def log_unexpected(scope: Scope, exc: BaseException) -> str:
    """Log an unexpected error by type and stack (never its message); returns its error id."""
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error id=%s route=%s type=%s\n%s",
        error_id,
        _route_template(scope),
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return error_id


def internal_error_response(error_id: str) -> JSONResponse:
    return JSONResponse(
        status_code=500,
        content={"detail": f"internal error; quote error id {error_id} when reporting it"},
    )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", "")) or "-"
