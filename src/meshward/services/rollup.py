"""Roll-up of findings and risk to a logical application (one of its versions) and to a
domain (its whole subtree), and the daily snapshots that make trends.

Every roll-up is a fixed number of aggregate queries whatever the size of the estate: the
scope is a SQL selectable of (scope id, component version, component), findings are summed
per component version once (counts by severity, fixable, KEV, and the finding-level part of
the risk, see ``services.risk``), and only the service-level factors are applied in Python,
per component version. The roll-up of every application and every domain at once is the
same three queries with a wider scope.

What a domain counts: for each component in its subtree, the versions running now in any
environment, or its newest version when it runs nowhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError, NotFoundError
from meshward.services import catalog
from meshward.services.risk import (
    RiskContext,
    base_weight_sql,
    exploitation_sql,
    open_finding,
)
from meshward.store.models import (
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    EpssScore,
    Finding,
    KevEntry,
    RiskSnapshot,
)
from meshward.store.types import utcnow

SEVERITY_KEYS = ("critical", "high", "medium", "low", "none", "unknown")
SCOPES = ("application", "domain")


@dataclass
class ComponentRisk:
    component: str
    version: str
    findings: int
    by_severity: dict[str, int]
    fixable: int
    kev: int
    internet: str | None
    """``facing``, ``reachable`` (an internet-facing component calls it) or None."""
    production: bool
    consumers: int
    exposure: float
    reach: float
    risk_score: float


@dataclass
class RiskRollup:
    scope: str
    name: str
    version: str | None
    findings: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_KEYS, 0))
    vulnerabilities: int = 0
    services: int = 0
    fixable: int = 0
    kev: int = 0
    """Findings whose vulnerability is in the KEV catalog."""
    kev_vulnerabilities: int = 0
    risk_score: float = 0.0
    components: list[ComponentRisk] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _CvNumbers:
    findings: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_KEYS, 0))
    fixable: int = 0
    kev: int = 0
    weight: float = 0.0
    """Sum of base x exploitation over the version's counted findings."""


# ---------------------------------------------------------------- scopes

Scope = list[tuple[int, int, int]]
"""(scope id, component version id, component id) rows: which versions a scope counts."""


def _app_version_scope(session: Session, av_id: int) -> Scope:
    return [
        (av_id, cv, comp)
        for cv, comp in session.execute(
            select(
                ApplicationVersionMember.component_version_id,
                ApplicationVersionMember.component_id,
            ).where(ApplicationVersionMember.application_version_id == av_id)
        )
    ]


def _latest_app_versions() -> Select[*tuple[Any, ...]]:
    """(application id, application version id, label) of each application's latest version."""
    latest = (
        select(
            ApplicationVersion.application_id.label("app_id"),
            func.max(ApplicationVersion.seq).label("seq"),
        )
        .group_by(ApplicationVersion.application_id)
        .subquery()
    )
    return select(
        ApplicationVersion.application_id, ApplicationVersion.id, ApplicationVersion.version
    ).join(
        latest,
        and_(
            latest.c.app_id == ApplicationVersion.application_id,
            latest.c.seq == ApplicationVersion.seq,
        ),
    )


def _all_latest_apps_scope(session: Session) -> Scope:
    latest = _latest_app_versions().subquery()
    return [
        (app_id, cv, comp)
        for app_id, cv, comp in session.execute(
            select(
                latest.c.application_id,
                ApplicationVersionMember.component_version_id,
                ApplicationVersionMember.component_id,
            ).join(latest, latest.c.id == ApplicationVersionMember.application_version_id)
        )
    ]


def _current_versions(session: Session) -> list[tuple[int, int]]:
    """(component id, component version id): running now anywhere, else the newest version.

    Two single-table queries joined here rather than in SQL: a join of a windowed subquery
    with an anti-join is where a planner without fresh statistics goes badly wrong."""
    now = utcnow()
    running = session.execute(
        select(Deployment.component_id, Deployment.component_version_id)
        .where(
            Deployment.started_at <= now,
            or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
        )
        .distinct()
    ).all()
    ranked = select(
        ComponentVersion.component_id.label("component_id"),
        ComponentVersion.id.label("cv_id"),
        func.row_number()
        .over(
            partition_by=ComponentVersion.component_id,
            order_by=(ComponentVersion.created_at.desc(), ComponentVersion.id.desc()),
        )
        .label("rn"),
    ).subquery()
    newest = session.execute(
        select(ranked.c.component_id, ranked.c.cv_id).where(ranked.c.rn == 1)
    ).all()
    running_components = {comp for comp, _ in running}
    return [(c, v) for c, v in running] + [(c, v) for c, v in newest if c not in running_components]


