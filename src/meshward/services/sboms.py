"""SBOMs per component version: upload (any supported format), history, listing, export.

An upload is parsed completely before anything is written, and written in the caller's one
transaction, so a bad file changes nothing. The same bytes twice are a no-op; a different
document for the same version replaces the current one and keeps the old one as history.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from packageurl import PackageURL
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshward.ecosystems.purls import coordinates
from meshward.errors import NotFoundError
from meshward.formats.manifests.registry import sbom_from_manifests
from meshward.formats.sbom.common import gc_paused
from meshward.formats.sbom.cyclonedx_export import ApplicationSbom, ServiceSbom, application_bom
from meshward.formats.sbom.interface import SbomDocument as ParsedSbom
from meshward.formats.sbom.interface import SbomPackage
from meshward.formats.sbom.registry import read_sbom
from meshward.limits import DEFAULT_LIMITS, Limits
from meshward.services import catalog
from meshward.services.matching import rematch_component_versions
from meshward.services.triage import apply_rules
from meshward.store import audit
from meshward.store.bulk import bulk_insert, bulk_insert_missing, ids_by_key
from meshward.store.models import (
    ComponentVersion,
    Occurrence,
    Package,
    SbomDependency,
    SbomDocument,
)
from meshward.store.types import utcnow


@dataclass
class UploadResult:
    component: str
    version: str
    changed: bool
    format: str
    spec_version: str
    encoding: str
    packages: int
    unmatchable: int
    direct: int
    transitive: int
    replaced_document: int | None = None
    document_id: int = 0
    findings: int = 0
    """Active findings of this version after re-matching its new SBOM."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_dependencies(doc: ParsedSbom) -> dict[str, str]:
    """ref -> ``root``, ``direct``, ``transitive`` or ``unknown``, from the dependency graph.

    Direct: depended on by a described root. Transitive: reachable from a direct one. When the
    document names no root, packages that nothing depends on stand in for it."""
    refs = {p.ref for p in doc.packages}
    edges: dict[str, list[str]] = {}
    targets: set[str] = set()
    for src, dst in doc.dependencies:
        if src in refs and dst in refs and src != dst:
            edges.setdefault(src, []).append(dst)
            targets.add(dst)
    roots = [r for r in doc.root_refs if r in refs]
    if not roots and edges:
        roots = [r for r in edges if r not in targets]
    kinds = dict.fromkeys(refs, "unknown")
    for r in roots:
        kinds[r] = "root"
    queue: deque[str] = deque()
    for r in roots:
        for child in edges.get(r, []):
            if kinds[child] == "unknown":
                kinds[child] = "direct"
                queue.append(child)
    while queue:
        for child in edges.get(queue.popleft(), []):
            if kinds[child] == "unknown":
                kinds[child] = "transitive"
                queue.append(child)
    return kinds


def path_parents(
    refs: Iterable[str], kinds: dict[str, str], edges: Iterable[tuple[str, str]]
) -> dict[str, str | None]:
    """ref -> the node before it on its shortest path from a root (``Occurrence.path_parent_ref``:
    ``""`` for a root, its own ref when unreached, None when the path crosses a node that is
    not a package, whose chain the stored rows could not spell).

    Breadth-first from the roots in ref order, each node's children in ref order: the same
    walk, and so the same path among equally short ones, as the blast radius's own walk over
    the stored edges when this is not known."""
    children: dict[str, list[str]] = {}
    for src, dst in edges:
        children.setdefault(src, []).append(dst)
    roots = sorted(r for r, kind in kinds.items() if kind == "root")
    came_from = dict.fromkeys(roots, "")
    queue = deque(roots)
    while queue:
        current = queue.popleft()
        for child in sorted(children.get(current, ())):
            if child not in came_from:
                came_from[child] = current
                queue.append(child)
    known = set(refs)
    out: dict[str, str | None] = dict.fromkeys(known, "")
    for ref in known - came_from.keys():
        out[ref] = ref
    for ref, parent in came_from.items():  # in walk order: a parent is settled before
        if ref in known and parent:
            out[ref] = parent if parent in known and out[parent] is not None else None
    return out


def package_ids(session: Session, purls: Iterable[str]) -> dict[str, int]:
    """purl -> packages.id, creating the missing ones (concurrent uploads are safe)."""
    wanted = sorted(set(purls))
    table: Any = Package.__table__
    ids = ids_by_key(session, table, "purl", wanted)
    missing = [p for p in wanted if p not in ids]
    if missing:
        rows = []
        for purl in missing:
            c = coordinates(purl)
            rows.append((purl, c.type, c.ecosystem, c.name, c.version))
        bulk_insert_missing(
            session, table, ("purl", "type", "ecosystem", "name", "version"), rows, unique="purl"
        )
        ids.update(ids_by_key(session, table, "purl", missing))
    return ids


def current_document(session: Session, component_version_id: int) -> SbomDocument | None:
    return session.scalars(
        select(SbomDocument).where(
            SbomDocument.component_version_id == component_version_id,
            SbomDocument.current.is_(True),
        )
    ).first()


