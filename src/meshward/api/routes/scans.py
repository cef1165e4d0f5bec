"""Scan results in, verification and the pipeline gate out. A report is the raw body (any
supported format, judged by content, up to the document size limit); a malformed one is a
422 naming the place, and changes nothing (the request's transaction rolls back)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.api.routes.sboms import RAW_BODY, read_limited, writable_upload
from meshward.limits import Limits
from meshward.services import auth, gate, scan_views
from meshward.services import verification as vf

router = APIRouter(tags=["verification"])

VERSION = "/components/{component}/versions/{version}"
SCANS_PATH = VERSION + "/scans"
GATE_PATH = VERSION + "/gate"


@router.post(
    SCANS_PATH,
    summary="Upload a scan report (SARIF, Semgrep/Bandit JSON, ZAP JSON/XML, Trivy, Grype)",
    description="Results are stored with their fingerprints and mapped to controls; the "
    "version's verification is updated in the same transaction. 201 when stored, 200 when "
    "the same report was already there.",
    openapi_extra=RAW_BODY,
)
async def upload_scan(
    component: str,
    version: str,
    request: Request,
    tool: str | None = Query(None, max_length=100, description="When the report names none."),
    policy: Literal["replace", "merge"] = Query("replace"),
    reopen_failed: bool = Query(False, description="Reopen done tasks whose control fails."),
    ctx: Ctx = Depends(caller),
) -> Response:
    key, data = await writable_upload(ctx, component, request, Limits.from_env().max_bytes)

    def work() -> Response:
        with ctx.session() as s:
            result = vf.upload_scan(
                s,
                key,
                version,
                data,
                f"api:{component}@{version}",
                tool=tool,
                policy=policy,
                reopen_failed=reopen_failed,
            )
        return json_response(asdict(result), 200 if result.unchanged else 201)

    return await run_in_threadpool(work)


@router.get(SCANS_PATH, summary="A component version's scans, newest first")
def list_scans(
    component: str, version: str, ctx: Ctx = Depends(caller), pg: Page = Depends(page)
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        rows = scan_views.list_scans(s, key, version)
    return pg.respond(rows[pg.offset : pg.offset + pg.fetch])


@router.get(
    VERSION + "/scan-results",
    summary="The results that count for a component version, with the controls they fail",
)
def list_scan_results(
    component: str,
    version: str,
    include_gone: bool = Query(False, description="Also results gone since the last scan."),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        rows = scan_views.scan_results_page(
            s, key, version, include_gone=include_gone, limit=pg.fetch, offset=pg.offset
        )
    return pg.respond(rows)


class ManualTestIn(BaseModel):
    passed: bool
    notes: str | None = Field(None, max_length=10000)
    valid_days: int = Field(180, ge=1, le=3650, description="Days the result counts.")


@router.post(
    VERSION + "/controls/{control}/manual-tests",
    summary="Record a tester's pass or fail for a control; it counts until it expires",
)
def record_manual_test(
    component: str, version: str, control: str, body: ManualTestIn, ctx: Ctx = Depends(caller)
) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component, "write").key
        answer = scan_views.record_manual_test(
            s,
            key,
            version,
            control,
            passed=body.passed,
            notes=body.notes,
            valid_days=body.valid_days,
        )
    return json_response(answer, 201)


@router.get(
    VERSION + "/verification",
    summary="Per control: task status, verification state and the evidence behind it",
)
def verification(component: str, version: str, ctx: Ctx = Depends(caller)) -> Response:
    with ctx.session() as s:
        key = auth.check_component(s, ctx.principal, component).key
        view = scan_views.verification_view(s, key, version)
    return json_response(view)


@router.post(
    GATE_PATH,
    summary="Check a component version against a gate policy (the body: policy YAML or JSON)",
    description="Answers the verdict: `passed`, and per rule whether it held and what broke "
    "it. A broken policy is still a 200; a malformed policy document is a 422.",
    openapi_extra=RAW_BODY,
)
async def check_gate(
    component: str, version: str, request: Request, ctx: Ctx = Depends(caller)
) -> Response:
    data = await read_limited(request, gate.POLICY_LIMITS.max_bytes)

    def work() -> Response:
        policy = gate.read_policy(data, "policy")
        with ctx.session() as s:
            key = auth.check_component(s, ctx.principal, component).key
            verdict = gate.evaluate_gate(s, key, version, policy)
        return json_response(verdict.to_dict())

    return await run_in_threadpool(work)
