"""Threat modelling over HTTP: surveys, threat models and their risk, control tasks, the
knowledge base, shared platforms, compliance and OTM exchange.

Reads need a viewer role over the component's or application's domain (unseen is 404, as
everywhere); writes need an editor role there. The KB and platforms are estate-wide: anyone
who may read somewhere reads them, only estate admins change them, and the server installs
only its own shipped KB plus its ``MESHWARD_KB_PATH`` overlay (never a path a client names).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.api.routes.sboms import RAW_BODY, read_limited
from meshward.formats.otm import MAX_OTM_BYTES
from meshward.kb.loader import load_kb
from meshward.kb.schema import Standard
from meshward.limits import Limits
from meshward.services import auth, otm, threat_risk, threat_views
from meshward.services import threat_models as tm

router = APIRouter(tags=["threat modelling"])

VERSION = "/components/{component}/versions/{version}"
APPLICATION = "/applications/{application}"
Status = Literal["todo", "in_progress", "done", "not_applicable", "risk_accepted"]


@router.get(
    VERSION + "/survey",
    summary="A component version's survey: questions, answers and their sources",
)
def get_survey(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        view = tm.survey_view(s, key, version)
    return json_response(view)


@router.put(
    VERSION + "/survey",
    summary="Answer a component version's survey (merged into earlier answers unless replace)",
    description="The body maps question ids to answers; null removes an answer. Every answer "
    "is checked against the KB's questions first, and nothing is stored if one is wrong (422 "
    "naming the question). Answers the survey view as it is afterwards.",
)
def put_survey(
    component: str,
    version: str,
    answers: dict[str, Any] = Body(..., description="question id -> answer"),
    replace: bool = Query(False, description="Replace every earlier answer."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component, "write").key
        view = tm.answer_survey(s, key, version, answers, source="request body", replace=replace)
    return json_response(view)


@router.get(VERSION + "/threat-model", summary="Threats with why they apply, and the control tasks")
def get_threat_model(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        model = tm.threat_model(s, key, version)
    return json_response(model)


@router.get(VERSION + "/threat-risk", summary="Inherent, current and projected risk per threat")
def get_component_risk(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        risk = threat_risk.component_risk(s, key, version)
    return json_response(risk)


class ControlTaskIn(BaseModel):
    status: Status | None = None
    reason: str | None = Field(None, max_length=2000)
    assignee: str | None = Field(None, max_length=200)
    due_date: date | None = None
    clear_assignee: bool = False
    clear_due: bool = False


@router.patch(
    VERSION + "/controls/{control}",
    summary="Decide on a control task: status (with a reason where needed), assignee, due date",
)
def patch_control(
    component: str, version: str, control: str, body: ControlTaskIn, ctx: Ctx = Depends(caller)
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component, "write").key
        task = tm.set_control(
            s,
            key,
            version,
            control,
            status=body.status,
            reason=body.reason,
            assignee=body.assignee,
            due_date=body.due_date,
            clear_assignee=body.clear_assignee,
            clear_due=body.clear_due,
        )
    return json_response(task)


def _scope(
    ctx: Ctx, s: Any, application: str | None, component: str | None
) -> tuple[str | None, str | None, set[int] | None]:
    """The keys of the named application or component (checked readable) and the domains the
    caller may see."""
    app_key = auth.check_application(s, ctx.principal, application).key if application else None
    comp_key = auth.check_component(s, ctx.principal, component).key if component else None
    return app_key, comp_key, auth.visible_domain_ids(s, ctx.principal)


@router.get(
    "/controls", summary="Control tasks with verification and evidence, by component version"
)
def list_controls(
    status: Status | None = Query(
        None, description="Effective status (done when a platform satisfies it)."
    ),
    application: str | None = Query(None, description="The application's latest version."),
    component: str | None = Query(None),
    version: str | None = Query(None, description="With component: only this version."),
    include_inactive: bool = Query(False, description="Also tasks no longer needed or retired."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        app_key, comp_key, domain_ids = _scope(ctx, s, application, component)
        rows = threat_views.controls_with_evidence(
            s,
            application=app_key,
            component=comp_key,
            version=version if comp_key else None,
            status=status,
            include_inactive=include_inactive,
            domain_ids=domain_ids,
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


@router.get("/threats", summary="Active threats by component version")
def list_threats(
    application: str | None = Query(None, description="The application's latest version."),
    component: str | None = Query(None),
    version: str | None = Query(None, description="With component: only this version."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        app_key, comp_key, domain_ids = _scope(ctx, s, application, component)
        rows = tm.list_threats(
            s,
            application=app_key,
            component=comp_key,
            version=version if comp_key else None,
            domain_ids=domain_ids,
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


# ---------------------------------------------------------------- knowledge base


@router.get("/kb", summary="The KB in force: every threat and control with its references")
def get_kb(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        listing = threat_views.kb_listing(tm.current_kb(s))
    return json_response(listing)


@router.get("/kb/controls/{control}", summary="One KB control: code samples, test plan, mappings")
def get_kb_control(
    control: str,
    language: str | None = Query(None, max_length=40, description="Only samples in it."),
    framework: str | None = Query(None, max_length=64, description="Only samples for it."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        kb = tm.current_kb(s)
    return json_response(
        threat_views.control_entry(kb, control, language=language, framework=framework)
    )


@router.get("/kb/threats/{threat}", summary="One KB threat: rule, CWE, CAPEC and its controls")
def get_kb_threat(threat: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        kb = tm.current_kb(s)
    return json_response(threat_views.threat_entry(kb, threat))


@router.post(
    "/kb/reload",
    summary="Install the server's KB (shipped plus its MESHWARD_KB_PATH overlay) (estate admins)",
    description="Re-evaluates every threat model and answers what changed in how many services.",
)
def reload_kb(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        result = tm.install_kb(s, load_kb())
    return json_response(asdict(result))


# ---------------------------------------------------------------- platforms


@router.get("/platforms", summary="Shared platforms and the capabilities they give")
def list_platforms(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        rows = threat_views.visible_platforms(s, auth.visible_component_keys(s, ctx.principal))
    return pg.respond(rows[pg.offset : pg.offset + pg.fetch])


class PlatformIn(BaseModel):
    capabilities: list[str] = Field(min_length=1, max_length=32)
    component: str | None = Field(None, max_length=300)
    environment: str | None = Field(None, max_length=200)
    namespace: str | None = Field(None, max_length=200)
    members: list[str] | None = Field(None, max_length=1000, description="Omitted: unchanged.")
    description: str | None = Field(None, max_length=2000)


@router.put("/platforms/{name}", summary="Declare or change a shared platform (estate admins)")
def put_platform(name: str, body: PlatformIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        view = tm.declare_platform(
            s,
            name,
            body.capabilities,
            component=body.component,
            environment=body.environment,
            namespace=body.namespace,
            members=body.members,
            description=body.description,
        )
    return json_response(view)


@router.delete("/platforms/{name}", status_code=204, summary="Remove a platform (estate admins)")
def delete_platform(name: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        tm.remove_platform(s, name)
    return Response(status_code=204)


# ---------------------------------------------------------------- applications and OTM


@router.get(APPLICATION + "/threat-risk", summary="An application's threat risk, per service")
def get_application_risk(application: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = auth.check_application(s, ctx.principal, application).key
        risk = threat_risk.application_risk(s, key)
    return json_response(risk)


@router.get(
    APPLICATION + "/compliance",
    summary="Per requirement of a standard: controls needed, how many done and verified",
)
def get_compliance(
    application: str, standard: Standard = Query(...), ctx: Ctx = Depends(caller)
) -> Response:
    with ctx.session() as s:
        key = auth.check_application(s, ctx.principal, application).key
        report = threat_risk.compliance_report(s, key, standard)
    return json_response(report)


@router.get(
    APPLICATION + "/otm", summary="An application version's threat models as an OTM document"
)
def get_otm(
    application: str,
    version: str | None = Query(None, description="Application version (default: latest)."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        key = auth.check_application(s, ctx.principal, application).key
        document = otm.export_otm(s, key, version)
    return json_response(document)


@router.post(
    "/otm",
    summary="Import mitigation states from an OTM document (JSON or YAML)",
    description="Decisions made in meshward are kept and reported as conflicts. The caller must "
    "be an editor of every component the document matches, or nothing is changed.",
    openapi_extra=RAW_BODY,
)
async def import_otm(request: Request, ctx: Ctx = Depends(caller)) -> Response:
    data = await read_limited(request, min(Limits.from_env().max_bytes, MAX_OTM_BYTES))

    def work() -> Response:
        with ctx.session() as s:
            auth.require_any(s, ctx.principal, "write")
            result = otm.import_otm(s, data, "request body")
            for matched in result.components_matched:
                auth.check_component(s, ctx.principal, matched.partition("@")[0], "write")
        return json_response(result.to_dict())

    return await run_in_threadpool(work)
