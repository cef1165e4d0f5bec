"""What every route shares: the store, the caller, pagination and JSON out."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.responses import Response

from meshward.errors import AuthenticationError, InputError
from meshward.services import auth
from meshward.store.audit import Actor
from meshward.store.db import Store

MAX_PAGE = 500
bearer = HTTPBearer(auto_error=False, description="A token from `meshward token create`.")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@dataclass
class Ctx:
    """The store and who is calling: a route's whole world."""

    store: Store
    principal: auth.Principal

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.store.session(Actor(self.principal.name, "api")) as session:
            yield session


def caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Ctx:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is needed (Authorization: Bearer mw_...)")
    store = store_of(request)
    with store.session() as session:
        principal = auth.verify_token(session, credentials.credentials)
    return Ctx(store, principal)


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError


def json_response(data: Any, status: int = 200) -> Response:
    """Stable JSON: orjson, dataclasses as objects, keys in declaration order."""
    return Response(
        orjson.dumps(data, default=_default), status_code=status, media_type="application/json"
    )


@dataclass
class Page:
    """Cursor pagination: an opaque cursor (a position in a stable order) and a limit. The
    database cuts the page: a route asks for ``fetch`` rows from ``offset``, one more than
    it shows, so that the extra row tells whether a next page exists."""

    request: Request
    offset: int
    limit: int

    @property
    def fetch(self) -> int:
        return self.limit + 1

    def respond(self, rows: Sequence[Any], *, next_offset: int | None = None) -> Response:
        """``rows``: the page plus, when there is more, at least one row after it.
        ``next_offset`` is where the next page starts when that is not simply
        ``offset + limit`` (a list filtered after the database cut it)."""
        items, more = list(rows[: self.limit]), len(rows) > self.limit
        nxt = None
        if more:
            cursor = encode_cursor(next_offset if next_offset is not None else self.end)
            nxt = str(self.request.url.include_query_params(cursor=cursor, limit=self.limit))
        return json_response({"items": items, "next": nxt})

    @property
    def end(self) -> int:
        return self.offset + self.limit


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset})).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset = orjson.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InputError("cursor", "query/cursor", "not a cursor this API gave out") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InputError("cursor", "query/cursor", "not a cursor this API gave out")
    return offset


def page(
    request: Request,
    cursor: str | None = Query(None, description="The `next` link's cursor."),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description=f"Items per page (at most {MAX_PAGE})."),
) -> Page:
    return Page(request, decode_cursor(cursor) if cursor else 0, limit)
