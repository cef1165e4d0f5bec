"""Findings: listing with the filters a triager needs, analysis that survives re-matching and
can be carried to the next version, and the event feed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError, NotFoundError
from meshward.services import catalog
from meshward.store.models import (
    Advisory,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Finding,
    FindingEvent,
    Package,
)
from meshward.store.types import utcnow

STATES = ("open", "in_triage", "exploitable", "not_affected", "false_positive", "fixed")
JUSTIFICATIONS = (
    # CycloneDX 1.6 analysis.justification
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
    # OpenVEX justifications
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
SEVERITIES = ("critical", "high", "medium", "low", "none")


@dataclass
class FindingView:
    id: int
    vulnerability: str
    aliases: list[str]
    advisories: list[str]
    purl: str
    package: str
    installed: str | None
    component: str
    version: str
    severity: str | None
    score: float | None
    fixed_version: str | None
    state: str
    justification: str | None
    detail: str | None
    active: bool
    first_seen: str
    analysed_by: str | None
    analysed_at: str | None
    first_appeared: str | None = None
    """When the vulnerable package first appeared in this component, across versions."""
    due: str | None = None
    overdue: bool = False
    published_after_deploy: bool = False
    """The advisory came out after this version was first deployed: it was not knowable
    when it shipped."""
    dependency: str | None = None
    """How the package comes into the version's current SBOM: ``root``, ``direct``,
    ``transitive`` or ``unknown`` (None: not placed yet: a finding stored before migration 0011)."""
    path: list[str] | None = None
    """Its shortest dependency path there, root first (what a blast radius shows)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FindingFilter:
    domain: str | None = None
    application: str | None = None
    app_version: str | None = None
    component: str | None = None
    version: str | None = None
    environment: str | None = None
    severity: list[str] | None = None
    state: list[str] | None = None
    vulnerability: str | None = None
    include_resolved: bool = False
    domain_ids: set[int] | None = None
    """Only components in these domains (what an API caller may see); None for all."""


def _filtered(session: Session, f: FindingFilter) -> Any:
    query: Any = (
        select(
            Finding,
            Package.purl,
            Package.name,
            Package.version,
            Component.name,
            ComponentVersion.version,
        )
        .join(Package, Package.id == Finding.package_id)
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
    )
    if not f.include_resolved:
        query = query.where(Finding.active.is_(True))
    if f.domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(f.domain_ids)))
    if f.domain:
        dom = catalog.get_domain(session, f.domain)
        sub = select(Domain.id).where(or_(Domain.id == dom.id, Domain.path.like(dom.path + ".%")))
        query = query.where(Component.domain_id.in_(sub))
    if f.application:
        app = catalog.get_application(session, f.application)
        if f.app_version:
            av_id = session.scalar(
                select(ApplicationVersion.id).where(
                    ApplicationVersion.application_id == app.id,
                    ApplicationVersion.version == f.app_version,
                )
            )
            if av_id is None:
                raise NotFoundError(f"{app.name} has no version {f.app_version!r}")
            query = query.where(
                Finding.component_version_id.in_(
                    select(ApplicationVersionMember.component_version_id).where(
                        ApplicationVersionMember.application_version_id == av_id
                    )
                )
            )
        else:
            query = query.where(Component.application_id == app.id)
    if f.component:
        query = query.where(Component.id == catalog.get_component(session, f.component).id)
    if f.version:
        query = query.where(ComponentVersion.version == f.version)
    if f.environment:
        env = catalog.get_environment(session, f.environment)
        now = utcnow()
        query = query.where(
            Finding.component_version_id.in_(
                select(Deployment.component_version_id).where(
                    Deployment.environment_id == env.id,
                    Deployment.started_at <= now,
                    or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
                )
            )
        )
    if f.severity:
        query = query.where(Finding.severity.in_([s.lower() for s in f.severity]))
    if f.state:
        query = query.where(Finding.state.in_(f.state))
    if f.vulnerability:
        query = query.where(Finding.vulnerability == vulnerability_of(session, f.vulnerability))
    return query


def vulnerability_of(session: Session, name: str) -> str:
    """The vulnerability key for any id or alias (CVE, GHSA, PYSEC, GO-...)."""
    from meshward.services.advisories import find_advisory

    try:
        return find_advisory(session, name).vulnerability
    except NotFoundError:
        return name.strip()


def list_findings(
    session: Session, f: FindingFilter, limit: int | None = None, offset: int = 0
) -> list[FindingView]:
    query = _filtered(session, f).order_by(
        Finding.severity_score.desc().nulls_last(),
        Component.name,
        Finding.vulnerability,
        Finding.id,
    )
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    names = _vulnerability_names(session, {r[0].vulnerability for r in rows})
    views = [
        FindingView(
            id=fd.id,
            vulnerability=fd.vulnerability,
            aliases=names.get(fd.vulnerability, ([], []))[0],
            advisories=names.get(fd.vulnerability, ([], []))[1],
            purl=purl,
            package=pname,
            installed=pver,
            component=cname,
            version=cver,
            severity=fd.severity,
            score=fd.severity_score,
            fixed_version=fd.fixed_version,
            state=fd.state,
            justification=fd.justification,
            detail=fd.detail,
            active=fd.active,
            first_seen=_iso(fd.first_seen),
            analysed_by=fd.analysed_by,
            analysed_at=_iso(fd.analysed_at) if fd.analysed_at else None,
            dependency=fd.dependency,
            path=fd.path,
        )
        for fd, purl, pname, pver, cname, cver in rows
    ]
    from meshward.services.triage import sla_facts

    facts = sla_facts(session, [v.id for v in views])
    for v in views:
        fact = facts[v.id]
        v.first_appeared = _iso(fact.first_appeared)
        v.due = _iso(fact.due) if fact.due else None
        v.overdue = fact.overdue
        v.published_after_deploy = fact.published_after_deploy
    return views


