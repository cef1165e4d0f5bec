"""VEX out (OpenVEX, CycloneDX) from people's analysis, and VEX in as analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError
from meshward.formats.vex.cyclonedx_vex import write_cyclonedx_vex
from meshward.formats.vex.interface import (
    VexDocument,
    VexStatement,
    state_to_openvex,
    statement_state,
)
from meshward.formats.vex.openvex import write_openvex
from meshward.formats.vex.registry import read_vex
from meshward.limits import DEFAULT_LIMITS, Limits
from meshward.services import catalog, findings
from meshward.services.findings import FindingFilter
from meshward.store.models import (
    Component,
    ComponentVersion,
    Finding,
    Occurrence,
    Package,
    SbomDocument,
)
from meshward.store.types import utcnow

FORMATS = ("openvex", "cyclonedx")


def product_id(session: Session, cv: ComponentVersion) -> str:
    """The purl that names a component version in VEX: its SBOM's described root when it has
    a purl, else a generic purl of the component."""
    root = session.scalar(
        select(Occurrence.purl)
        .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
        .where(
            SbomDocument.current.is_(True),
            Occurrence.component_version_id == cv.id,
            Occurrence.dependency == "root",
            Occurrence.purl.is_not(None),
        )
        .limit(1)
    )
    if root:
        return str(root)
    comp = cv.component
    namespace, _, name = comp.key.split(":", 1)[1].partition("/")
    return PackageURL(
        type="generic", namespace=namespace, name=name, version=cv.version
    ).to_string()


def _statements(session: Session, cv: ComponentVersion, author: str | None) -> list[VexStatement]:
    product = product_id(session, cv)
    rows = findings.list_findings(
        session, FindingFilter(component=cv.component.key, version=cv.version)
    )
    out = []
    for f in rows:
        status, justification = state_to_openvex(f.state, f.justification)
        out.append(
            VexStatement(
                vulnerability=f.vulnerability,
                aliases=[a for a in f.aliases if a != f.vulnerability],
                product=product,
                subcomponents=[f.purl],
                status=status,
                justification=justification,
                detail=f.detail,
                timestamp=f.analysed_at,
                author=f.analysed_by or author,
                cyclonedx_state="false_positive" if f.state == "false_positive" else None,
            )
        )
    return out


def export_vex(
    session: Session,
    component: str,
    version: str,
    fmt: str = "openvex",
    *,
    author: str | None = None,
) -> bytes:
    """One component version's findings and their analysis as a VEX document."""
    if fmt not in FORMATS:
        raise MeshwardError(f"format must be one of {', '.join(FORMATS)}")
    cv = catalog.get_component_version(session, component, version)
    now = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
    doc = VexDocument(
        format="OpenVEX" if fmt == "openvex" else "CycloneDX",
        spec_version="0.2.0" if fmt == "openvex" else "1.6",
        author=author or "meshward",
        timestamp=now,
        statements=_statements(session, cv, author),
    )
    if fmt == "openvex":
        return write_openvex(doc, doc_id=f"urn:meshward:vex:{cv.component.name}:{cv.version}:{now}")
    return write_cyclonedx_vex(
        doc,
        subject_name=cv.component.name,
        subject_version=cv.version,
        subject_ref=product_id(session, cv),
    )


@dataclass
class VexImportReport:
    statements: int = 0
    applied: int = 0
    unmatched: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"statements": self.statements, "applied": self.applied, "unmatched": self.unmatched}


def _without_qualifiers(purl: str) -> str:
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return purl
    return PackageURL(
        type=p.type, namespace=p.namespace, name=p.name, version=p.version
    ).to_string()


def import_vex(
    session: Session,
    data: bytes,
    source: str,
    *,
    component: str | None = None,
    version: str | None = None,
    actor: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VexImportReport:
    """Apply each statement to the findings it names: same vulnerability (any alias), same
    package (purl, qualifiers aside), in the given component version or in the version the
    statement's product names."""
    doc = read_vex(data, source, limits)
    scope: list[int] | None = None
    if component:
        if version:
            scope = [catalog.get_component_version(session, component, version).id]
        else:
            comp = catalog.get_component(session, component)
            scope = list(
                session.scalars(
                    select(ComponentVersion.id).where(ComponentVersion.component_id == comp.id)
                )
            )
    report = VexImportReport(statements=len(doc.statements))
    products: dict[int, set[str]] = {}  # component version -> the names a statement may use

    def names_product(cv_id: int, product: str) -> bool:
        if cv_id not in products:
            products[cv_id] = _product_names(session, cv_id)
        return _without_qualifiers(product) in products[cv_id] or product in products[cv_id]

    for st in doc.statements:
        names = [st.vulnerability, *st.aliases]
        vulns = {findings.vulnerability_of(session, n) for n in names}
        query = (
            select(Finding.id, Package.purl, Finding.component_version_id)
            .join(Package, Package.id == Finding.package_id)
            .where(Finding.vulnerability.in_(vulns))
        )
        if scope is not None:
            query = query.where(Finding.component_version_id.in_(scope))
        wanted = {_without_qualifiers(s) for s in st.subcomponents}
        ids = []
        for fid, purl, cv_id in session.execute(query):
            if wanted and _without_qualifiers(purl) not in wanted and purl not in st.subcomponents:
                continue
            if scope is None and not names_product(cv_id, st.product):
                continue
            ids.append(fid)
        if not ids:
            report.unmatched.append(f"{st.vulnerability} in {st.product}")
            continue
        findings.set_analysis(
            session,
            ids,
            statement_state(st),
            justification=st.justification if st.status == "not_affected" else None,
            detail=st.detail,
            actor=actor or st.author,
        )
        report.applied += len(ids)
    return report


def _product_names(session: Session, cv_id: int) -> set[str]:
    """Every way a VEX statement may name this component version as its product."""
    cv = session.get(ComponentVersion, cv_id)
    if cv is None:
        return set()
    comp: Component = cv.component
    return {
        _without_qualifiers(product_id(session, cv)),
        f"{comp.name}@{cv.version}",
        f"{comp.key}@{cv.version}",
    }
