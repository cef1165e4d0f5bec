"""Impact: blast radius, risk roll-ups, application diff and fix plan."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meshward.api.deps import Ctx, caller, json_response
from meshward.services import auth, diff, fixplan, rollup
from meshward.services.impact import blast_radius

router = APIRouter(tags=["impact"])


def _visible_only(result: dict[str, Any], keys: set[str], names: set[str]) -> dict[str, Any]:
    """A caller scoped to some domains sees only their components in a blast radius."""
    result["components"] = [c for c in result["components"] if c["key"] in keys]
    result["consumers"] = [c for c in result["consumers"] if c["key"] in keys]
    result["environments"] = [e for e in result["environments"] if e["component"] in names]
    result["applications"] = [
        a
        for a in result["applications"]
        if any(member.split("@", 1)[0] in names for member in a["components"])
    ]
    return result


@router.get("/blast-radius", summary="Who is hit by an advisory, a purl (range) or a package")
def get_blast_radius(
    q: str = Query(..., min_length=1, description="CVE/GHSA/OSV id, purl, purl@range, name."),
    env: str | None = Query(None, description="Only what runs in this environment now."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        result = blast_radius(s, q, environment=env).to_dict()
        keys = auth.visible_component_keys(s, ctx.principal)
        names = auth.visible_component_names(s, ctx.principal)
    if keys is not None and names is not None:
        result = _visible_only(result, keys, names)
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
