"""Kubernetes in over the API: the same import as ``meshward k8s import``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, caller, json_response
from meshward.errors import PermissionDeniedError
from meshward.formats.k8s.objects import K8sRead
from meshward.formats.k8s.reader import DEFAULT_NAMESPACE, read_text
from meshward.formats.k8s.rules import MappingRules, parse_rules
from meshward.limits import Limits
from meshward.services.auth import Principal
from meshward.services.k8s_import import import_k8s
from meshward.store.models import Domain
from meshward.store.types import utcnow

router = APIRouter(tags=["kubernetes"])


class K8sImportIn(BaseModel):
    manifests: str | list[str] = Field(
        description="Kubernetes and Istio manifests (YAML, one or many documents) or "
        "`kubectl get deploy,sts,ds,cronjob -A -o json` output; a list holds one file each.",
    )
    rules: str | None = Field(None, description="Image-to-component rules (YAML).")
    cluster: str | None = Field(None, max_length=100)
    source: str | None = Field(None, max_length=100, description="Default k8s or k8s:CLUSTER.")
    namespace: str = Field(DEFAULT_NAMESPACE, max_length=253)
    prune: bool = True
    dry_run: bool = False


def require_admin_over(session: Session, principal: Principal, domain_ids: set[int | None]) -> None:
    """A write-scoped token whose admin role covers every domain the import touched (None:
    a component without a domain or a mesh-wide platform, which needs an estate admin)."""
    if "write" not in principal.scopes:
        raise PermissionDeniedError(f"{principal.name} may not write")
    ids = sorted(d for d in domain_ids if d is not None)
    paths = dict(session.execute(select(Domain.id, Domain.path).where(Domain.id.in_(ids))).all())
    admin = [g.domain_path for g in principal.grants if g.role == "admin"]
    if not admin:
        raise PermissionDeniedError(f"{principal.name} is not an admin anywhere")
    for domain_id in sorted(domain_ids, key=lambda d: -1 if d is None else d):
        path = paths.get(domain_id) if domain_id is not None else None
        if not any(
            g is None or (path is not None and (path == g or path.startswith(g + ".")))
            for g in admin
        ):
            raise PermissionDeniedError(
                f"{principal.name} is not an admin of {path or 'the estate'}"
            )


@router.post(
    "/environments/{environment}/k8s-import",
    summary="Record what Kubernetes manifests show running in an environment",
)
async def k8s_import(environment: str, body: K8sImportIn, ctx: Ctx = Depends(caller)) -> Response:
    def work() -> Response:
        limits = Limits.from_env()
        read = K8sRead()
        if isinstance(body.manifests, str):
            read_text(body.manifests.encode(), "manifests", limits, read, body.namespace)
        for i, text in enumerate(body.manifests if isinstance(body.manifests, list) else []):
            read_text(text.encode(), f"manifests[{i}]", limits, read, body.namespace)
        rules = parse_rules(body.rules, "rules", limits) if body.rules else MappingRules()
        with ctx.session() as s:
            require_admin_over(s, ctx.principal, set())
            result = import_k8s(
                s,
                read,
                environment,
                rules,
                source=body.source or (f"k8s:{body.cluster}" if body.cluster else "k8s"),
                now=utcnow(),
                cluster=body.cluster,
                prune=body.prune,
                dry_run=body.dry_run,
            )
            require_admin_over(s, ctx.principal, result.affected_domains)
        return json_response(result.to_dict(), 201 if result.changed and not body.dry_run else 200)

    return await run_in_threadpool(work)
