"""``create_app(store_url)``: the FastAPI application ``meshward serve`` runs."""

from __future__ import annotations

import gc
import logging

from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import HTMLResponse, Response

from meshward import __version__
from meshward.api import errors
from meshward.api.deps import json_response
from meshward.api.docs import DOCS_HTML
from meshward.api.metrics import CONTENT_TYPE, Metrics
from meshward.api.middleware import BodyLimit, Measure
from meshward.api.routes import admin, catalog, impact, sboms, vulns
from meshward.api.routes import integrations as integration_routes
from meshward.api.routes import k8s as k8s_routes
from meshward.api.routes import scans as scan_routes
from meshward.api.routes import threats as threat_routes
from meshward.errors import MeshwardError
from meshward.limits import Limits
from meshward.store.db import (
    Store,
    current_revision,
    ensure_schema,
    head_revision,
    resolve_database_url,
)

log = logging.getLogger("meshward.api")

DEFAULT_BODY_LIMIT = 1024 * 1024
"""Every request body but the large uploads below (whose limit is ``Limits.max_bytes``)."""
LARGE_UPLOAD_PREFIXES = ("/api/v1/risk/kev", "/api/v1/risk/epss", "/api/v1/otm")
LARGE_UPLOAD_SUFFIXES = ("/sbom", "/scans", "/k8s-import", "/vex")


def create_app(store_url: str, *, body_limit: int = DEFAULT_BODY_LIMIT) -> FastAPI:
    store = Store(store_url, migrate=False)
    try:
        ensure_schema(store.engine)
    except MeshwardError as exc:  # a shared PostgreSQL behind: /readyz says so
        log.warning("%s", exc)
    app = FastAPI(
        title="meshward",
        version=__version__,
        description="What runs where, what is in it, what is vulnerable, and who is affected.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    metrics = Metrics()
    errors.install(app)

    def limit_for(path: str) -> int:
        """Documents people upload (SBOMs, scan reports, KEV/EPSS feeds, threat models,
        Kubernetes dumps) may be large; every other body is small."""
        if path.startswith(LARGE_UPLOAD_PREFIXES) or path.endswith(LARGE_UPLOAD_SUFFIXES):
            return Limits.from_env().max_bytes
        return body_limit

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(Measure, metrics=metrics)

    app.include_router(k8s_routes.router, prefix="/api/v1")
    app.include_router(integration_routes.router, prefix="/api/v1")
    app.include_router(scan_routes.router, prefix="/api/v1")
    app.include_router(threat_routes.router, prefix="/api/v1")
    for router in (catalog.router, sboms.router, vulns.router, impact.router, admin.router):
        app.include_router(router, prefix="/api/v1")

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz", tags=["operations"], summary="Database reachable, migrations current")
    def readyz(request: Request) -> Response:
        st: Store = request.app.state.store
        try:
            with st.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current, head = current_revision(st.engine), head_revision(st.engine)
        except SQLAlchemyError as exc:
            return errors.problem(503, f"database unreachable: {type(exc).__name__}")
        if current != head:
            return errors.problem(
                503, f"database schema at {current}, needs {head}: run `meshward db upgrade`"
            )
        return json_response({"status": "ready", "revision": current})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    from meshward import web

    web.mount(app)  # the web UI under /ui, with its own CSP and security headers
    return app


GC_THRESHOLDS = (50_000, 20, 10)
"""The collector's thresholds in a serving process. A large page builds a few hundred
thousand objects; at CPython's default (700, 10, 10) the ones still alive mid-request are
promoted again and again, and a full collection (~120 ms over the kept catalogs of a
5,000-service estate) lands every ~10 requests. Measured in bench/RESULTS.md."""


def tune_gc() -> None:
    """Set ``GC_THRESHOLDS`` (``meshward serve`` does, for each worker)."""
    gc.set_threshold(*GC_THRESHOLDS)


def app_from_environment() -> FastAPI:
    """The app of one ``meshward serve --workers N`` process: database from
    ``MESHWARD_DATABASE_URL`` (the parent sets it)."""
    tune_gc()
    return create_app(resolve_database_url(None))
