"""Triage at portfolio scale: rules that decide many findings at once, and SLAs.

A rule sets the analysis of matching findings that nobody has analysed yet (state ``open``)
and of future ones; it never overrides a person's decision. When it expires, the findings it
set go back to ``open`` by themselves (an event records it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from meshward.ecosystems.registry import UnknownEcosystem, get_ecosystem
from meshward.errors import MeshwardError, NotFoundError
from meshward.services import catalog, findings
from meshward.store.models import (
    Advisory,
    Application,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Finding,
    FindingEvent,
    Package,
    SlaPolicy,
    TriageRule,
)
from meshward.store.types import utcnow

DEFAULT_SLA_DAYS = {"critical": 15, "high": 30, "medium": 90, "low": 180}
SCOPES = ("estate", "domain", "application", "component")
_RANGE_PART = re.compile(r"^\s*(>=|<=|>|<|==|=)\s*(\S+)\s*$")
SETTLED = ("not_affected", "false_positive", "fixed")
"""States in which a finding needs no fix, so no SLA runs."""


def _parse_range(text: str) -> list[tuple[str, str]]:
    parts = []
    for piece in text.split(","):
        m = _RANGE_PART.match(piece)
        if not m:
            raise MeshwardError(f"version range {text!r}: use e.g. '>=2.0,<2.15'")
        parts.append((m.group(1).replace("==", "="), m.group(2)))
    return parts


def in_range(ecosystem: str | None, version: str | None, text: str | None) -> bool:
    """Is ``version`` inside ``text`` (``>=2.0,<2.15``) in its ecosystem's own order?"""
    if not text:
        return True
    if not version or not ecosystem:
        return False
    try:
        key = get_ecosystem(ecosystem).sort_key
        have = key(version)
        for op, bound in _parse_range(text):
            other = key(bound)
            ok = {
                ">=": have >= other,
                "<=": have <= other,
                ">": have > other,
                "<": have < other,
                "=": have == other,
            }[op]
            if not ok:
                return False
    except (UnknownEcosystem, ValueError):
        return False
    return True


def _scope_component_ids(session: Session, scope: str, scope_id: int | None) -> Any:
    """A subquery of the component ids a rule covers (None: every component)."""
    if scope == "estate":
        return None
    if scope == "component":
        return select(Component.id).where(Component.id == scope_id)
    if scope == "application":
        return select(Component.id).where(Component.application_id == scope_id)
    dom = session.get(Domain, scope_id)
    if dom is None:
        return select(Component.id).where(Component.id == -1)
    sub = select(Domain.id).where(or_(Domain.id == dom.id, Domain.path.like(dom.path + ".%")))
    return select(Component.id).where(Component.domain_id.in_(sub))


