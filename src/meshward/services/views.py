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

import orjson
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from meshward.errors import AuthenticationError
from meshward.kb.loader import KnowledgeBase
from meshward.kb.schema import STANDARD_TITLES, Control, Threat
from meshward.services import auth
from meshward.services.board import effective_status_sql
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
from meshward.store.threat_models import ControlTask, ModelThreat
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
    return auth.token_principal(session, tok)


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
    """Link threats on this edge (from the threat models of its ends)."""


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
    consumer: NodeFacts, provider: NodeFacts, link_threats: Iterable[str] = ()
) -> EdgeMarks:
    """The marks an edge of a service graph carries; ``link_threats`` are the threat model's
    threats on this link."""
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
    hidden: dict[str, int] = field(default_factory=dict)
    """Member key -> services outside the application linked to it but not drawn (past
    ``OUTSIDE_DRAWN``: a platform service called by a thousand others)."""


OUTSIDE_DRAWN = 40
"""Services outside an application drawn around it at most: the ones its members call first,
then their callers, by name. The rest are counted per member, not drawn."""


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
    away outside it (that it calls or that call it) which the caller may see. Edges carry the
    link threats of the members' threat models as stored (refresh them first to be current)."""
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
    inside = set(member_keys)
    called = {p for c, _, p in links if c in inside} - inside
    outside = sorted(called) + sorted({c for c, _, _ in links} - inside - called)
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
        rank = {key: n for n, key in enumerate(outside)}
        neighbours = sorted(session.execute(query).all(), key=lambda row: rank[row[1]])
    not_drawn = {row[1] for row in neighbours[OUTSIDE_DRAWN:]}
    hidden: dict[str, set[str]] = defaultdict(set)
    for consumer, _, provider in links:
        if consumer in not_drawn and provider in inside:
            hidden[provider].add(consumer)
        elif provider in not_drawn and consumer in inside:
            hidden[consumer].add(provider)
    neighbours = neighbours[:OUTSIDE_DRAWN]
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
    threats = link_threats(session, [m[6] for m in members])
    edges = [
        GraphEdge(c, p, sorted(a), edge_marks(facts[c], facts[p], threats.get((c, p), ())))
        for (c, p), a in sorted(apis.items())
    ]
    ordered = sorted(nodes.values(), key=lambda n: (not n.member, n.name))
    return ServiceGraph(ordered, edges, {k: len(v) for k, v in sorted(hidden.items())})


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


# ---------------------------------------------------------------- threat models


def link_threats(session: Session, cv_ids: Iterable[int]) -> dict[tuple[str, str], set[str]]:
    """(consumer key, provider key) -> the link threats on that API link, read from the active
    model threats of ``cv_ids``: each end's model names the link (role and peer), so a link
    with only one end among ``cv_ids`` is still marked."""
    ids = sorted(set(cv_ids))
    mine = aliased(Component)
    peer = aliased(Component)
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        for me, other, role, threat in session.execute(
            select(mine.key, peer.key, ModelThreat.role, ModelThreat.threat_key)
            .join(ComponentVersion, ComponentVersion.id == ModelThreat.component_version_id)
            .join(mine, mine.id == ComponentVersion.component_id)
            .join(peer, peer.id == ModelThreat.peer_component_id)
            .where(
                ModelThreat.component_version_id.in_(ids[start : start + 500]),
                ModelThreat.active.is_(True),
                ModelThreat.role.in_(("consumer", "provider")),
            )
        ):
            out[(me, other) if role == "consumer" else (other, me)].add(threat)
    return out


@dataclass
class ComplianceRow:
    standard: str
    title: str
    requirements: int
    """Requirements of the standard that some control of these services serves."""
    tasks: int
    done: int
    verified: int
    open: int
    """Tasks neither done nor not applicable (risk accepted counts as open)."""