OVERDUE_BATCH = 500


def list_overdue_findings(
    session: Session, f: FindingFilter, limit: int | None = None, offset: int = 0
) -> tuple[list[FindingView], int]:
    """Findings past their SLA, worst first, from position ``offset`` of the unfiltered list.
    The SLA is computed rather than stored, so batches are cut by the database and filtered
    here until ``limit`` are found; also returns the position after the last one kept (where
    the next page starts)."""
    found: list[FindingView] = []
    position = offset
    while limit is None or len(found) < limit:
        batch = list_findings(session, f, OVERDUE_BATCH, position)
        for i, view in enumerate(batch):
            if view.overdue:
                found.append(view)
                if limit is not None and len(found) == limit:
                    return found, position + i + 1
        position += len(batch)
        if len(batch) < OVERDUE_BATCH:
            break
    return found, position


def _vulnerability_names(
    session: Session, vulns: set[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """vulnerability -> (every alias of every record, the record ids)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    ordered = sorted(vulns)
    for start in range(0, len(ordered), 500):
        for vuln, osv_id, aliases in session.execute(
            select(Advisory.vulnerability, Advisory.osv_id, Advisory.aliases).where(
                Advisory.vulnerability.in_(ordered[start : start + 500])
            )
        ):
            names, ids = out.setdefault(vuln, (set(), set()))
            ids.add(osv_id)
            names.update([osv_id, *aliases])
    return {v: (sorted(n), sorted(i)) for v, (n, i) in out.items()}


def set_analysis(
    session: Session,
    finding_ids: list[int],
    state: str,
    *,
    justification: str | None = None,
    detail: str | None = None,
    actor: str | None = None,
) -> int:
    """Set the analysis of several findings at once; each change is an event."""
    if state not in STATES:
        raise MeshwardError(f"state must be one of {', '.join(STATES)}")
    if justification is not None and justification not in JUSTIFICATIONS:
        raise MeshwardError(f"justification must be one of {', '.join(JUSTIFICATIONS)}")
    if state == "not_affected" and not justification:
        raise MeshwardError("not_affected needs a --justification")
    findings = session.scalars(select(Finding).where(Finding.id.in_(finding_ids))).all()
    missing = set(finding_ids) - {f.id for f in findings}
    if missing:
        raise NotFoundError(f"no finding {', '.join(map(str, sorted(missing)))}")
    now = utcnow()
    for fd in findings:
        fd.state, fd.justification, fd.detail = state, justification, detail
        fd.analysed_by, fd.analysed_at = actor, now
        session.add(
            FindingEvent(
                finding_id=fd.id,
                kind="analysis",
                at=now,
                actor=actor,
                state=state,
                justification=justification,
                detail=detail,
            )
        )
    return len(findings)


def carry_analysis(session: Session, component: str, from_version: str, to_version: str) -> int:
    """Copy people's analysis to the same vulnerability in the same package of the next
    version, where that finding is still untouched (open). Returns how many were carried."""
    old = catalog.get_component_version(session, component, from_version)
    new = catalog.get_component_version(session, component, to_version)
    previous = {
        (name, fd.vulnerability): fd
        for fd, name in session.execute(
            select(Finding, Package.name)
            .join(Package, Package.id == Finding.package_id)
            .where(Finding.component_version_id == old.id, Finding.state != "open")
        )
    }
    groups: dict[tuple[str, str | None, str, str | None], list[int]] = {}
    for fd, name in session.execute(
        select(Finding, Package.name)
        .join(Package, Package.id == Finding.package_id)
        .where(Finding.component_version_id == new.id, Finding.state == "open")
    ):
        source = previous.get((name, fd.vulnerability))
        if source is not None:
            detail = (source.detail or "") + f" (carried from {from_version})"
            key = (source.state, source.justification, detail, source.analysed_by)
            groups.setdefault(key, []).append(fd.id)
    for (state, justification, detail, actor), ids in groups.items():  # one write per decision
        set_analysis(session, ids, state, justification=justification, detail=detail, actor=actor)
    return sum(len(ids) for ids in groups.values())


def finding_events(
    session: Session,
    since: datetime | None = None,
    limit: int | None = 200,
    *,
    offset: int = 0,
    domain_ids: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``domain_ids`` (None: all) keeps the components a caller may see."""
    query = (
        select(
            FindingEvent,
            Finding.vulnerability,
            Component.name,
            ComponentVersion.version,
            Package.purl,
        )
        .join(Finding, Finding.id == FindingEvent.finding_id)
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == Finding.package_id)
        .order_by(FindingEvent.at.desc(), FindingEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if since is not None:
        query = query.where(FindingEvent.at >= since)
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    return [
        {
            "at": _iso(ev.at),
            "kind": ev.kind,
            "finding": ev.finding_id,
            "vulnerability": vuln,
            "component": comp,
            "version": ver,
            "purl": purl,
            "state": ev.state,
            "actor": ev.actor,
        }
        for ev, vuln, comp, ver, purl in session.execute(query)
    ]


def count_by_severity(session: Session, f: FindingFilter) -> dict[str, int]:
    sub = _filtered(session, f).subquery()
    rows = session.execute(select(sub.c.severity, func.count()).group_by(sub.c.severity)).all()
    return {sev or "unknown": n for sev, n in rows}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
