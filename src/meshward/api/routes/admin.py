"""The audit trail and API tokens over HTTP (estate admins only: they name things in every
domain). Tokens are created where the database is (``meshward token create``), so that no
token can mint another."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.services import auth
from meshward.services.audit import list_audit_events
from meshward.services.catalog import parse_time

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Changes, newest first (estate admins)")
def list_audit(
    since: str | None = Query(None, description="ISO 8601 time."),
    kind: str | None = Query(None, description="Entity kind."),
    actor: str | None = Query(None),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        rows = list_audit_events(
            s,
            since=parse_time(since) if since else None,
            entity_kind=kind,
            actor=actor,
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


@router.get("/tokens", summary="Tokens (never their secrets) with their roles (estate admins)")
def list_tokens(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        views = auth.list_tokens(s)
    return pg.respond([v.to_dict() for v in views[pg.offset : pg.offset + pg.fetch]])


@router.delete("/tokens/{name}", summary="Stop a token from working, now (estate admins)")
def revoke_token(name: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        view = auth.revoke_token(s, name)
    return json_response(view.to_dict())
