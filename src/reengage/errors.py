"""One error shape for every refusal: ``{"detail": ...}``.

Validation errors list each problem with the ``field`` it concerns (dotted, with list
indexes: ``appointments[3].patient_id``), the ``reason`` in words, the raw ``loc`` and a
machine-readable ``type``. Submitted values are never echoed back: they may be patient data.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def problems_from_pydantic(
    errors: Sequence[Any], prefix: Loc = ()
) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = prefix + tuple(err.get("loc", ()))
        reason = str(err.get("msg", "invalid value"))
        reason = reason.removeprefix("Value error, ")
        out.append(problem_dict(loc, reason, str(err.get("type", "invalid"))))
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
        error_id = uuid.uuid4().hex[:12]
        # The exception's type and stack only: its message may quote submitted values.
        log.error(
            "unhandled error id=%s route=%s type=%s\n%s",
            error_id,
            _route_template(request),
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return JSONResponse(
            status_code=500,
            content={"detail": f"internal error; quote error id {error_id} when reporting it"},
        )


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "")) or "-"
