"""Domains, components and their versions, applications and their versions, environments,
deployments, API links and catalog import."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.services import auth, catalog, visibility
from meshward.services.catalog_import import import_catalog_text

router = APIRouter(tags=["catalog"])


@router.get("/domains", summary="Domains the caller may see")
def list_domains(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        rows = catalog.list_domains(
            s,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


@router.get("/components", summary="Components the caller may see, by key")
def list_components(
    domain: str | None = Query(None, description="Only this domain's subtree."),
    application: str | None = Query(None, description="Only this application's."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        if domain:
            auth.check_domain(s, ctx.principal, domain)
        if application:
            auth.check_application(s, ctx.principal, application)
        rows = catalog.list_components(
            s,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            domain=domain,
            application=application,
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


class ComponentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "service"
    owner: str | None = None
    domain: str | None = None
    application: str | None = None


@router.post("/components", status_code=201, summary="Add a component by hand")
def create_component(body: ComponentIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        if body.domain:
            auth.check_domain(s, ctx.principal, body.domain, "write")
        if body.application:
            auth.check_application(s, ctx.principal, body.application, "write")
        if not body.domain and not body.application:
            auth.require(s, ctx.principal, "write", None)
        comp = catalog.create_component(
            s,
            body.name,
            kind=body.kind,
            owner=body.owner,
            domain=body.domain,
            application=body.application,
        )
        view = catalog.show_entity(s, comp.key)
    return json_response(view, 201)


@router.get("/components/{component}", summary="One component with its relations")
def show_component(component: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        view = catalog.show_entity(s, comp.key)
    return json_response(view)


@router.get("/components/{component}/versions", summary="A component's versions, oldest first")
def list_component_versions(
    component: str, ctx: Ctx = Depends(caller), pg: Page = Depends(page)
) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        rows = catalog.list_component_versions(s, comp.key, offset=pg.offset, limit=pg.fetch)
    return pg.respond(rows)


class VersionIn(BaseModel):
    version: str = Field(min_length=1, max_length=200)
    image: str | None = None
    digest: str | None = None
    commit: str | None = None


@router.post("/components/{component}/versions", summary="Record a build of a component")
def add_component_version(component: str, body: VersionIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component, "write")
        cv, changed = catalog.add_component_version(
            s, comp.key, body.version, image=body.image, digest=body.digest, commit=body.commit
        )
        view = catalog.ComponentVersionView.of(comp, cv)
    return json_response({**asdict(view), "changed": changed}, 201 if changed else 200)


@router.get("/apps", summary="Applications the caller may see")
def list_applications(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        rows = catalog.list_applications(
            s,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(rows)


@router.get("/apps/{application}/versions", summary="An application's versions, oldest first")
def list_app_versions(
    application: str, ctx: Ctx = Depends(caller), pg: Page = Depends(page)
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        rows = catalog.list_app_versions(s, app.key, offset=pg.offset, limit=pg.fetch)
    return pg.respond(rows)


@router.get("/apps/{application}/versions/{version}", summary="One application version")
def show_app_version(application: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        view = catalog.get_app_version(s, app.key, None if version == "latest" else version)
    return json_response(view.to_dict())


class AppVersionIn(BaseModel):
    set: dict[str, str] = Field(default_factory=dict, description="component -> version")
    remove: list[str] = Field(default_factory=list)
    version: str | None = Field(None, description="Label (default: 1, 2, 3 ...).")
    note: str | None = None


@router.post("/apps/{application}/versions", summary="A new application version")
def create_app_version(
    application: str, body: AppVersionIn, ctx: Ctx = Depends(caller)
) -> Response:
    changes: dict[str, str | None] = {**body.set, **dict.fromkeys(body.remove)}
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application, "write")
        for comp in changes:
            auth.check_component(s, ctx.principal, comp)
        view, created = catalog.create_app_version(
            s, app.key, changes, label=body.version, note=body.note
        )
    return json_response({**view.to_dict(), "created": created}, 201 if created else 200)


@router.get("/environments", summary="Environments and how many components run in each")
def list_environments(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        rows = catalog.list_environments(s, offset=pg.offset, limit=pg.fetch)
    return pg.respond(rows)


@router.get("/deployments", summary="What runs now, ran at a time, or the whole history")
def list_deployments(
    env: str | None = Query(None, description="Only this environment."),
    at: str | None = Query(None, description="What ran at this ISO 8601 time."),
    history: bool = Query(False, description="Every deployment, past and present."),
    component: str | None = Query(None),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key if component else None
        views = catalog.list_deployments(
            s,
            env,
            at=catalog.parse_time(at) if at else None,
            history=history,
            component=key,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(views)


class DeploymentIn(BaseModel):
    environment: str = Field(min_length=1, max_length=100)
    component: str
    version: str
    at: str | None = Field(None, description="ISO 8601 time (default: now).")


@router.post("/deployments", summary="Record that a component version runs in an environment")
def record_deployment(body: DeploymentIn, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, body.component, "write")
        view, changed = catalog.record_deployment(
            s,
            body.environment,
            comp.key,
            body.version,
            catalog.parse_time(body.at) if body.at else None,
        )
    return json_response({**asdict(view), "changed": changed}, 201 if changed else 200)


@router.delete(
    "/environments/{environment}/deployments/{component}",
    summary="A component stops running in an environment",
    description="`ended` is false when it was not running there at that time.",
)
def end_deployment(
    environment: str,
    component: str,
    at: str | None = Query(None, description="ISO 8601 time (default: now)."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component, "write")
        ended = catalog.end_deployment(
            s, environment, comp.key, catalog.parse_time(at) if at else None
        )
    return json_response({"environment": environment, "component": comp.name, "ended": ended})


@router.get("/links", summary="Runtime API links among the components the caller may see")
def api_links(ctx: Ctx = Depends(caller), pg: Page = Depends(page)) -> Response:
    with ctx.session() as s:
        links = catalog.api_links(
            s,
            domain_ids=auth.visible_domain_ids(s, ctx.principal),
            offset=pg.offset,
            limit=pg.fetch,
        )
    return pg.respond(links)


@router.get(
    "/catalog/tree",
    summary="Domains, their applications and components, as far as the caller may see",
    description="A domain whose parent the caller may not see is shown at the top level.",
)
def catalog_tree(ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        tree = catalog.catalog_tree(s, domain_ids=auth.visible_domain_ids(s, ctx.principal))
    return json_response(tree)


@router.get(
    "/catalog/entities/{ref:path}",
    summary="Any catalog entity with its relations, in both directions",
    description="`ref` is what `meshward catalog show` takes: `cart`, `component:cart`, "
    "`api:default/cart`, `group:team-a` ... Entities without a domain (APIs, groups, users) "
    "are for estate-wide roles.",
)
def show_entity(ref: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = visibility.check_entity(s, ctx.principal, ref)
        view = catalog.show_entity(s, key)
    return json_response(view)


@router.post(
    "/catalog/import",
    summary="Import Backstage descriptors (the YAML in the body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def import_catalog(request: Request, ctx: Ctx = Depends(caller)) -> Response:
    data = await request.body()

    def work() -> Response:
        with ctx.session() as s:
            auth.require(s, ctx.principal, "write", None)
            report = import_catalog_text(s, data, "catalog-info.yaml")
        return json_response(report.to_dict())

    return await run_in_threadpool(work)
