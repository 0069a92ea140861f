"""One error shape for every refusal: ``{"detail": ...}``.

Validation errors list each problem with the ``field`` it concerns (dotted, with list
indexes: ``appointments[3].patient_id``), the ``reason`` in words, the raw ``loc`` and a
machine-readable ``type``. Submitted values are never echoed back: they may be patient data.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only reached by an error outside UnexpectedErrorMiddleware; Starlette re-raises it.
        return internal_error_response(log_unexpected(request.scope, exc))


class UnexpectedErrorMiddleware:
    """Answer any unhandled exception with a 500 that carries an error id, and end it there.

    Starlette's handler for ``Exception`` answers and then re-raises, so that the server logs
    the exception, and uvicorn logs its message, which may quote patient data (a name in a
    ``ValueError``, a value in a driver error). This middleware logs the type and stack only,
    under an id the client can quote, and lets nothing reach the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            error_id = log_unexpected(scope, exc)
            if not started:  # else the client sees a cut-off response; nothing more to send
                await internal_error_response(error_id)(scope, receive, send)


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
