"""The web UI: server-rendered pages beside the REST API (see ``routes``)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from meshward.web import session, threats
from meshward.web.routes import router
from meshward.web.security import SecurityHeaders


def mount(app: FastAPI) -> None:
    """Pages under ``/ui``, our own CSS and JS under ``/ui/static``, ``/`` to the overview."""
    app.state.web_key = session.secret_key()
    app.include_router(router)
    app.include_router(threats.router)
    app.mount("/ui/static", StaticFiles(packages=[("meshward.web", "static")]), name="static")
    app.add_middleware(SecurityHeaders)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/ui/", 307)
