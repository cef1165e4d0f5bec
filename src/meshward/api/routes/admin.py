"""The audit trail over HTTP (estate admins only: it names things in every domain)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, page
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
            limit=pg.limit + 1,
        )
    return pg.respond(rows)
