"""SBOM upload (the document is the body, any supported format), show and export."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, caller, json_response
from meshward.limits import Limits
from meshward.services import auth, catalog, sboms

router = APIRouter(tags=["sboms"])

SBOM_PATH = "/components/{component}/versions/{version}/sbom"
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
"""OpenAPI for a route whose body is the document itself, sniffed by content."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (never read past it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"document over the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def writable_upload(
    ctx: Ctx, component: str, request: Request, limit: int
) -> tuple[str, bytes]:
    """The component's key and the body, write access checked first: a caller who may not
    upload is turned away before streaming a document of up to ``limit`` bytes at us."""

    def check() -> str:
        with ctx.session() as s:
            return auth.check_component(s, ctx.principal, component, "write").key

    key = await run_in_threadpool(check)
    return key, await read_limited(request, limit)


@router.put(
    SBOM_PATH,
    summary="Upload a component version's SBOM (CycloneDX or SPDX, JSON, XML or tag-value)",
    openapi_extra=RAW_BODY,
)
async def upload_sbom(
    component: str, version: str, request: Request, ctx: Ctx = Depends(caller)
) -> Response:
    limits = Limits.from_env()
    key, data = await writable_upload(ctx, component, request, limits.max_bytes)

    def work() -> Response:
        with ctx.session() as s:
            result = sboms.upload_sbom(s, key, version, data, f"api:{component}@{version}", limits)
        return json_response(result.to_dict(), 201 if result.changed else 200)

    return await run_in_threadpool(work)


@router.get(SBOM_PATH, summary="The packages of a component version's current SBOM")
def show_sbom(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        view = sboms.show_sbom(s, comp.key, version)
    return json_response(view.to_dict())


@router.get(SBOM_PATH + "/export", summary="A component version's SBOM as CycloneDX 1.6")
def export_component_sbom(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, component)
        cv = catalog.get_component_version(s, comp.key, version)
        bom = sboms.export_component_sbom(s, cv)
    return json_response(bom)


@router.get("/apps/{application}/sbom", summary="An application version as one CycloneDX 1.6")
def export_application_sbom(
    application: str,
    version: str | None = Query(None, description="Default: the latest."),
    ctx: Ctx = Depends(caller),
) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, application)
        view = catalog.get_app_version(s, app.key, version)
        for member in view.members:
            auth.check_component(s, ctx.principal, member.component_key)
        bom = sboms.export_application_sbom(s, app.key, version)
    return json_response(bom)
