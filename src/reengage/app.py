"""The FastAPI application: API routers, offline API docs, auth middleware, error handlers."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from reengage import health
from reengage.alerts.endpoints import router as alerts_router
from reengage.api_document import document_errors
from reengage.auth.middleware import ApiAuthMiddleware
from reengage.auth.throttle import KeyFailures
from reengage.checkins.endpoints import router as checkins_router
from reengage.config import Settings, base_url, get_settings
from reengage.dashboard import endpoints as dashboard
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.errors import UnexpectedErrorMiddleware, install_error_handlers
from reengage.imports.endpoints import router as imports_router
from reengage.jobs import process
from reengage.jobs.endpoints import router as jobs_router
from reengage.limits import AdmissionMiddleware, BodyLimitMiddleware
from reengage.logs import configure as configure_logging
from reengage.orgs.endpoints import router as orgs_router
from reengage.outreach.endpoints import router as outreach_router
from reengage.providers import endpoints as providers_endpoints
from reengage.query_params import PREFIX
from reengage.records.endpoints import router as records_router
from reengage.risk.endpoints import router as risk_router
from reengage.seed_examples import restore_seed_examples

# Declares the Bearer scheme in the OpenAPI document (the "Authorize" button in /docs);
# the middleware does the actual checking.
bearer = HTTPBearer(auto_error=False, description="An org API key: rk_<id>_<secret>")


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, scheduler: bool = False
) -> FastAPI:
    """``scheduler``: run the jobs (``reengage.jobs``) in a thread while the app serves."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    found_settings, found_engine = settings, engine

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = process.scheduler(found_settings, found_engine) if scheduler else None
        if running is not None:
            running.start()
        yield
        if running is not None:
            # The job in hand is finished first (SIGTERM reaches here through uvicorn).
            await anyio.to_thread.run_sync(running.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="reengage",
        summary="Patient reengagement analytics for outpatient clinics",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.schema_heads = migrate.head_revisions()
    app.state.metrics_token = settings.metrics_token
    app.state.secret_key = settings.secret_key
    app.state.public_url = settings.public_url
    app.state.base_url = base_url(settings)
    app.state.outbound = process.outbound(settings)
    app.state.key_failures = KeyFailures(
        settings.key_failures_per_client, settings.key_failures_per_org
    )
    install_error_handlers(app)
    api_routers = (
        records_router,
        orgs_router,
        risk_router,
        outreach_router,
        imports_router,
        providers_endpoints.settings_router,
        alerts_router,
        checkins_router,
        jobs_router,
    )
    for router in api_routers:
        app.include_router(router, dependencies=[Depends(bearer)])
    # Signed by the provider, not called with an API key: outside /api/.
    app.include_router(providers_endpoints.hooks)
    app.include_router(dashboard.router)
    app.include_router(health.router)
    app.add_exception_handler(dashboard.SignInRequired, dashboard.sign_in_redirect)
    app.add_exception_handler(dashboard.PageError, dashboard.page_error)
    app.mount(
        "/dashboard-static",
        StaticFiles(directory=dashboard.HERE / "static"),
        name="dashboard-static",
    )
    # Added last runs first: authentication, then the body cap, then the app.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.max_import_bytes,
    )
    app.add_middleware(
        ApiAuthMiddleware, sessions=app.state.sessions, failures=app.state.key_failures
    )
    # Before anything touches the database: at most so many requests at work at once.
    app.add_middleware(AdmissionMiddleware, limit=settings.requests_at_once)
    # Outermost of ours: any unexpected error, even in the two above, becomes a 500 with an
    # error id and goes no further (the server would log its message, which may hold PHI).
    app.add_middleware(UnexpectedErrorMiddleware, page=dashboard.failure_page)
    if settings.trusted_proxies.strip():
        # Outside everything: the client address the audit log and the limits see.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    _mount_docs(app)
    return app


def serving_app() -> FastAPI:
    """The app as ``reengage serve`` runs it, in its process or in each worker process.

    Everything alive once it is built (modules, the app, the schema) lives as long as the
    process: frozen, the collector's full passes skip it. Without this, every twentieth or
    so list request paid a full pass over the whole heap (about 80 ms at 100,000 patients).
    """
    settings = get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    application = create_app(settings, engine, scheduler=process.runs_in_server(settings, engine))
    gc.collect()
    gc.freeze()
    return application


# Swagger UI 5.x, shipped as static files inside the ``fastapi-offline`` wheel (MIT): it
# reads the OpenAPI 3.1 that FastAPI generates, which the 4.x of ``swagger-ui-bundle`` could
# not ("Unable to render this definition"), and nothing is fetched from a CDN.
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI served from the installed package: the docs work with no internet."""
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_UI), name="swagger")

    def openapi() -> dict[str, Any]:
        # Generated once, then served from memory as FastAPI's own does; the seed's
        # examples go back in whole (FastAPI drops their nulls).
        if app.openapi_schema is None:
            document = restore_seed_examples(FastAPI.openapi(app), PREFIX)
            app.openapi_schema = document_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="reengage API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
