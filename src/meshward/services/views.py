"""Read models for the web UI's pages: the queries no other service offers, each set-based
and bounded, so a page costs a fixed number of queries whatever the size of the estate.

Risk on the overview and the domain pages comes from the daily roll-up snapshots
(``rollup.snapshot_rollups``), not from a live roll-up: a live roll-up of every application
takes most of a second on a 5,000-service estate, a snapshot read a few milliseconds. Pages say
which day their numbers are from.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from meshward.errors import AuthenticationError
from meshward.services import auth
from meshward.store.auth_models import ApiToken
from meshward.store.models import (
    Application,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Environment,
    Finding,
    Package,
    Relation,
    RiskSnapshot,
)
from meshward.store.types import utcnow

OPEN_STATES = ("open", "in_triage", "exploitable")
"""Findings that still need someone: what colours a node and counts as open on a page."""
SEVERITY_ORDER = ("critical", "high", "medium", "low", "none")
NAMESPACE_ANNOTATIONS = ("backstage.io/kubernetes-namespace", "meshward.io/namespace")


# ---------------------------------------------------------------- web sessions


def session_credential(token: str) -> tuple[str, str]:
    """(prefix, sha256) of a token: what a web session keeps instead of the token itself, so
    a stolen cookie never yields an API token."""
    prefix = token[len(auth.TOKEN_PREFIX) :].split("_", 1)[0]
    return prefix, hashlib.sha256(token.encode()).hexdigest()


def principal_for_session(session: Session, prefix: str, digest: str) -> auth.Principal:
    """The caller a web session stands for, checked again on every request: a token revoked
    or expired since sign-in ends the session at its next click."""
    tok = session.scalars(select(ApiToken).where(ApiToken.token_prefix == prefix)).first()
    expected = tok.secret_hash if tok is not None else "0" * 64
    if tok is None or not hmac.compare_digest(expected, digest):
        raise AuthenticationError("session no longer valid")
    now = utcnow()
    if tok.revoked_at is not None:
        raise AuthenticationError("token revoked")
    if tok.expires_at is not None and tok.expires_at <= now:
        raise AuthenticationError("token expired")
    if tok.last_used_at is None or now - tok.last_used_at >= auth.LAST_USED_EVERY:
        tok.last_used_at = now
    grants = auth._grants(session, "token", tok.name)
    return auth.Principal(tok.name, "token", frozenset(tok.scopes), grants)


# ---------------------------------------------------------------- risk from snapshots


@dataclass
class RiskRow:
    name: str
    version: str | None
    findings: int
    critical: int
    high: int
    medium: int
    low: int
    services: int
    fixable: int
    kev: int
    risk_score: float


@dataclass
class TrendDay:
    day: str
    critical: int
    high: int
    medium: int
    low: int
    risk_score: float


@dataclass
class CriticalFinding:
    id: int
    vulnerability: str
    component: str
    version: str
    purl: str
    state: str
    first_seen: str
    fixed_version: str | None


@dataclass
class Overview:
    day: str | None
    """The snapshot day the risk numbers are from; None when no snapshot was ever taken."""
    totals: RiskRow
    applications: list[RiskRow]
    more_applications: bool
    domains: list[RiskRow]
    trend: list[TrendDay]
    critical: list[CriticalFinding]


def _risk_row(s: RiskSnapshot) -> RiskRow:
    return RiskRow(
        s.name,
        s.version,
        s.findings,
        s.critical,
        s.high,
        s.medium,
        s.low,
        s.services,
        s.fixable,
        s.kev,
        s.risk_score,
    )


def latest_snapshot_day(session: Session) -> date | None:
    return session.scalar(select(func.max(RiskSnapshot.day)))


def _visible_apps(domain_ids: set[int] | None) -> Any:
    query = select(Application.id)
    if domain_ids is not None:
        query = query.where(Application.domain_id.in_(sorted(domain_ids)))
    return query


def overview(
    session: Session,
    domain_ids: set[int] | None,
    *,
    offset: int = 0,
    limit: int = 20,
    trend_days: int = 30,
) -> Overview:
    """Risk by application and domain from the newest snapshot, the estate's trend (the sum
    of its applications', which never overlap, unlike nested domains), and the newest
    critical findings still open."""
    day = latest_snapshot_day(session)
    apps: list[RiskRow] = []
    domains: list[RiskRow] = []
    trend: list[TrendDay] = []
    totals = RiskRow("estate", None, 0, 0, 0, 0, 0, 0, 0, 0, 0.0)
    more = False
    if day is not None:
        visible = _visible_apps(domain_ids)
        app_rows = session.scalars(
            select(RiskSnapshot)
            .where(
                RiskSnapshot.day == day,
                RiskSnapshot.scope == "application",
                RiskSnapshot.scope_id.in_(visible),
            )
            .order_by(RiskSnapshot.risk_score.desc(), RiskSnapshot.name)
            .offset(offset)
            .limit(limit + 1)
        ).all()
        more = len(app_rows) > limit
        apps = [_risk_row(s) for s in app_rows[:limit]]
        dom_query = select(RiskSnapshot).where(
            RiskSnapshot.day == day, RiskSnapshot.scope == "domain"
        )
        if domain_ids is not None:
            dom_query = dom_query.where(RiskSnapshot.scope_id.in_(sorted(domain_ids)))
        domains = [
            _risk_row(s)
            for s in session.scalars(dom_query.order_by(RiskSnapshot.name).limit(200)).all()
        ]
        sums = (
            select(
                RiskSnapshot.day,
                func.sum(RiskSnapshot.findings),
                func.sum(RiskSnapshot.critical),
                func.sum(RiskSnapshot.high),
                func.sum(RiskSnapshot.medium),
                func.sum(RiskSnapshot.low),
                func.sum(RiskSnapshot.services),
                func.sum(RiskSnapshot.fixable),
                func.sum(RiskSnapshot.kev),
                func.sum(RiskSnapshot.risk_score),
            )
            .where(
                RiskSnapshot.scope == "application",
                RiskSnapshot.scope_id.in_(visible),
                RiskSnapshot.day >= day - timedelta(days=trend_days - 1),
            )
            .group_by(RiskSnapshot.day)
            .order_by(RiskSnapshot.day)
        )
        for d, n, c, h, m, lo, svc, fix, kev, risk in session.execute(sums).all():
            point = TrendDay(
                d.isoformat(),
                int(c or 0),
                int(h or 0),
                int(m or 0),
                int(lo or 0),
                round(float(risk or 0.0), 2),
            )
            trend.append(point)
            if d == day:
                totals = RiskRow(
                    "estate",
                    None,
                    int(n or 0),
                    point.critical,
                    point.high,
                    point.medium,
                    point.low,
                    int(svc or 0),
                    int(fix or 0),
                    int(kev or 0),
                    point.risk_score,
                )
    return Overview(
        day=day.isoformat() if day else None,
        totals=totals,
        applications=apps,
        more_applications=more,
        domains=domains,
        trend=trend,
        critical=newest_critical(session, domain_ids),
    )


def newest_critical(
    session: Session, domain_ids: set[int] | None, limit: int = 10
) -> list[CriticalFinding]:
    query = (
        select(
            Finding.id,
            Finding.vulnerability,
            Component.name,
            ComponentVersion.version,
            Package.purl,
            Finding.state,
            Finding.first_seen,
            Finding.fixed_version,
        )
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == Finding.package_id)
        .where(
            Finding.active.is_(True),
            Finding.severity == "critical",
            Finding.state.in_(OPEN_STATES),
        )
        .order_by(Finding.id.desc())  # ids grow with first_seen: a backwards index walk
        .limit(limit)
    )
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    return [
        CriticalFinding(i, v, c, ver, purl, st, seen.date().isoformat(), fix)
        for i, v, c, ver, purl, st, seen, fix in session.execute(query).all()
    ]


# ---------------------------------------------------------------- the domain tree


@dataclass
class DomainNode:
    name: str
    path: str
    title: str | None
    owner: str | None
    applications: int
    components: int
    risk: RiskRow | None
    children: list[DomainNode] = field(default_factory=list)


def domain_tree(session: Session, domain_ids: set[int] | None) -> list[DomainNode]:
    """The visible domains, nested, with how many applications and components hang directly
    off each and the newest snapshot's risk of its subtree. A domain whose parent the caller
    may not see becomes a root."""
    query = select(Domain).order_by(Domain.path)
    if domain_ids is not None:
        query = query.where(Domain.id.in_(sorted(domain_ids)))
    domains = session.scalars(query).all()
    app_counts = dict(
        session.execute(
            select(Application.domain_id, func.count()).group_by(Application.domain_id)
        ).all()
    )
    comp_counts = dict(
        session.execute(
            select(Component.domain_id, func.count()).group_by(Component.domain_id)
        ).all()
    )
    day = latest_snapshot_day(session)
    risks: dict[int, RiskRow] = {}
    if day is not None:
        risks = {
            s.scope_id: _risk_row(s)
            for s in session.scalars(
                select(RiskSnapshot).where(RiskSnapshot.day == day, RiskSnapshot.scope == "domain")
            )
        }
    nodes = {
        d.id: DomainNode(
            d.name,
            d.path,
            d.title,
            d.owner,
            int(app_counts.get(d.id, 0)),
            int(comp_counts.get(d.id, 0)),
            risks.get(d.id),
        )
        for d in domains
    }
    roots: list[DomainNode] = []
    for d in domains:
        parent = nodes.get(d.parent_id) if d.parent_id else None
        (parent.children if parent else roots).append(nodes[d.id])
    return roots


def domain_risk_row(session: Session, domain_id: int) -> RiskRow | None:
    day = latest_snapshot_day(session)
    if day is None:
        return None
    snap = session.scalars(
        select(RiskSnapshot).where(
            RiskSnapshot.day == day,
            RiskSnapshot.scope == "domain",
            RiskSnapshot.scope_id == domain_id,
        )
    ).first()
    return _risk_row(snap) if snap else None


@dataclass
class DomainApplication:
    name: str
    title: str | None
    owner: str | None
    domain: str | None
    risk: RiskRow | None


def domain_applications(
    session: Session, domain: Domain, domain_ids: set[int] | None, offset: int, limit: int
) -> list[DomainApplication]:
    """The applications of a domain's subtree the caller may see, worst first by the newest
    snapshot; ``limit`` + 1 rows when there are more."""
    day = latest_snapshot_day(session)
    snap = aliased(
        RiskSnapshot,
        select(RiskSnapshot)
        .where(RiskSnapshot.day == day, RiskSnapshot.scope == "application")
        .subquery(),
    )
    query = (
        select(Application, Domain.path, snap)
        .join(Domain, Domain.id == Application.domain_id)
        .outerjoin(snap, snap.scope_id == Application.id)
        .where(or_(Domain.id == domain.id, Domain.path.like(domain.path + ".%")))
        .order_by(snap.risk_score.desc().nulls_last(), Application.name)
        .offset(offset)
        .limit(limit + 1)
    )
    if domain_ids is not None:
        query = query.where(Application.domain_id.in_(sorted(domain_ids)))
    out: list[DomainApplication] = []
    for app, path, snapshot in session.execute(query).all():
        risk = _risk_row(snapshot) if snapshot is not None else None
        out.append(DomainApplication(app.name, app.title, app.owner, path, risk))
    return out


# ---------------------------------------------------------------- the service graph


@dataclass
class NodeFacts:
    """What is known of where a component runs: the inputs of the trust-boundary rule."""

    domain: str | None
    namespace: str | None
    environments: frozenset[str]


@dataclass
class EdgeMarks:
    crosses_boundary: bool
    reason: str | None
    """Why the edge crosses a trust boundary, in words a reviewer can check."""
    threats: list[str] = field(default_factory=list)
    """Link threats on this edge (from the threat model, when there is one)."""


def trust_boundary(consumer: NodeFacts, provider: NodeFacts) -> str | None:
    """Why a call from ``consumer`` to ``provider`` crosses a trust boundary, or None.

    The strongest evidence first: Kubernetes namespaces when both ends name one; then where
    they run (a call between environments that share none, such as staging into prod);
    only when neither is known, the domain (different owners, different rules)."""
    if consumer.namespace and provider.namespace:
        if consumer.namespace != provider.namespace:
            return f"namespace {consumer.namespace} calls namespace {provider.namespace}"
        return None
    if consumer.environments and provider.environments:
        if consumer.environments.isdisjoint(provider.environments):
            return (
                f"runs in {', '.join(sorted(consumer.environments))}, calls a service in "
                f"{', '.join(sorted(provider.environments))}"
            )
        return None
    if consumer.domain != provider.domain:
        return f"domain {consumer.domain or '(none)'} calls domain {provider.domain or '(none)'}"
    return None


def edge_marks(
    consumer: NodeFacts, provider: NodeFacts, link_threats: Sequence[str] = ()
) -> EdgeMarks:
    """The marks an edge of a service graph carries; ``link_threats`` are the threat model's
    threats on this link (none until threat models exist)."""
    reason = trust_boundary(consumer, provider)
    return EdgeMarks(reason is not None, reason, sorted(link_threats))


@dataclass
class GraphNode:
    key: str
    name: str
    version: str | None
    member: bool
    """Part of the application version; False for a direct neighbour outside it."""
    domain: str | None
    owner: str | None
    environments: list[str]
    by_severity: dict[str, int]
    worst: str | None
    """Worst severity among its open findings; None when it has none (or is not a member)."""


@dataclass
class GraphEdge:
    consumer: str
    provider: str
    apis: list[str]
    marks: EdgeMarks


@dataclass
class ServiceGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def _namespace(annotations: dict[str, Any] | None) -> str | None:
    for name in NAMESPACE_ANNOTATIONS:
        value = (annotations or {}).get(name)
        if isinstance(value, str) and value:
            return value
    return None


def open_counts(session: Session, cv_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Component version -> open findings by severity."""
    ids = sorted(set(cv_ids))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for start in range(0, len(ids), 500):
        for cv, sev, n in session.execute(
            select(Finding.component_version_id, Finding.severity, func.count())
            .where(
                Finding.component_version_id.in_(ids[start : start + 500]),
                Finding.active.is_(True),
                Finding.state.in_(OPEN_STATES),
            )
            .group_by(Finding.component_version_id, Finding.severity)
        ):
            out[cv][sev or "none"] = int(n)
    return out