def create_rule(
    session: Session,
    *,
    scope: str,
    target: str | None,
    vulnerability: str,
    state: str,
    author: str,
    justification: str | None = None,
    detail: str | None = None,
    package: str | None = None,
    version_range: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[TriageRule, int]:
    """Make a rule and apply it; returns (rule, findings it set now)."""
    if scope not in SCOPES:
        raise MeshwardError(f"scope must be one of {', '.join(SCOPES)}")
    if state not in findings.STATES or state == "open":
        raise MeshwardError(
            "a rule sets in_triage, exploitable, not_affected, false_positive or fixed"
        )
    if state == "not_affected" and not justification:
        raise MeshwardError("a not_affected rule needs a justification")
    if justification and justification not in findings.JUSTIFICATIONS:
        raise MeshwardError(f"justification must be one of {', '.join(findings.JUSTIFICATIONS)}")
    if version_range:
        _parse_range(version_range)
    scope_id: int | None = None
    if scope != "estate":
        if not target:
            raise MeshwardError(f"a {scope} rule needs the {scope} it covers")
        if scope == "domain":
            scope_id = catalog.get_domain(session, target).id
        elif scope == "application":
            scope_id = catalog.get_application(session, target).id
        else:
            scope_id = catalog.get_component(session, target).id
    rule = TriageRule(
        scope=scope,
        scope_id=scope_id,
        vulnerability=findings.vulnerability_of(session, vulnerability),
        package=package,
        version_range=version_range,
        state=state,
        justification=justification,
        detail=detail,
        author=author,
        expires_at=expires_at,
    )
    session.add(rule)
    session.flush()
    applied = apply_rules(session)
    return rule, applied


def revoke_rule(session: Session, rule_id: int) -> None:
    """End a rule now: the findings it set go back to open."""
    rule = session.get(TriageRule, rule_id)
    if rule is None:
        raise NotFoundError(f"no triage rule {rule_id}")
    rule.expires_at = utcnow()
    apply_rules(session)


def apply_rules(session: Session, now: datetime | None = None) -> int:
    """Lapse expired rules, then let live ones set the open findings they cover. Runs after
    every re-match and before findings are read, so rules need no scheduler."""
    now = now or utcnow()
    expired = select(TriageRule.id).where(
        TriageRule.expires_at.is_not(None), TriageRule.expires_at <= now
    )
    lapsing = session.scalars(select(Finding.id).where(Finding.rule_id.in_(expired))).all()
    if lapsing:
        session.execute(
            update(Finding)
            .where(Finding.id.in_(lapsing))
            .values(
                state="open",
                justification=None,
                detail=None,
                rule_id=None,
                analysed_by=None,
                analysed_at=None,
            )
        )
        session.add_all(
            FindingEvent(finding_id=f, kind="rule_lapsed", at=now, state="open") for f in lapsing
        )
    applied = 0
    live = session.scalars(
        select(TriageRule).where(or_(TriageRule.expires_at.is_(None), TriageRule.expires_at > now))
    ).all()
    for rule in live:
        query = (
            select(Finding.id, Package.ecosystem, Package.name, Package.version)
            .join(Package, Package.id == Finding.package_id)
            .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
            .where(
                Finding.vulnerability == rule.vulnerability,
                Finding.state == "open",
                Finding.rule_id.is_(None),
            )
        )
        components = _scope_component_ids(session, rule.scope, rule.scope_id)
        if components is not None:
            query = query.where(ComponentVersion.component_id.in_(components))
        ids = [
            fid
            for fid, eco, name, version in session.execute(query)
            if (rule.package is None or _same_package(eco, name, rule.package))
            and in_range(eco, version, rule.version_range)
        ]
        if not ids:
            continue
        findings.set_analysis(
            session,
            ids,
            rule.state,
            justification=rule.justification,
            detail=rule.detail,
            actor=f"rule {rule.id} ({rule.author})",
        )
        session.execute(update(Finding).where(Finding.id.in_(ids)).values(rule_id=rule.id))
        applied += len(ids)
    return applied


def _same_package(ecosystem: str | None, name: str, wanted: str) -> bool:
    if name == wanted:
        return True
    try:
        return ecosystem is not None and name == get_ecosystem(ecosystem).normalize_name(wanted)
    except UnknownEcosystem:
        return False


def list_rules(
    session: Session,
    *,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """By id. ``domain_ids`` (None: every rule) keeps the rules scoped to those domains or to
    a component or application in them: what a domain-bound caller may see."""
    now = utcnow()
    query = select(TriageRule).order_by(TriageRule.id).offset(offset).limit(limit)
    if domain_ids is not None:
        ids = sorted(domain_ids)
        query = query.where(
            or_(
                and_(TriageRule.scope == "domain", TriageRule.scope_id.in_(ids)),
                and_(
                    TriageRule.scope == "component",
                    TriageRule.scope_id.in_(
                        select(Component.id).where(Component.domain_id.in_(ids))
                    ),
                ),
                and_(
                    TriageRule.scope == "application",
                    TriageRule.scope_id.in_(
                        select(Application.id).where(Application.domain_id.in_(ids))
                    ),
                ),
            )
        )
    rules = session.scalars(query).all()
    counts = dict(
        session.execute(
            select(Finding.rule_id, func.count())
            .where(Finding.rule_id.in_([r.id for r in rules]))
            .group_by(Finding.rule_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "scope": r.scope,
            "scope_id": r.scope_id,
            "vulnerability": r.vulnerability,
            "package": r.package,
            "version_range": r.version_range,
            "state": r.state,
            "justification": r.justification,
            "author": r.author,
            "expires_at": r.expires_at.isoformat().replace("+00:00", "Z") if r.expires_at else None,
            "live": r.expires_at is None or r.expires_at > now,
            "findings": counts.get(r.id, 0),
        }
        for r in rules
    ]


# ---------------------------------------------------------------- SLA


def set_sla(session: Session, severity: str, days: int, domain: str | None = None) -> None:
    if severity not in DEFAULT_SLA_DAYS:
        raise MeshwardError(f"severity must be one of {', '.join(DEFAULT_SLA_DAYS)}")
    if days <= 0:
        raise MeshwardError("days must be positive")
    domain_id = catalog.get_domain(session, domain).id if domain else None
    same_domain = (
        SlaPolicy.domain_id.is_(None) if domain_id is None else SlaPolicy.domain_id == domain_id
    )
    row = session.scalars(
        select(SlaPolicy).where(same_domain, SlaPolicy.severity == severity)
    ).first()
    if row is None:
        session.add(SlaPolicy(domain_id=domain_id, severity=severity, days=days))
    else:
        row.days = days
    session.flush()


@dataclass
class SlaFacts:
    """What SLA says of one finding."""

    first_appeared: datetime
    due: datetime | None
    overdue: bool
    published_after_deploy: bool


def _sla_table(session: Session) -> tuple[dict[int | None, dict[str, int]], dict[int, int | None]]:
    policies: dict[int | None, dict[str, int]] = defaultdict(dict)
    policies[None] = dict(DEFAULT_SLA_DAYS)
    for domain_id, severity, days in session.execute(
        select(SlaPolicy.domain_id, SlaPolicy.severity, SlaPolicy.days)
    ):
        policies[domain_id][severity] = days
    parents = dict(session.execute(select(Domain.id, Domain.parent_id)).all())
    return policies, parents


def sla_facts(session: Session, finding_ids: list[int]) -> dict[int, SlaFacts]:
    """Per finding: when the vulnerable package first appeared in that component (across
    versions), the due date by its severity and domain, whether it is overdue, and whether
    the advisory was published after the version was first deployed."""
    if not finding_ids:
        return {}
    policies, parents = _sla_table(session)
    now = utcnow()
    rows = session.execute(
        select(
            Finding.id,
            Finding.severity,
            Finding.state,
            Finding.active,
            Finding.vulnerability,
            Finding.component_version_id,
            ComponentVersion.component_id,
            Component.domain_id,
            Package.name,
        )
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == Finding.package_id)
        .where(Finding.id.in_(finding_ids))
    ).all()
    components = {r.component_id for r in rows}
    first_seen = {
        (comp, name, vuln): when
        for comp, name, vuln, when in session.execute(
            select(
                ComponentVersion.component_id,
                Package.name,
                Finding.vulnerability,
                func.min(Finding.first_seen),
            )
            .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
            .join(Package, Package.id == Finding.package_id)
            .where(ComponentVersion.component_id.in_(components))
            .group_by(ComponentVersion.component_id, Package.name, Finding.vulnerability)
        )
    }
    deployed = dict(
        session.execute(
            select(Deployment.component_version_id, func.min(Deployment.started_at))
            .where(Deployment.component_version_id.in_({r.component_version_id for r in rows}))
            .group_by(Deployment.component_version_id)
        ).all()
    )
    published = dict(
        session.execute(
            select(Advisory.vulnerability, func.min(Advisory.published))
            .where(Advisory.vulnerability.in_({r.vulnerability for r in rows}))
            .group_by(Advisory.vulnerability)
        ).all()
    )

    def days_for(domain_id: int | None, severity: str | None) -> int | None:
        if severity not in DEFAULT_SLA_DAYS:
            return None
        seen: set[int | None] = set()
        while domain_id is not None and domain_id not in seen:
            seen.add(domain_id)
            if severity in policies.get(domain_id, {}):
                return policies[domain_id][severity]
            domain_id = parents.get(domain_id)
        return policies[None].get(severity)

    out = {}
    for r in rows:
        appeared = first_seen[(r.component_id, r.name, r.vulnerability)]
        days = days_for(r.domain_id, r.severity)
        due = appeared + timedelta(days=days) if days else None
        first_deploy = deployed.get(r.component_version_id)
        pub = published.get(r.vulnerability)
        out[r.id] = SlaFacts(
            first_appeared=appeared,
            due=due,
            overdue=bool(due and r.active and r.state not in SETTLED and now > due),
            published_after_deploy=bool(first_deploy and pub and pub > first_deploy),
        )
    return out


def remediation_stats(session: Session) -> dict[str, Any]:
    """Mean time to remediate per severity: from the package's first appearance in a
    component to the moment no version of it carries the finding any more."""
    rows = session.execute(
        select(
            ComponentVersion.component_id,
            Package.name,
            Finding.vulnerability,
            Finding.severity,
            func.min(Finding.first_seen),
            func.max(Finding.resolved_at),
            func.sum(case((Finding.active.is_(True), 1), else_=0)),
        )
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Package, Package.id == Finding.package_id)
        .group_by(
            ComponentVersion.component_id, Package.name, Finding.vulnerability, Finding.severity
        )
    ).all()
    spans: dict[str, list[float]] = defaultdict(list)
    open_counts: dict[str, int] = defaultdict(int)
    for _c, _n, _v, severity, first, last, active in rows:
        label = severity or "unknown"
        if active:
            open_counts[label] += 1
        elif last is not None:
            spans[label].append((last - first).total_seconds() / 86400)
    return {
        sev: {
            "remediated": len(spans.get(sev, [])),
            "mean_days_to_remediate": round(sum(spans[sev]) / len(spans[sev]), 1)
            if spans.get(sev)
            else None,
            "open": open_counts.get(sev, 0),
        }
        for sev in sorted(set(spans) | set(open_counts))
    }