def _domain_scope(session: Session, domain_id: int | None) -> Scope:
    """Each domain's subtree (one domain's when ``domain_id`` is given): a domain's ancestors
    are the domains whose path is a prefix of its path at a dot."""
    by_path = {path: did for did, path in session.execute(select(Domain.id, Domain.path))}
    ancestors: dict[int, list[int]] = {}
    for path, did in by_path.items():
        parts = path.split(".")
        chain = [by_path.get(".".join(parts[: i + 1])) for i in range(len(parts))]
        ancestors[did] = [a for a in chain if a is not None and (domain_id in (None, a))]
    domain_of: dict[int, int] = {
        comp: dom
        for comp, dom in session.execute(select(Component.id, Component.domain_id))
        if dom is not None
    }
    return [
        (anc, cv, comp)
        for comp, cv in _current_versions(session)
        if comp in domain_of
        for anc in ancestors.get(domain_of[comp], ())
    ]


# ---------------------------------------------------------------- the aggregates

IN_LIST_CHUNK = 1000
"""Component versions per query. Plain id lists rather than a scope subquery: the plan
stays an index range scan on both databases, with or without fresh statistics."""


def _findings_by_version(
    session: Session, cv_ids: set[int]
) -> tuple[dict[int, _CvNumbers], dict[int, dict[str, bool]]]:
    """Per component version: the counts and the finding-level risk of its counted findings,
    and its distinct vulnerabilities with their KEV flag. One aggregate query per
    ``IN_LIST_CHUNK`` versions, each an index range scan of ``findings``."""
    kev = KevEntry.__table__.alias("kev")
    epss = EpssScore.__table__.alias("epss")
    query = (
        select(
            Finding.component_version_id,
            Finding.vulnerability,
            Finding.severity,
            func.count(),
            func.count(Finding.fixed_version),
            func.max(kev.c.cve),
            func.sum(base_weight_sql() * exploitation_sql(kev.c, epss.c)),
        )
        .outerjoin(kev, kev.c.cve == Finding.vulnerability)
        .outerjoin(epss, epss.c.cve == Finding.vulnerability)
        .where(open_finding())
        .group_by(Finding.component_version_id, Finding.vulnerability, Finding.severity)
    )
    ordered = sorted(cv_ids)
    numbers: dict[int, _CvNumbers] = {}
    vulnerabilities: dict[int, dict[str, bool]] = defaultdict(dict)
    for i in range(0, len(ordered), IN_LIST_CHUNK):
        chunk = ordered[i : i + IN_LIST_CHUNK]
        rows = session.execute(query.where(Finding.component_version_id.in_(chunk)))
        for cv_id, vuln, sev, n, fixable, kev_cve, weight in rows:
            cv = numbers.setdefault(cv_id, _CvNumbers())
            cv.by_severity[sev if sev in SEVERITY_KEYS else "unknown"] += n
            cv.findings += n
            cv.fixable += fixable
            if kev_cve is not None:
                cv.kev += n
            cv.weight += float(weight or 0.0)
            vulnerabilities[cv_id][vuln] = kev_cve is not None
    return numbers, vulnerabilities


def _roll_up(
    session: Session, scope: Scope, ctx: RiskContext
) -> tuple[dict[int, RiskRollup], dict[int, _CvNumbers]]:
    """scope id -> numbers (name and version left blank), and the per-version numbers.

    SQL reduces the findings to one row per (version, severity) and per (version,
    vulnerability); a scope is then the sum of its versions, except for distinct
    vulnerabilities, which are the union of its versions' sets."""
    numbers, vulnerabilities = _findings_by_version(session, {cv for _, cv, _ in scope})
    out: dict[int, RiskRollup] = {}
    services: dict[int, set[int]] = defaultdict(set)
    vulns: dict[int, dict[str, bool]] = defaultdict(dict)
    risk: dict[int, float] = defaultdict(float)
    for scope_id, cv_id, comp_id in scope:
        roll = out.setdefault(scope_id, RiskRollup("", "", None))
        found = numbers.get(cv_id)
        if found is None or found.findings == 0:
            continue
        services[scope_id].add(comp_id)
        vulns[scope_id].update(vulnerabilities.get(cv_id, {}))
        roll.findings += found.findings
        for k, n in found.by_severity.items():
            roll.by_severity[k] += n
        roll.fixable += found.fixable
        roll.kev += found.kev
        risk[scope_id] += found.weight * ctx.service_factor(comp_id, cv_id)
    for scope_id, roll in out.items():
        roll.services = len(services[scope_id])
        roll.vulnerabilities = len(vulns[scope_id])
        roll.kev_vulnerabilities = sum(vulns[scope_id].values())
        roll.risk_score = round(risk[scope_id], 2)
    return out, numbers


