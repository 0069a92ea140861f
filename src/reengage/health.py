"""Is the process alive, and can it answer? For an orchestrator's probes and an operator.

``/healthz`` is liveness: the process serves requests (restart it if not). ``/readyz`` is
readiness: the database answers and is at the schema this code expects (send traffic only
then). Neither carries patient data, an org or a key, so neither asks for one: a probe has
no key to send. ``/metrics`` is the operator's, behind their own token.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text

from reengage import metrics as counted
from reengage.db import migrate
from reengage.errors import RETRY_AFTER_SECONDS, database_trouble

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    engine: Engine = request.app.state.engine
    expected = request.app.state.schema_heads
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            found = migrate.database_revisions(connection)
    except Exception as exc:
        if database_trouble(exc) is None:
            raise
        return _unready("the database does not answer")
    if found != expected:
        return _unready(
            f"the database schema is at {', '.join(sorted(found)) or 'nothing'}, this code "
            f"needs {', '.join(sorted(expected))}: run 'reengage db upgrade'"
        )
    return JSONResponse({"status": "ready", "schema": sorted(found)})


def _unready(reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "detail": reason},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token: str = request.app.state.metrics_token
    if not token:
        return JSONResponse(
            {"detail": "metrics are off: set REENGAGE_METRICS_TOKEN to serve them"},
            status_code=404,
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip(), token):
        return JSONResponse(
            {"detail": "send 'Authorization: Bearer <REENGAGE_METRICS_TOKEN>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(counted.exposition(), media_type=CONTENT_TYPE_LATEST)
