"""Every error as RFC 9457 ``application/problem+json``, with a ``detail`` a person can act on."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from meshward.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    MeshwardError,
    NotFoundError,
    PermissionDeniedError,
)

PROBLEM = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def status_of(exc: MeshwardError) -> int:
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InputError):
        return 422
    return 400


def _meshward(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MeshwardError)
    status = status_of(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, InputError):
        extra["errors"] = [{"source": exc.source, "place": exc.place, "message": exc.message}]
    headers = {"WWW-Authenticate": 'Bearer realm="meshward"'} if status == 401 else None
    detail = " ".join(str(exc).split())
    return problem(status, detail, instance=request.url.path, headers=headers, **extra)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(
        exc.status_code, detail, instance=request.url.path, headers=dict(exc.headers or {})
    )


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "place": "/".join(str(p) for p in err.get("loc", ())),
            "message": str(err.get("msg", "")),
        }
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['place']}: {e['message']}" for e in errors) or "invalid request"
    return problem(422, detail, instance=request.url.path, errors=errors)


def _unexpected(request: Request, exc: Exception) -> Response:
    return problem(500, f"internal error: {type(exc).__name__}", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MeshwardError, _meshward)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