def upload_sbom(
    session: Session,
    component: str,
    version: str,
    data: bytes,
    source: str,
    limits: Limits = DEFAULT_LIMITS,
) -> UploadResult:
    with gc_paused():  # a big SBOM allocates ~10^5 objects and no cycles
        parsed = read_sbom(data, source, limits)  # raises InputError before any write
        return store_sbom(
            session, component, version, parsed, hashlib.sha256(data).hexdigest(), source
        )


def store_sbom(
    session: Session,
    component: str,
    version: str,
    parsed: ParsedSbom,
    digest: str,
    source: str | None,
    *,
    rematch: bool = True,
) -> UploadResult:
    """Attach a parsed document. ``rematch=False`` is for bulk loads that re-match once at
    the end (``rematch_component_versions`` over all the loaded versions)."""
    comp = catalog.get_component(session, component)
    cv, _ = catalog.add_component_version(session, comp.key, version)
    kinds = classify_dependencies(parsed)
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in ("direct", "transitive")}
    unmatchable = sum(1 for p in parsed.packages if not p.purl)
    result = UploadResult(
        component=comp.name,
        version=cv.version,
        changed=False,
        format=parsed.format,
        spec_version=parsed.spec_version,
        encoding=parsed.encoding,
        packages=len(parsed.packages),
        unmatchable=unmatchable,
        **counts,
    )
    current = current_document(session, cv.id)
    if current is not None and current.digest == digest:
        result.document_id = current.id
        return result
    result.changed = True
    if current is not None:
        current.current = False
        result.replaced_document = current.id
    previous = session.scalars(
        select(SbomDocument).where(
            SbomDocument.component_version_id == cv.id, SbomDocument.digest == digest
        )
    ).first()
    if previous is not None:  # an older document uploaded again: it becomes current again
        previous.current = True
        previous.uploaded_at = utcnow()
        result.document_id = previous.id
    else:
        try:
            with session.begin_nested():
                result.document_id = _insert_document(session, cv, parsed, digest, source, kinds)
        except IntegrityError:  # a concurrent upload of the same document won the race
            winner = session.scalars(
                select(SbomDocument).where(
                    SbomDocument.component_version_id == cv.id, SbomDocument.digest == digest
                )
            ).one()
            result.changed, result.document_id = False, winner.id
            return result
    session.flush()
    if rematch:
        result.findings = rematch_component_versions(session, [cv.id]).active
        apply_rules(session)
    audit.record(
        session,
        "sbom.upload",
        "sbom",
        f"{comp.key}@{cv.version}",
        after={
            "document": result.document_id,
            "format": f"{result.format} {result.spec_version}",
            "packages": result.packages,
            "direct": result.direct,
            "transitive": result.transitive,
            "replaced_document": result.replaced_document,
            "source": source,
        },
    )
    return result


def _insert_document(
    session: Session,
    cv: ComponentVersion,
    parsed: ParsedSbom,
    digest: str,
    source: str | None,
    kinds: dict[str, str],
) -> int:
    doc = SbomDocument(
        component_version_id=cv.id,
        digest=digest,
        format=parsed.format,
        spec_version=parsed.spec_version,
        encoding=parsed.encoding,
        source=source,
        name=parsed.name,
        serial=parsed.serial,
        created=parsed.created,
        tools=list(parsed.tools),
        package_count=len(parsed.packages),
        unmatchable_count=sum(1 for p in parsed.packages if not p.purl),
        current=True,
    )
    session.add(doc)
    session.flush()
    ids = package_ids(session, (p.purl for p in parsed.packages if p.purl))
    edges = list(dict.fromkeys(parsed.dependencies))
    parents = path_parents((p.ref for p in parsed.packages), kinds, edges)
    dumps = orjson.dumps
    bulk_insert(
        session,
        Occurrence.__table__,  # type: ignore[arg-type]
        (
            "document_id",
            "component_version_id",
            "package_id",
            "ref",
            "name",
            "version",
            "purl",
            "cpe",
            "licenses",
            "hashes",
            "scope",
            "supplier",
            "type",
            "dependency",
            "parent_ref",
            "path_parent_ref",
        ),
        [
            (
                doc.id,
                cv.id,
                ids.get(p.purl) if p.purl else None,
                p.ref,
                p.name,
                p.version,
                p.purl,
                p.cpe,
                dumps(p.licenses).decode(),
                dumps(p.hashes).decode(),
                p.scope,
                p.supplier,
                p.type,
                kinds.get(p.ref, "unknown"),
                p.parent_ref,
                parents[p.ref],
            )
            for p in parsed.packages
        ],
    )
    bulk_insert(
        session,
        SbomDependency.__table__,  # type: ignore[arg-type]
        ("document_id", "from_ref", "to_ref"),
        # in the document's order (readers keep each edge once; this makes sure of it):
        # sorting 30,000 edges cost as much as writing them
        [(doc.id, a, b) for a, b in edges],
    )
    return doc.id