def _component_breakdown(
    session: Session,
    mapping: list[tuple[int, int, int]],
    numbers: dict[int, _CvNumbers],
    ctx: RiskContext,
) -> list[ComponentRisk]:
    cv_ids = sorted({cv for _, cv, _ in mapping})
    names: dict[int, tuple[str, str]] = {}
    for start in range(0, len(cv_ids), 500):
        for cv_id, comp, ver in session.execute(
            select(ComponentVersion.id, Component.name, ComponentVersion.version)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(ComponentVersion.id.in_(cv_ids[start : start + 500]))
        ):
            names[cv_id] = (comp, ver)
    rows: list[ComponentRisk] = []
    for cv_id, comp_id in sorted({(cv, c) for _, cv, c in mapping}):
        cv = numbers.get(cv_id) or _CvNumbers()
        comp, ver = names[cv_id]
        rows.append(
            ComponentRisk(
                component=comp,
                version=ver,
                findings=cv.findings,
                by_severity=cv.by_severity,
                fixable=cv.fixable,
                kev=cv.kev,
                internet=ctx.graph.internet.get(comp_id),
                production=cv_id in ctx.production,
                consumers=ctx.graph.consumers.get(comp_id, 0),
                exposure=ctx.exposure(comp_id, cv_id),
                reach=round(ctx.graph.reach_factor(comp_id), 4),
                risk_score=round(cv.weight * ctx.service_factor(comp_id, cv_id), 2),
            )
        )
    rows.sort(key=lambda r: (-r.risk_score, r.component, r.version))
    return rows


# ---------------------------------------------------------------- public


def application_risk(session: Session, app: str, version: str | None = None) -> RiskRollup:
    """The roll-up of one application version (the latest by default), with a line per
    component version."""
    application = catalog.get_application(session, app)
    query = select(ApplicationVersion).where(ApplicationVersion.application_id == application.id)
    if version is None:
        av = session.scalars(query.order_by(ApplicationVersion.seq.desc()).limit(1)).first()
        if av is None:
            raise NotFoundError(f"{application.name} has no versions yet")
    else:
        av = session.scalars(query.where(ApplicationVersion.version == version)).first()
        if av is None:
            raise NotFoundError(f"{application.name} has no version {version!r}")
    ctx = RiskContext.load(session)
    mapping = _app_version_scope(session, av.id)
    rolled, numbers = _roll_up(session, mapping, ctx)
    roll = rolled.get(av.id, RiskRollup("", "", None))
    roll.scope, roll.name, roll.version = "application", application.name, av.version
    roll.components = _component_breakdown(session, mapping, numbers, ctx)
    return roll


def domain_risk(session: Session, domain: str) -> RiskRollup:
    """The roll-up of a domain and everything under it, with a line per component version."""
    dom = catalog.get_domain(session, domain)
    ctx = RiskContext.load(session)
    mapping = _domain_scope(session, dom.id)
    rolled, numbers = _roll_up(session, mapping, ctx)
    roll = rolled.get(dom.id, RiskRollup("", "", None))
    roll.scope, roll.name, roll.version = "domain", dom.path, None
    roll.components = _component_breakdown(session, mapping, numbers, ctx)
    return roll


def all_application_risks(session: Session) -> list[RiskRollup]:
    """Every application's latest version at once (no per-component lines)."""
    ctx = RiskContext.load(session)
    rolled, _ = _roll_up(session, _all_latest_apps_scope(session), ctx)
    out: list[RiskRollup] = []
    latest = {app_id: label for app_id, _, label in session.execute(_latest_app_versions()).all()}
    for app_id, name in session.execute(select(Application.id, Application.name)).all():
        roll = rolled.get(app_id, RiskRollup("", "", None))
        roll.scope, roll.name, roll.version = "application", name, latest.get(app_id)
        out.append(roll)
    return sorted(out, key=lambda r: (-r.risk_score, r.name))