def compliance_summary(
    session: Session,
    kb: KnowledgeBase,
    cv_ids: Sequence[int],
    verification: dict[tuple[int, str], str],
) -> list[ComplianceRow]:
    """Per standard, how many of the tasks its requirements need are done and verified, in
    one pass over the versions' active tasks. A task counts once for each requirement it
    serves, as in ``threat_risk.compliance_report`` (which lists them per requirement)."""
    tally: dict[str, ComplianceRow] = {
        std: ComplianceRow(std, title, 0, 0, 0, 0, 0) for std, title in STANDARD_TITLES.items()
    }
    refs: dict[str, set[str]] = defaultdict(set)
    ids = sorted(set(cv_ids))
    for start in range(0, len(ids), 500):
        for cv, key, status in session.execute(
            select(
                ControlTask.component_version_id, ControlTask.control_key, effective_status_sql()
            ).where(
                ControlTask.component_version_id.in_(ids[start : start + 500]),
                ControlTask.active.is_(True),
            )
        ):
            control = kb.controls.get(key)
            if control is None:
                continue
            for standard, requirements in control.compliance.items():
                row, n = tally[standard], len(requirements)
                refs[standard].update(requirements)
                row.tasks += n
                if status == "done":
                    row.done += n
                    row.verified += n if verification.get((cv, key)) == "verified" else 0
                elif status != "not_applicable":
                    row.open += n
    for std, row in tally.items():
        row.requirements = len(refs[std])
    return [row for row in tally.values() if row.tasks]


def member_versions(session: Session, app_version_id: int) -> dict[str, int]:
    """Component key -> the member version of an application version."""
    return dict(
        session.execute(
            select(Component.key, ApplicationVersionMember.component_version_id)
            .join(Component, Component.id == ApplicationVersionMember.component_id)
            .where(ApplicationVersionMember.application_version_id == app_version_id)
        ).all()
    )


def application_threat_risk(
    session: Session, cv_ids: list[int]
) -> tuple[dict[int, Any], list[ComplianceRow]]:
    """Threat risk per member (inherent, current, projected) and the compliance summary of an
    application version: verification runs once and both read it."""
    from meshward.services import threat_models, threat_risk
    from meshward.services.verification import verification_states

    states = verification_states(session, cv_ids)
    risks = threat_risk.service_risks(session, cv_ids, states)
    return risks, compliance_summary(session, threat_models.current_kb(session), cv_ids, states)


# ---------------------------------------------------------------- the knowledge base


@dataclass(frozen=True)
class KbFilter:
    stride: str | None = None
    standard: str | None = None
    text: str | None = None


def _matches(text: str | None, *fields: Any) -> bool:
    if not text:
        return True
    needle = text.lower()
    return any(needle in str(f).lower() for f in fields if f)


def _cwes(ids: Iterable[int]) -> list[str]:
    return [f"CWE-{n}" for n in ids]


def kb_entries(kb: KnowledgeBase, flt: KbFilter) -> tuple[list[Threat], list[Control]]:
    """Threats and controls matching a filter. A STRIDE category picks its threats and the
    controls that mitigate them; a standard picks the controls that cite it and the threats
    they mitigate; text matches ids, titles, descriptions, CWE and ASVS ids."""
    threats = [
        t
        for t in kb.threats.values()
        if (flt.stride is None or t.stride == flt.stride)
        and _matches(flt.text, t.id, t.title, t.description, *_cwes(t.cwe))
    ]
    controls = [
        c
        for c in kb.controls.values()
        if (flt.standard is None or c.compliance.get(flt.standard))  # type: ignore[call-overload]
        and _matches(
            flt.text,
            c.id,
            c.title,
            c.description,
            *c.asvs,
            *(f"CWE-{n}" for n in c.verification.cwe),
        )
    ]
    if flt.stride is not None:
        wanted = {t.id for t in threats}
        controls = [c for c in controls if wanted & set(c.mitigates)]
    if flt.standard is not None:
        served = {t for c in controls for t in c.mitigates}
        threats = [t for t in threats if t.id in served]
    return sorted(threats, key=lambda t: t.id), sorted(controls, key=lambda c: c.id)


def rule_text(rule: Any, depth: int = 0) -> list[str]:
    """A rule (conditions as data) as indented lines a reviewer can read."""
    pad = "  " * depth
    if isinstance(rule, dict) and len(rule) == 1:
        ((op, arg),) = rule.items()
        if op in ("all", "any") and isinstance(arg, list):
            lines = [f"{pad}{op} of:"]
            for part in arg:
                lines += rule_text(part, depth + 1)
            return lines
        if op == "not":
            return [f"{pad}not:", *rule_text(arg, depth + 1)]
    if isinstance(rule, dict) and "fact" in rule:
        tests = [f"{op} {_json(v)}" for op, v in rule.items() if op != "fact"]
        return [f"{pad}{rule['fact']} {' '.join(tests)}"]
    return [pad + _json(rule)]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