@dataclass
class SbomView:
    component: str
    version: str
    format: str
    spec_version: str
    encoding: str
    digest: str
    uploaded_at: str
    packages: list[dict[str, Any]] = field(default_factory=list)
    unmatchable: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def show_sbom(session: Session, component: str, version: str) -> SbomView:
    cv = catalog.get_component_version(session, component, version)
    doc = current_document(session, cv.id)
    if doc is None:
        raise NotFoundError(f"{cv.component.name} {cv.version} has no SBOM yet")
    rows = session.execute(
        select(
            Occurrence.purl,
            Occurrence.name,
            Occurrence.version,
            Occurrence.dependency,
            Occurrence.licenses,
            Occurrence.scope,
        )
        .where(Occurrence.document_id == doc.id)
        .order_by(Occurrence.dependency != "root", Occurrence.name, Occurrence.version)
    ).all()
    history = session.execute(
        select(SbomDocument)
        .where(SbomDocument.component_version_id == cv.id)
        .order_by(SbomDocument.uploaded_at.desc(), SbomDocument.id.desc())
    ).scalars()
    return SbomView(
        component=cv.component.name,
        version=cv.version,
        format=doc.format,
        spec_version=doc.spec_version,
        encoding=doc.encoding,
        digest=doc.digest,
        uploaded_at=doc.uploaded_at.isoformat().replace("+00:00", "Z"),
        unmatchable=doc.unmatchable_count,
        packages=[
            {
                "purl": purl,
                "name": name,
                "version": ver,
                "dependency": dep,
                "licenses": lic,
                "scope": scope,
            }
            for purl, name, ver, dep, lic, scope in rows
        ],
        history=[
            {
                "document": d.id,
                "format": d.format,
                "spec_version": d.spec_version,
                "packages": d.package_count,
                "current": d.current,
                "uploaded_at": d.uploaded_at.isoformat().replace("+00:00", "Z"),
                "digest": d.digest,
            }
            for d in history
        ],
    )


def service_sbom(session: Session, cv: ComponentVersion) -> ServiceSbom:
    """A component version's current SBOM as the exporter wants it: its packages (the
    described root is the service itself, so it is left out), edges and direct refs."""
    comp = cv.component
    namespace, _, name = comp.key.split(":", 1)[1].partition("/")
    bom_ref = PackageURL(type="generic", namespace=namespace, name=name, version=cv.version)
    service = ServiceSbom(name=comp.name, version=cv.version, bom_ref=bom_ref.to_string())
    doc = current_document(session, cv.id)
    if doc is None:
        return service
    roots: set[str] = set()
    for occ in session.scalars(
        select(Occurrence).where(Occurrence.document_id == doc.id).order_by(Occurrence.id)
    ):
        if occ.dependency == "root":
            roots.add(occ.ref)
            service.purl = service.purl or occ.purl
            continue
        service.packages.append(
            SbomPackage(
                ref=occ.ref,
                name=occ.name,
                version=occ.version,
                purl=occ.purl,
                cpe=occ.cpe,
                licenses=list(occ.licenses),
                hashes=dict(occ.hashes),
                scope=occ.scope,
                supplier=occ.supplier,
                type=occ.type,
                parent_ref=None if occ.parent_ref in roots else occ.parent_ref,
            )
        )
        if occ.dependency == "direct":
            service.direct_refs.append(occ.ref)
    refs = {p.ref for p in service.packages}
    service.dependencies = [
        (a, b)
        for a, b in session.execute(
            select(SbomDependency.from_ref, SbomDependency.to_ref)
            .where(SbomDependency.document_id == doc.id)
            .order_by(SbomDependency.id)
        )
        if a in refs and b in refs
    ]
    return service


def export_application_sbom(
    session: Session, application: str, version: str | None = None
) -> dict[str, Any]:
    """One CycloneDX 1.6 document for an application version: each service a component with
    its own packages nested and its dependency graph kept."""
    view = catalog.get_app_version(session, application, version)
    app = catalog.get_application(session, application)
    services = []
    for member in view.members:
        cv = catalog.get_component_version(session, member.component_key, member.version)
        services.append(service_sbom(session, cv))
    return application_bom(
        ApplicationSbom(
            name=app.name,
            version=view.version,
            services=services,
            bom_ref=f"{app.key}@{view.version}",
        )
    )


def sbom_from_manifest_paths(
    session: Session, component: str, version: str, paths: Sequence[Path]
) -> tuple[UploadResult, ParsedSbom]:
    """Build the SBOM from lockfiles and manifests and attach it like an uploaded one; the
    digest of the normalised result makes an unchanged rebuild a no-op."""
    comp = catalog.get_component(session, component)
    parsed = sbom_from_manifests(list(paths), comp.name, version)
    canonical = orjson.dumps(asdict(parsed), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(canonical).hexdigest()
    source = "manifests: " + ", ".join(str(p) for p in paths)
    return store_sbom(session, comp.key, version, parsed, digest, source[:1000]), parsed


def export_component_sbom(session: Session, cv: ComponentVersion) -> dict[str, Any]:
    """One component version's current SBOM as CycloneDX 1.6 JSON."""
    service = service_sbom(session, cv)
    return application_bom(
        ApplicationSbom(name=service.name, version=cv.version, services=[service])
    )