def all_domain_risks(session: Session) -> list[RiskRollup]:
    ctx = RiskContext.load(session)
    rolled, _ = _roll_up(session, _domain_scope(session, None), ctx)
    out: list[RiskRollup] = []
    for dom_id, path in session.execute(select(Domain.id, Domain.path)).all():
        roll = rolled.get(dom_id, RiskRollup("", "", None))
        roll.scope, roll.name = "domain", path
        out.append(roll)
    return sorted(out, key=lambda r: r.name)


@dataclass
class SnapshotReport:
    day: str
    applications: int
    domains: int
    created: int
    updated: int
    removed: int


def snapshot_rollups(session: Session, day: date | None = None) -> SnapshotReport:
    """One row per application (its latest version) and per domain for ``day`` (today, UTC,
    by default). Taking it again the same day replaces that day's rows with the numbers of
    now; other days are never touched."""
    day = day or utcnow().date()
    ctx = RiskContext.load(session)
    rows: dict[tuple[str, int], tuple[str, str | None, RiskRollup]] = {}
    apps, _ = _roll_up(session, _all_latest_apps_scope(session), ctx)
    latest = {app_id: label for app_id, _, label in session.execute(_latest_app_versions())}
    for app_id, name in session.execute(select(Application.id, Application.name)):
        rows[("application", app_id)] = (
            name,
            latest.get(app_id),
            apps.get(app_id, RiskRollup("", "", None)),
        )
    domains, _ = _roll_up(session, _domain_scope(session, None), ctx)
    for dom_id, path in session.execute(select(Domain.id, Domain.path)):
        rows[("domain", dom_id)] = (path, None, domains.get(dom_id, RiskRollup("", "", None)))
    existing = {
        (s.scope, s.scope_id): s
        for s in session.scalars(select(RiskSnapshot).where(RiskSnapshot.day == day))
    }
    created = updated = 0
    now = utcnow()
    for key, (name, version, roll) in rows.items():
        values = {
            "name": name,
            "version": version,
            "findings": roll.findings,
            "critical": roll.by_severity["critical"],
            "high": roll.by_severity["high"],
            "medium": roll.by_severity["medium"],
            "low": roll.by_severity["low"],
            "vulnerabilities": roll.vulnerabilities,
            "services": roll.services,
            "fixable": roll.fixable,
            "kev": roll.kev,
            "risk_score": roll.risk_score,
        }
        snap = existing.pop(key, None)
        if snap is None:
            session.add(
                RiskSnapshot(day=day, scope=key[0], scope_id=key[1], taken_at=now, **values)
            )
            created += 1
        elif any(getattr(snap, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(snap, k, v)
            snap.taken_at = now
            updated += 1
    removed = len(existing)
    if existing:
        session.execute(
            delete(RiskSnapshot).where(RiskSnapshot.id.in_([s.id for s in existing.values()]))
        )
    session.flush()
    return SnapshotReport(
        day=day.isoformat(),
        applications=sum(1 for s, _ in rows if s == "application"),
        domains=sum(1 for s, _ in rows if s == "domain"),
        created=created,
        updated=updated,
        removed=removed,
    )


@dataclass
class TrendPoint:
    day: str
    version: str | None
    findings: int
    critical: int
    high: int
    medium: int
    low: int
    vulnerabilities: int
    services: int
    fixable: int
    kev: int
    risk_score: float


def risk_trend(session: Session, scope: str, name: str, days: int = 30) -> list[TrendPoint]:
    """The snapshots of one application or domain over the last ``days`` days, oldest first."""
    if scope not in SCOPES:
        raise MeshwardError(f"scope must be one of {', '.join(SCOPES)}")
    if days < 1:
        raise MeshwardError("days must be at least 1")
    scope_id = (
        catalog.get_application(session, name).id
        if scope == "application"
        else catalog.get_domain(session, name).id
    )
    since = utcnow().date() - timedelta(days=days - 1)
    snaps = session.scalars(
        select(RiskSnapshot)
        .where(
            RiskSnapshot.scope == scope,
            RiskSnapshot.scope_id == scope_id,
            RiskSnapshot.day >= since,
        )
        .order_by(RiskSnapshot.day)
    ).all()
    return [
        TrendPoint(
            day=s.day.isoformat(),
            version=s.version,
            findings=s.findings,
            critical=s.critical,
            high=s.high,
            medium=s.medium,
            low=s.low,
            vulnerabilities=s.vulnerabilities,
            services=s.services,
            fixable=s.fixable,
            kev=s.kev,
            risk_score=s.risk_score,
        )
        for s in snaps
    ]
