"""Advisories, findings and their analysis, VEX export, triage rules."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.limits import Limits
from meshward.services import advisories, auth, findings, triage, vex
from meshward.services.catalog import parse_time
from meshward.services.findings import FindingFilter

router = APIRouter(tags=["vulnerabilities"])


@router.post(
    "/advisories",
    summary="Import OSV advisories: one record or a JSON list of them",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
async def import_advisories(request: Request, ctx: Ctx = Depends(caller)) -> Response:
    data = await request.body()

    def work() -> Response:
        with ctx.session() as s:
            auth.require(s, ctx.principal, "write", None)
            report = advisories.import_advisories_json(s, data, "body", Limits.from_env())
        return json_response(report.to_dict())

    return await run_in_threadpool(work)


@router.get("/advisories", summary="Advisories, newest first")
def list_advisories(
    ecosystem: str | None = Query(None, description="Only this OSV ecosystem."),
    search: str | None = Query(None, description="Text in the id or summary."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        rows = advisories.list_advisories(
            s, ecosystem=ecosystem, search=search, offset=pg.offset, limit=pg.fetch
        )
    return pg.respond(rows)


@router.get(
    "/advisories/ecosystems",
    summary="The OSV ecosystems of the stored SBOMs' packages: what an OSV sync should fetch",
)
def advisory_ecosystems(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        names = advisories.ecosystems_in_use(s)
    return json_response(names)


@router.get("/advisories/{name}", summary="One advisory by id or any alias")
def show_advisory(name: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        view = advisories.advisory_view(s, name)
    return json_response(view)


@router.get("/findings", summary="Findings the caller may see, worst first")
def list_findings(
    domain: str | None = Query(None, description="Domain path (its subtree)."),
    app: str | None = Query(None, description="Application."),
    app_version: str | None = Query(None),
    component: str | None = Query(None),
    version: str | None = Query(None, description="Component version."),
    env: str | None = Query(None, description="Only versions running there now."),
    severity: list[str] = Query([], description="critical, high, medium, low (repeatable)."),
    state: list[str] = Query([], description="open, in_triage, exploitable, ... (repeatable)."),
    vuln: str | None = Query(None, description="Any id or alias."),
    include_resolved: bool = Query(False),
    overdue: bool = Query(False, description="Only findings past their SLA."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        if domain:
            auth.check_domain(s, ctx.principal, domain)
        if app:
            auth.check_application(s, ctx.principal, app)
        if component:
            auth.check_component(s, ctx.principal, component)
        flt = FindingFilter(
            domain=domain,
            application=app,
            app_version=app_version,
            component=component,
            version=version,
            environment=env,
            severity=severity or None,
            state=state or None,
            vulnerability=vuln,
            include_resolved=include_resolved,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
        )
        triage.apply_rules(s)
        if overdue:  # the SLA is computed, not stored: a page ends where the filter stopped
            rows, after = findings.list_overdue_findings(s, flt, pg.fetch, pg.offset)
            return pg.respond(rows, next_offset=after - 1)
        rows = findings.list_findings(s, flt, pg.fetch, pg.offset)
    return pg.respond(rows)


@router.get(
    "/findings/events",
    summary="The feed: findings that appeared, went away, came back or were analysed",
    description="Newest first, only for the components the caller may see.",
)
def finding_events(
    since: str | None = Query(None, description="ISO 8601 time."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        rows = findings.finding_events(
            s,
            parse_time(since) if since else None,
            pg.fetch,
            offset=pg.offset,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
        )
    return pg.respond(rows)


class AnalysisIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10000)
    state: str = Field(description=", ".join(findings.STATES))
    justification: str | None = None
    detail: str | None = None


@router.post("/findings/analysis", summary="Set the analysis of findings")
def set_analysis(body: AnalysisIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.check_findings(s, ctx.principal, body.ids, "write")
        n = findings.set_analysis(
            s,
            body.ids,
            body.state,
            justification=body.justification,
            detail=body.detail,
            actor=ctx.principal.name,
        )
    return json_response({"updated": n, "state": body.state})


class CarryIn(BaseModel):
    from_version: str = Field(min_length=1, max_length=200)
    to_version: str = Field(min_length=1, max_length=200)


@router.post(
    "/components/{component}/findings/carry",
    summary="Carry analysis to the same vulnerabilities in another version of a component",
)
def carry_analysis(component: str, body: CarryIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component, "write")
        n = findings.carry_analysis(s, comp.key, body.from_version, body.to_version)
    return json_response(
        {"carried": n, "from_version": body.from_version, "to_version": body.to_version}
    )


@router.get(
    "/components/{component}/versions/{version}/vex",
    summary="A component version's findings and analysis as OpenVEX or CycloneDX VEX",
)
def export_vex(
    component: str,
    version: str,
    format: str = Query("openvex", pattern="^(openvex|cyclonedx)$"),
    author: str | None = Query(None),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        data = vex.export_vex(s, comp.key, version, format, author=author)
    return Response(data, media_type="application/json")


@router.post(
    "/vex",
    summary="Apply an OpenVEX or CycloneDX VEX document's statements as finding analysis",
    description="Without `component`, statements may touch any component: estate editors "
    "only. With it, the component's editors.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def import_vex(
    request: Request,
    component: str | None = Query(None, description="Apply only to this component."),
    version: str | None = Query(None, description="... and this version."),
    actor: str | None = Query(None, description="Who (default: the document's author)."),
    ctx: Ctx = Depends(caller),
) -> Response:
    data = await request.body()

    def work() -> Response:
        with ctx.session() as s:
            key = None
            if component:
                key = auth.check_component(s, ctx.principal, component, "write").key
            else:
                auth.require(s, ctx.principal, "write", None)
            report = vex.import_vex(
                s,
                data,
                "body",
                component=key,
                version=version,
                actor=actor,
                limits=Limits.from_env(),
            )
        return json_response(report.to_dict())

    return await run_in_threadpool(work)


@router.get("/triage/rules", summary="Triage rules the caller may see")
def list_rules(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        triage.apply_rules(s)
        rows = triage.list_rules(
            s,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


class RuleIn(BaseModel):
    vulnerability: str = Field(min_length=1, max_length=200)
    state: str
    scope: str = "estate"
    target: str | None = None
    justification: str | None = None
    detail: str | None = None
    package: str | None = None
    version_range: str | None = None
    expires: str | None = Field(None, description="ISO 8601 time the rule lapses.")


@router.post("/triage/rules", status_code=201, summary="A rule that sets analysis in bulk")
def create_rule(body: RuleIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.check_triage_scope(s, ctx.principal, body.scope, body.target, "write")
        rule, applied = triage.create_rule(
            s,
            scope=body.scope,
            target=body.target,
            vulnerability=body.vulnerability,
            state=body.state,
            author=ctx.principal.name,
            justification=body.justification,
            detail=body.detail,
            package=body.package,
            version_range=body.version_range,
            expires_at=parse_time(body.expires) if body.expires else None,
        )
        rule_id = rule.id
    return json_response({"id": rule_id, "applied": applied}, 201)


@router.delete("/triage/rules/{rule_id}", summary="End a rule now")
def revoke_rule(rule_id: int, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.check_triage_rule(s, ctx.principal, rule_id, "write")
        triage.revoke_rule(s, rule_id)
    return json_response({"id": rule_id, "revoked": True})


class SlaIn(BaseModel):
    days: int = Field(gt=0, le=3650, description="Days to fix a finding of this severity.")
    domain: str | None = Field(None, description="Only this domain's subtree (default: all).")


@router.put(
    "/triage/sla/{severity}",
    summary="Days to fix a finding of a severity, for the estate or a domain subtree",
)
def set_sla(severity: str, body: SlaIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        if body.domain:
            auth.check_domain(s, ctx.principal, body.domain, "write")
        else:
            auth.require(s, ctx.principal, "write", None)
        triage.set_sla(s, severity, body.days, body.domain)
    return json_response({"severity": severity, "days": body.days, "domain": body.domain})


@router.get(
    "/triage/stats",
    summary="Mean time to remediate by severity (estate-wide readers)",
)
def remediation_stats(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "read", None)
        stats = triage.remediation_stats(s)
    return json_response(stats)
