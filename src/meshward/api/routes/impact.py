"""Impact: blast radius, risk roll-ups, application diff and fix plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import MAX_PAGE, Ctx, caller, decode_cursor, encode_cursor, json_response
from meshward.formats.epss import read_epss
from meshward.formats.kev import read_kev
from meshward.limits import Limits
from meshward.services import auth, diff, exploitation, fixplan, rollup, triage
from meshward.services.impact import blast_radius

router = APIRouter(tags=["impact"])


@router.get("/blast-radius", summary="Who is hit by an advisory, a purl (range) or a package")
def get_blast_radius(
    request: Request,
    q: str = Query(..., min_length=1, description="CVE/GHSA/OSV id, purl, purl@range, name."),
    env: str | None = Query(None, description="Only what runs in this environment now."),
    consumers: int | None = Query(
        None, ge=0, description="List only the N nearest consumers (all are counted)."
    ),
    applications: int | None = Query(
        None, ge=0, description="List only the first N application versions (all are counted)."
    ),
    environments: int | None = Query(
        None, ge=0, description="List only the first N running deployments (all are counted)."
    ),
    limit: int | None = Query(
        None,
        ge=1,
        le=MAX_PAGE,
        description="Affected versions per page; without it, all of them. Totals always "
        "cover the whole answer; `page.next` links the next page.",
    ),
    cursor: str | None = Query(None, description="The `page.next` link's cursor."),
    ctx: Ctx = Depends(caller),
) -> Response:
    """A caller scoped to some domains sees only their components: the service leaves the
    rest out before it counts or cuts a page, so totals and pages hold for that caller."""
    offset = decode_cursor(cursor) if cursor else 0
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        keys = auth.visible_component_keys(s, ctx.principal)
        radius = blast_radius(
            s,
            q,
            environment=env,
            consumer_limit=consumers,
            limit=limit,
            offset=offset,
            visible=keys,
            application_limit=applications,
            environment_limit=environments,
        )
    result = radius.json_fields()
    if radius.page is not None:
        nxt = radius.page.next_offset
        result["page"] = radius.page.to_dict() | {
            "next": None
            if nxt is None
            else str(
                request.url.include_query_params(cursor=encode_cursor(nxt), limit=radius.page.limit)
            )
        }
    return json_response(result)


@router.get("/apps/{application}/risk", summary="An application version's risk roll-up")
def app_risk(
    application: str,
    version: str | None = Query(None, description="Default: the latest."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        data = rollup.application_risk(s, app.key, version).to_dict()
    return json_response(data)


@router.get("/domains/{domain}/risk", summary="A domain subtree's risk roll-up")
def domain_risk(domain: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        dom = auth.check_domain(s, ctx.principal, domain)
        data = rollup.domain_risk(s, dom.path).to_dict()
    return json_response(data)


@router.get("/apps/{application}/diff", summary="What changed between two application versions")
def app_diff(
    application: str,
    from_version: str = Query(..., alias="from"),
    to_version: str = Query(..., alias="to"),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        data = diff.app_diff(s, app.key, from_version, to_version).to_dict()
    return json_response(data)


@router.get("/apps/{application}/fix-plan", summary="The upgrades that clear the most risk")
def fix_plan(
    application: str,
    version: str | None = Query(None, description="Default: the latest."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        data = fixplan.fix_plan(s, app.key, version).to_dict()
    return json_response(data)


@router.get(
    "/components/{component}/diff", summary="What changed between two versions of a component"
)
def component_diff(
    component: str,
    from_version: str = Query(..., alias="from"),
    to_version: str = Query(..., alias="to"),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        data = diff.component_diff(s, comp.key, from_version, to_version).to_dict()
    return json_response(data)


TREND_DAYS = Query(30, ge=1, le=3660, description="How many days back, today included.")


@router.get("/apps/{application}/trend", summary="Daily snapshots of an application's roll-up")
def app_trend(application: str, days: int = TREND_DAYS, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        points = rollup.risk_trend(s, "application", app.key, days)
    return json_response(points)


@router.get("/domains/{domain}/trend", summary="Daily snapshots of a domain's roll-up")
def domain_trend(domain: str, days: int = TREND_DAYS, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        dom = auth.check_domain(s, ctx.principal, domain)
        points = rollup.risk_trend(s, "domain", dom.path, days)
    return json_response(points)


# ---------------------------------------------------------------- exploitation evidence


def _document_body(media: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media: {"schema": {"type": "string"}}}}}


async def _feed_import(
    request: Request, ctx: Ctx, load: Callable[[Session, bytes, Limits], Any]
) -> Response:
    """An estate-wide feed (KEV, EPSS) in the body, read and stored by an estate editor."""
    data = await request.body()

    def work() -> Response:
        with ctx.session() as s:
            auth.require(s, ctx.principal, "write", None)
            report = load(s, data, Limits.from_env())
        return json_response(report.to_dict())

    return await run_in_threadpool(work)


@router.post(
    "/risk/kev",
    summary="Load CISA's Known Exploited Vulnerabilities catalog (estate editors)",
    description="The catalog JSON is the body; it replaces the stored one.",
    openapi_extra=_document_body("application/json"),
)
async def import_kev(
    request: Request,
    allow_older: bool = Query(False, description="Accept a catalog older than the stored one."),
    ctx: Ctx = Depends(caller),
) -> Response:
    return await _feed_import(
        request,
        ctx,
        lambda s, data, limits: exploitation.import_kev(
            s, read_kev(data, "body", limits), allow_older=allow_older
        ),
    )


@router.post(
    "/risk/epss",
    summary="Load a day of EPSS scores (estate editors)",
    description="FIRST's CSV, plain or gzip, is the body; it replaces the stored scores.",
    openapi_extra=_document_body("text/csv"),
)
async def import_epss(
    request: Request,
    allow_older: bool = Query(False, description="Accept scores older than the stored ones."),
    ctx: Ctx = Depends(caller),
) -> Response:
    return await _feed_import(
        request,
        ctx,
        lambda s, data, limits: exploitation.import_epss(
            s, read_epss(data, "body", limits), allow_older=allow_older
        ),
    )


@router.get("/risk/status", summary="Which exploitation evidence is loaded")
def risk_status(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        info = exploitation.exploitation_status(s)
    return json_response(info)


@router.post(
    "/risk/snapshot",
    summary="Record today's roll-up of every application and domain (estate editors)",
)
def risk_snapshot(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "write", None)
        triage.apply_rules(s)
        report = rollup.snapshot_rollups(s)
    return json_response(report)
