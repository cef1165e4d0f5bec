"""The web UI's pages: thin handlers over the services, rendered with Jinja2.

Every handler gets its caller from ``viewer`` (a signed session cookie whose token is checked
again on every request) and applies the same per-domain checks as the REST API; every POST
goes through ``posted``, which refuses a request without the form's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from meshward.errors import (
    AuthenticationError,
    MeshwardError,
    NotFoundError,
    PermissionDeniedError,
)
from meshward.services import (
    advisories,
    auth,
    catalog,
    diff,
    findings,
    rollup,
    sboms,
    threat_models,
    triage,
    vex,
    views,
)
from meshward.services.impact import blast_radius
from meshward.store.audit import Actor
from meshward.store.db import Store
from meshward.web import session as websession
from meshward.web.charts import trend_chart
from meshward.web.render import (
    COMPONENT_VERSION_SECTIONS,
    DrawnNode,
    Pager,
    draw,
    page_number,
    page_size,
    render,
    short,
)

MAX_FORM_FIELDS = 20_000


class SignInNeeded(Exception):
    def __init__(self, next_path: str, clear: bool = False) -> None:
        self.next_path = next_path
        self.clear = clear


def _sign_in_redirect(request: Request, exc: SignInNeeded) -> Response:
    response = RedirectResponse(f"/ui/sign-in?next={quote(exc.next_path, safe='')}", 303)
    if exc.clear:
        websession.write(request, response, None)
    return response


class HtmlRoute(APIRoute):
    """Errors a user can act on become pages (the API's handlers answer JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInNeeded as exc:
                return _sign_in_redirect(request, exc)
            except AuthenticationError:
                return _sign_in_redirect(request, SignInNeeded(_here(request), clear=True))
            except NotFoundError as exc:
                return _error(request, 404, "Not found", str(exc))
            except PermissionDeniedError as exc:
                return _error(request, 403, "Not allowed", str(exc))
            except MeshwardError as exc:
                return _error(request, 400, "That did not work", str(exc))

        return handler


def _error(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@dataclass
class WebCtx:
    request: Request
    store: Store
    principal: auth.Principal
    csrf: str

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.store.session(Actor(self.principal.name, "web")) as s:
            yield s

    def page(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return render(
            self.request,
            template,
            context,
            status=status,
            principal=self.principal,
            csrf=self.csrf,
        )


def viewer(request: Request) -> WebCtx:
    sess = websession.read(request)
    if sess is None or not sess.signed_in:
        raise SignInNeeded(
            _here(request), clear=sess is None and websession.COOKIE in request.cookies
        )
    store: Store = request.app.state.store
    try:
        with store.session() as s:
            principal = views.principal_for_session(s, sess.prefix or "", sess.digest or "")
    except AuthenticationError:
        raise SignInNeeded(_here(request), clear=True) from None
    return WebCtx(request, store, principal, websession.csrf_token(request.app.state.web_key, sess))


Form = dict[str, list[str]]


async def form_fields(request: Request) -> Form:
    """An urlencoded form body (the only kind our forms send)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise MeshwardError("forms are sent as application/x-www-form-urlencoded")
    body = (await request.body()).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.url.netloc


def _check_csrf(request: Request, form: Form) -> None:
    given = (form.get("csrf") or [""])[0]
    sess = websession.read(request)
    if not _same_origin(request) or not websession.csrf_ok(request.app.state.web_key, sess, given):
        raise PermissionDeniedError("the form's CSRF token is missing or wrong: reload the page")


def posted(
    request: Request, ctx: WebCtx = Depends(viewer), form: Form = Depends(form_fields)
) -> tuple[WebCtx, Form]:
    _check_csrf(request, form)
    return ctx, form


def _one(form: Form, name: str) -> str | None:
    value = (form.get(name) or [""])[0].strip()
    return value or None


def _local(path: str | None, default: str = "/ui/") -> str:
    """Only a path on this site is a place to go back to (no open redirect)."""
    if not path or not path.startswith("/ui/") or path.startswith("//") or "\\" in path:
        return default
    return path


# ---------------------------------------------------------------- signing in and out


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    sess = websession.read(request) or websession.new_session()
    response = render(
        request,
        "sign_in.html",
        {"next": _local(next), "error": None},
        csrf=websession.csrf_token(request.app.state.web_key, sess),
    )
    websession.write(request, response, sess)
    return response


@router.post("/sign-in")
def sign_in(request: Request, form: Form = Depends(form_fields)) -> Response:
    _check_csrf(request, form)
    token = _one(form, "token") or ""
    next_path = _local(_one(form, "next"))
    store: Store = request.app.state.store
    try:
        with store.session() as s:
            auth.verify_token(s, token)
    except AuthenticationError as exc:
        sess = websession.read(request) or websession.new_session()
        response = render(
            request,
            "sign_in.html",
            {"next": next_path, "error": f"Sign-in refused: {exc}."},
            status=401,
            csrf=websession.csrf_token(request.app.state.web_key, sess),
        )
        return response
    done = RedirectResponse(next_path, 303)
    websession.write(request, done, websession.new_session(*views.session_credential(token)))
    return done


@router.post("/sign-out")
def sign_out(request: Request, ctx: tuple[WebCtx, Form] = Depends(posted)) -> Response:
    response = RedirectResponse("/ui/sign-in", 303)
    websession.write(request, response, websession.new_session())
    return response


# ---------------------------------------------------------------- overview and domains


@router.get("/")
def overview(request: Request, page: str | None = None, ctx: WebCtx = Depends(viewer)) -> Response:
    pager = Pager(request, page_number(page), 20)
    with ctx.session() as s:
        ids = auth.visible_domain_ids(s, ctx.principal)
        data = views.overview(s, ids, offset=pager.offset, limit=pager.size)
    pager.more = data.more_applications
    return ctx.page(
        "overview.html",
        {
            "data": data,
            "chart": trend_chart(data.trend) if data.trend else None,
            "pager": pager,
            "may_snapshot": ctx.principal.may("write", None),
        },
    )


@router.post("/snapshot")
def take_snapshot(ctx_form: tuple[WebCtx, Form] = Depends(posted)) -> Response:
    ctx, _ = ctx_form
    with ctx.session() as s:
        auth.require(s, ctx.principal, "write", None)
        rollup.snapshot_rollups(s)
    return RedirectResponse("/ui/", 303)


@router.get("/domains")
def domain_tree(ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        tree = views.domain_tree(s, auth.visible_domain_ids(s, ctx.principal))
    return ctx.page("domains.html", {"tree": tree})


@router.get("/domains/{path}")
def domain_page(
    request: Request,
    path: str,
    apps_page: str | None = None,
    page: str | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    app_pager = Pager(request, page_number(apps_page), 25, "apps_page")
    comp_pager = Pager(request, page_number(page))
    with ctx.session() as s:
        dom = auth.check_domain(s, ctx.principal, path)
        ids = auth.visible_domain_ids(s, ctx.principal)
        risk = views.domain_risk_row(s, dom.id)
        apps = app_pager.take(
            views.domain_applications(s, dom, ids, app_pager.offset, app_pager.size)
        )
        comps = comp_pager.take(
            catalog.list_components(
                s, domain_ids=ids, domain=dom.path, offset=comp_pager.offset, limit=comp_pager.fetch
            )
        )
        domain = {"name": dom.name, "path": dom.path, "title": dom.title, "owner": dom.owner}
        domain["description"] = dom.description
    return ctx.page(
        "domain.html",
        {
            "domain": domain,
            "risk": risk,
            "apps": apps,
            "app_pager": app_pager,
            "components": comps,
            "pager": comp_pager,
        },
    )


# ---------------------------------------------------------------- applications


def _app_drawing(graph: views.ServiceGraph, risks: dict[str, Any], titles: dict[str, str]) -> Any:
    """Nodes coloured by their worst open finding, with threat risk in their tooltip; edges
    dashed across a trust boundary and thick where the threat models see a link threat."""
    nodes = [
        DrawnNode(
            n.key,
            short(n.name),
            (f"{n.version} · " if n.version else "outside · ")
            + (", ".join(n.environments) or "not running"),
            f"/ui/components/{quote(n.name)}/versions/{quote(n.version)}"
            if n.version
            else f"/ui/components/{quote(n.name)}",
            f"risk-{n.worst or 'clear'}" if n.member else "outside",
            f"{n.name} {n.version or '(outside this application)'}: "
            + (
                ", ".join(f"{v} {k}" for k, v in n.by_severity.items()) or "no open findings"
                if n.member
                else f"domain {n.domain}"
            )
            + (
                f"; threat risk {risks[n.key].current:.1f} now"
                f" (inherent {risks[n.key].inherent:.0f})"
                if n.key in risks
                else ""
            ),
        )
        for n in graph.nodes
    ]
    edges = [
        (
            e.consumer,
            e.provider,
            " ".join(
                ["edge"]
                + (["boundary"] if e.marks.crosses_boundary else [])
                + (["threat"] if e.marks.threats else [])
            ),
            f"calls {', '.join(e.apis)}"
            + (f" — crosses a trust boundary: {e.marks.reason}" if e.marks.reason else "")
            + (
                " — link threats: " + "; ".join(titles.get(t, t) for t in e.marks.threats)
                if e.marks.threats
                else ""
            ),
        )
        for e in graph.edges
    ]
    return draw(nodes, edges)


@router.get("/apps/{name}")
def application_page(
    name: str, version: str | None = None, ctx: WebCtx = Depends(viewer)
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, name)
        versions = catalog.list_app_versions(s, app.key)
        if not versions:
            return ctx.page("application.html", {"app": app.name, "versions": [], "view": None})
        av = diff.app_version_row(s, app, version or None)
        view = catalog.app_version_view(s, app, av)
        members = views.member_versions(s, av.id)
        risks, compliance = views.application_threat_risk(s, sorted(members.values()))
        graph = views.application_graph(s, av.id, auth.visible_domain_ids(s, ctx.principal))
        threat_titles = {k: t.title for k, t in threat_models.current_kb(s).threats.items()}
    by_name = {n.name: n for n in graph.nodes}
    threat_risk = {n.key: risks[members[n.key]] for n in graph.nodes if n.key in members}
    return ctx.page(
        "application.html",
        {
            "app": app.name,
            "versions": versions,
            "view": view,
            "service_graph": graph,
            "members": [by_name.get(m.component) for m in view.members],
            "drawing": _app_drawing(graph, threat_risk, threat_titles),
            "boundary_edges": sum(e.marks.crosses_boundary for e in graph.edges),
            "threat_edges": sum(bool(e.marks.threats) for e in graph.edges),
            "threat_risk": threat_risk,
            "threat_titles": threat_titles,
            "risk_totals": {
                k: round(sum(getattr(r, k) for r in risks.values()), 1)
                for k in ("inherent", "current", "projected")
            },
            "compliance": compliance,
        },
    )


@router.get("/apps/{name}/diff")
def application_diff(
    name: str,
    from_version: str = Query(..., alias="from"),
    to_version: str = Query(..., alias="to"),
    ctx: WebCtx = Depends(viewer),
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, name)
        versions = catalog.list_app_versions(s, app.key)
        result = diff.app_diff(s, app.key, from_version, to_version)
    return ctx.page("diff.html", {"app": app.name, "versions": versions, "diff": result})


# ---------------------------------------------------------------- component versions


@router.get("/components/{name}")
def component_page(name: str, ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, name)
        versions = catalog.list_component_versions(s, comp.key)
    if versions:
        return RedirectResponse(
            f"/ui/components/{quote(comp.name)}/versions/{quote(versions[-1].version)}", 303
        )
    return ctx.page("component_empty.html", {"component": comp.name})


@router.get("/components/{name}/versions/{version}")
def component_version_page(
    request: Request,
    name: str,
    version: str,
    dependency: str | None = None,
    page: str | None = None,
    findings_page: str | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    pkg_pager = Pager(request, page_number(page))
    finding_pager = Pager(request, page_number(findings_page), 50, "findings_page")
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, name)
        cv = catalog.get_component_version(s, comp.key, version)
        versions = catalog.list_component_versions(s, comp.key)
        entity = views.component_facts(s, comp)
        try:
            sbom: sboms.SbomView | None = sboms.show_sbom(s, comp.key, version)
        except NotFoundError:
            sbom = None
        packages = [
            p
            for p in (sbom.packages if sbom else [])
            if p["dependency"] != "root" and (not dependency or p["dependency"] == dependency)
        ]
        counts = {
            kind: sum(1 for p in (sbom.packages if sbom else []) if p["dependency"] == kind)
            for kind in ("direct", "transitive", "unknown")
        }
        rows = finding_pager.take(
            findings.list_findings(
                s,
                findings.FindingFilter(component=comp.key, version=cv.version),
                finding_pager.fetch,
                finding_pager.offset,
            )
        )
        deployments = [
            d
            for d in catalog.list_deployments(s, history=True, component=comp.key)
            if d.version == cv.version
        ]
        may_write = ctx.principal.may("write", entity.domain)
        sections = []
        for section in COMPONENT_VERSION_SECTIONS:
            data = section.load(s, ctx.principal, cv)
            if data is not None:
                sections.append((section, data))
    return ctx.page(
        "component_version.html",
        {
            "component": comp.name,
            "entity": entity,
            "cv": catalog.ComponentVersionView.of(comp, cv),
            "versions": versions,
            "sbom": sbom,
            "packages": pkg_pager.slice(packages),
            "pager": pkg_pager,
            "dependency": dependency or "",
            "counts": counts,
            "findings": rows,
            "finding_pager": finding_pager,
            "deployments": deployments,
            "may_write": may_write,
            "states": findings.STATES,
            "justifications": findings.JUSTIFICATIONS,
            "sections": sections,
            "back": _here(request),
        },
    )


@router.get("/components/{name}/versions/{version}/vex")
def export_vex(
    name: str,
    version: str,
    format: str = Query("openvex", pattern="^(openvex|cyclonedx)$"),
    ctx: WebCtx = Depends(viewer),
) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, name)
        data = vex.export_vex(s, comp.key, version, format, author=ctx.principal.name)
    filename = f"{comp.name}-{version}.{format}.json".replace('"', "")
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------- blast radius


def _radius_drawing(result: dict[str, Any]) -> Any:
    """Three tiers: consumers call affected services, which run in environments."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for c in result["components"]:
        versions.setdefault(c["component"], []).append(c)
    nodes: dict[str, DrawnNode] = {}
    edges: set[tuple[str, str, str, str]] = set()
    for name, hits in versions.items():
        envs = sorted({e for c in hits for e in c["environments"]})
        label = hits[0]["version"] if len(hits) == 1 else f"{len(hits)} versions"
        hints = "; ".join(
            f"{c['version']}: "
            + (f"upgrade {c['package']} to {c['upgrade_to']}" if c["upgrade_to"] else "no fix yet")
            for c in hits
        )
        nodes[name] = DrawnNode(
            name,
            short(name),
            f"{label} · {', '.join(envs) or 'not running'}",
            f"/ui/components/{quote(name)}/versions/{quote(hits[-1]['version'])}",
            "hit affected" + (" running" if envs else ""),
            f"{name} affected ({hints}); runs in {', '.join(envs) or 'no environment'}",
        )
    for c in sorted(result["consumers"], key=lambda c: (c["depth"], c["component"])):
        hops = f"{c['depth']} hop{'s' if c['depth'] > 1 else ''}"
        nodes.setdefault(
            c["component"],
            DrawnNode(
                c["component"],
                short(c["component"]),
                f"consumer · {hops}",
                f"/ui/components/{quote(c['component'])}",
                "hit consumer",
                f"{c['component']} calls an affected service: {' → '.join(c['path'])}",
            ),
        )
        path = c["path"]
        for i in range(0, len(path) - 2, 2):
            edges.add((path[i + 2], path[i], "edge hit", f"{path[i + 2]} calls {path[i + 1]}"))
    running: dict[str, list[str]] = {}
    production: dict[str, bool] = {}
    for e in result["environments"]:
        running.setdefault(e["environment"], []).append(f"{e['component']} {e['version']}")
        production[e["environment"]] = e["production"]
        edges.add((e["component"], f"env:{e['environment']}", "edge runs", "runs in"))
    envs = [
        DrawnNode(
            f"env:{env}",
            env,
            f"{'production · ' if production[env] else ''}{len(names)} running",
            None,
            "hit env" + (" production" if production[env] else ""),
            f"{env}: {', '.join(names)}",
        )
        for env, names in sorted(running.items(), key=lambda kv: (not production[kv[0]], kv[0]))
    ]
    return draw([*envs, *nodes.values()], sorted(edges), limit=60)


@router.get("/blast-radius")
def blast_radius_page(
    request: Request,
    q: str | None = None,
    env: str | None = None,
    page: str | None = None,
    vpage: str | None = None,
    apage: str | None = None,
    epage: str | None = None,
    size: str | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    """The blast radius with each of its lists paged (``size`` rows a page): a large advisory
    hits thousands of versions, deployments, application versions and consumers (the summary
    counts them all; the service spells out only the page of versions and the lists' first
    rows)."""
    query = (q or "").strip()
    context: dict[str, Any] = {"q": query, "env": env or "", "result": None, "error": None}
    rows = page_size(size)
    pagers = {
        "versions": Pager(request, page_number(vpage), rows, param="vpage"),
        "running": Pager(request, page_number(epage), rows, param="epage"),
        "applications": Pager(request, page_number(apage), rows, param="apage"),
        "consumers": Pager(request, page_number(page), rows),
    }
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        context["environments"] = [e["name"] for e in catalog.list_environments(s)]
        if query:
            keys = auth.visible_component_keys(s, ctx.principal)
            versions = pagers["versions"]
            try:  # a scoped caller's totals are its own: the service drops the rest first
                result = blast_radius(
                    s,
                    query,
                    environment=env or None,
                    visible=keys,
                    limit=versions.size,
                    offset=versions.offset,
                    consumer_limit=pagers["consumers"].end,
                    application_limit=pagers["applications"].end,
                    environment_limit=pagers["running"].end,
                ).to_dict()
            except MeshwardError as exc:
                context["error"] = str(exc)
            else:
                versions.more = result["page"]["next_offset"] is not None
                context["result"] = result
                context["drawing"] = _radius_drawing(result)
                context["running"] = pagers["running"].slice(result["environments"])
                context["applications"] = pagers["applications"].slice(result["applications"])
                context["consumers"] = pagers["consumers"].slice(result["consumers"])
                context["pagers"] = pagers
    return ctx.page("blast_radius.html", context)


# ---------------------------------------------------------------- findings and triage


FILTERS = ("domain", "app", "component", "version", "env", "vuln")


@router.get("/findings")
def findings_page(
    request: Request,
    domain: str | None = None,
    app: str | None = None,
    component: str | None = None,
    version: str | None = None,
    env: str | None = None,
    vuln: str | None = None,
    severity: list[str] = Query([]),
    state: list[str] = Query([]),
    page: str | None = None,
    done: int | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    pager = Pager(request, page_number(page))
    given = {"domain": domain, "app": app, "component": component, "version": version}
    given |= {"env": env, "vuln": vuln}
    flt = {k: (v or "").strip() or None for k, v in given.items()}
    with ctx.session() as s:
        if flt["domain"]:
            auth.check_domain(s, ctx.principal, flt["domain"])
        if flt["app"]:
            auth.check_application(s, ctx.principal, flt["app"])
        if flt["component"]:
            auth.check_component(s, ctx.principal, flt["component"])
        triage.apply_rules(s)
        rows = pager.take(
            findings.list_findings(
                s,
                findings.FindingFilter(
                    domain=flt["domain"],
                    application=flt["app"],
                    component=flt["component"],
                    version=flt["version"],
                    environment=flt["env"],
                    vulnerability=flt["vuln"],
                    severity=[v for v in severity if v] or None,
                    state=[v for v in state if v] or None,
                    domain_ids=auth.visible_domain_ids(s, ctx.principal),
                ),
                pager.fetch,
                pager.offset,
            )
        )
        environments = [e["name"] for e in catalog.list_environments(s)]
        may_write = auth.visible_domain_ids(s, ctx.principal, "write") != set()
    return ctx.page(
        "findings.html",
        {
            "rows": rows,
            "pager": pager,
            "filters": {k: v or "" for k, v in flt.items()},
            "severity": severity,
            "state": state,
            "severities": findings.SEVERITIES,
            "states": findings.STATES,
            "justifications": findings.JUSTIFICATIONS,
            "environments": environments,
            "may_write": may_write,
            "done": done,
            "back": _here(request),
        },
    )


@router.post("/findings/analysis")
def set_analysis(ctx_form: tuple[WebCtx, Form] = Depends(posted)) -> Response:
    ctx, form = ctx_form
    try:
        ids = sorted({int(v) for v in form.get("ids", []) if v.strip()})
    except ValueError:
        raise MeshwardError("finding ids are numbers") from None
    if not ids:
        raise MeshwardError("tick at least one finding")
    state = _one(form, "state") or ""
    with ctx.session() as s:
        auth.check_findings(s, ctx.principal, ids, "write")
        n = findings.set_analysis(
            s,
            ids,
            state,
            justification=_one(form, "justification") if state == "not_affected" else None,
            detail=_one(form, "detail"),
            actor=ctx.principal.name,
        )
    back = _local(_one(form, "back"), "/ui/findings")
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}done={n}", 303)


@router.get("/advisories/{name}")
def advisory_page(name: str, ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        view = advisories.advisory_view(s, name)
    return ctx.page("advisory.html", {"adv": view})


# ---------------------------------------------------------------- audit


@router.get("/audit")
def audit_page(
    request: Request,
    kind: str | None = None,
    actor: str | None = None,
    page: str | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    from meshward.services.audit import list_audit_events

    pager = Pager(request, page_number(page))
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        rows = pager.take(
            list_audit_events(
                s,
                entity_kind=(kind or "").strip() or None,
                actor=(actor or "").strip() or None,
                offset=pager.offset,
                limit=pager.fetch,
            )
        )
    return ctx.page(
        "audit.html", {"rows": rows, "pager": pager, "kind": kind or "", "actor": actor or ""}
    )