def worst_severity(counts: dict[str, int]) -> str | None:
    return next((s for s in SEVERITY_ORDER if counts.get(s)), None)


def running_environments(session: Session, component_ids: Iterable[int]) -> dict[int, set[str]]:
    """Component -> the environments it runs in now (any version)."""
    ids = sorted(set(component_ids))
    now = utcnow()
    out: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        for comp, env in session.execute(
            select(Deployment.component_id, Environment.name)
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(
                Deployment.component_id.in_(ids[start : start + 500]),
                Deployment.started_at <= now,
                or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
            )
        ):
            out[comp].add(env)
    return out


def application_graph(
    session: Session, app_version_id: int, domain_ids: set[int] | None
) -> ServiceGraph:
    """An application version's services and their API links, plus the services one link
    away outside it (that it calls or that call it) which the caller may see."""
    members = session.execute(
        select(
            Component.id,
            Component.key,
            Component.name,
            Component.owner,
            Component.annotations,
            Domain.path,
            ComponentVersion.id,
            ComponentVersion.version,
        )
        .join(ApplicationVersionMember, ApplicationVersionMember.component_id == Component.id)
        .join(
            ComponentVersion, ComponentVersion.id == ApplicationVersionMember.component_version_id
        )
        .outerjoin(Domain, Domain.id == Component.domain_id)
        .where(ApplicationVersionMember.application_version_id == app_version_id)
    ).all()
    member_keys = [m[1] for m in members]
    consumes = Relation.__table__.alias("consumes")
    provides = Relation.__table__.alias("provides")
    links = session.execute(
        select(consumes.c.source_key, consumes.c.target_key, provides.c.source_key)
        .join(
            provides,
            and_(provides.c.target_key == consumes.c.target_key, provides.c.type == "providesApi"),
        )
        .where(
            consumes.c.type == "consumesApi",
            or_(consumes.c.source_key.in_(member_keys), provides.c.source_key.in_(member_keys)),
        )
    ).all()
    outside = sorted({k for c, _, p in links for k in (c, p)} - set(member_keys))
    neighbours: list[Any] = []
    if outside:
        query = (
            select(
                Component.id,
                Component.key,
                Component.name,
                Component.owner,
                Component.annotations,
                Domain.path,
            )
            .outerjoin(Domain, Domain.id == Component.domain_id)
            .where(Component.key.in_(outside))
        )
        if domain_ids is not None:
            query = query.where(Component.domain_id.in_(sorted(domain_ids)))
        neighbours = list(session.execute(query).all())
    envs = running_environments(session, [m[0] for m in members] + [n[0] for n in neighbours])
    counts = open_counts(session, [m[6] for m in members])
    nodes: dict[str, GraphNode] = {}
    facts: dict[str, NodeFacts] = {}
    for comp_id, key, name, owner, notes, path, *rest in [*members, *neighbours]:
        cv_id, version = (rest[0], rest[1]) if rest else (None, None)
        by_sev = counts.get(cv_id, {}) if cv_id is not None else {}
        nodes[key] = GraphNode(
            key,
            name,
            version,
            cv_id is not None,
            path,
            owner,
            sorted(envs.get(comp_id, ())),
            by_sev,
            worst_severity(by_sev),
        )
        facts[key] = NodeFacts(path, _namespace(notes), frozenset(envs.get(comp_id, ())))
    apis: dict[tuple[str, str], list[str]] = defaultdict(list)
    for consumer, api, provider in links:
        if consumer in nodes and provider in nodes and consumer != provider:
            apis[(consumer, provider)].append(api.split("/", 1)[-1])
    edges = [
        GraphEdge(c, p, sorted(a), edge_marks(facts[c], facts[p]))
        for (c, p), a in sorted(apis.items())
    ]
    ordered = sorted(nodes.values(), key=lambda n: (not n.member, n.name))
    return ServiceGraph(ordered, edges)


# ---------------------------------------------------------------- components


@dataclass
class ComponentFacts:
    name: str
    owner: str | None
    lifecycle: str | None
    repository: str | None
    domain: str | None
    application: str | None


def component_facts(session: Session, comp: Component) -> ComponentFacts:
    """The header of a component's page: one query, none of the relation walk of
    ``catalog.show_entity``."""
    row = session.execute(
        select(Domain.path, Application.name)
        .select_from(Component)
        .outerjoin(Domain, Domain.id == Component.domain_id)
        .outerjoin(Application, Application.id == Component.application_id)
        .where(Component.id == comp.id)
    ).one()
    return ComponentFacts(comp.name, comp.owner, comp.lifecycle, comp.repository, row[0], row[1])
