"""What to fix first in an application version: per component, the package upgrades that
clear the most risk, and what no upgrade clears yet.

Findings group by package (ecosystem, normalised name), so several bundled copies of one
package make one upgrade. Its target is the highest ``fixed_version`` among the package's
fixable findings, in the ecosystem's own order: each finding's fixed version is the smallest
that clears it, so the highest of them clears them all. A finding with no fixed version
stays open. Findings that analysis has settled (not affected, false positive, fixed) need no
work and are left out; every weight comes from ``finding_weights``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.services import catalog
from meshward.services.diff import (
    CHUNK,
    FindingRow,
    PackageKey,
    active_findings,
    app_members,
    app_version_row,
    highest_version,
    round_risk,
    sort_versions,
)
from meshward.services.risk import finding_weights
from meshward.store.models import Advisory, AffectedPackage

SETTLED = ("not_affected", "false_positive", "fixed")


@dataclass
class PackageUpgrade:
    ecosystem: str | None
    package: str
    installed: list[str]
    """The vulnerable versions the component carries, ascending."""
    target: str
    """The smallest version that clears every fixable finding of the package."""
    risk_cleared: float
    vulnerabilities: list[str]
    advisories: list[str]
    """The advisory records (OSV ids) the upgrade clears for this package."""
    findings: list[int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OpenFinding:
    """A finding no upgrade clears yet: its advisories name no fixed version."""

    finding: int
    vulnerability: str
    advisories: list[str]
    ecosystem: str | None
    package: str
    installed: str | None
    severity: str | None
    score: float | None
    risk: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ComponentFixPlan:
    component: str
    version: str
    risk: float
    """Of the findings that need work; always ``risk_cleared + risk_open``."""
    risk_cleared: float
    risk_open: float
    upgrades: list[PackageUpgrade] = field(default_factory=list)
    open: list[OpenFinding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FixPlan:
    application: str
    version: str
    risk: float
    risk_cleared: float
    risk_open: float
    components: list[ComponentFixPlan] = field(default_factory=list)
    """Every component of the version, the most risk cleared first."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _advisories(
    session: Session, vulnerabilities: set[str]
) -> dict[str, list[tuple[str, PackageKey]]]:
    """vulnerability -> (OSV id, affected package) of each record that is not withdrawn."""
    out: dict[str, list[tuple[str, PackageKey]]] = defaultdict(list)
    ordered = sorted(vulnerabilities)
    for start in range(0, len(ordered), CHUNK):
        for vuln, osv_id, ecosystem, name in session.execute(
            select(
                Advisory.vulnerability,
                Advisory.osv_id,
                AffectedPackage.ecosystem,
                AffectedPackage.name,
            )
            .join(AffectedPackage, AffectedPackage.advisory_id == Advisory.id)
            .where(
                Advisory.vulnerability.in_(ordered[start : start + CHUNK]),
                Advisory.withdrawn.is_(None),
            )
        ):
            out[vuln].append((osv_id, (ecosystem, name)))
    return out


def _records_for(
    records: dict[str, list[tuple[str, PackageKey]]], vulns: set[str], key: PackageKey
) -> list[str]:
    """The records of these vulnerabilities that name this package; all of their records
    when none does (a package no ecosystem module covers)."""
    ids: set[str] = set()
    for vuln in vulns:
        named = {osv for osv, affected in records.get(vuln, []) if affected == key}
        ids |= named or {osv for osv, _ in records.get(vuln, [])}
    return sorted(ids)


def _spelled_like(ecosystem: str | None, installed: list[str], target: str) -> str:
    """Go's advisories drop the ``v`` that go.mod and purls write (``1.4.1`` for ``v1.4.1``):
    give the target back the spelling the component uses, so it can be pasted."""
    if (
        ecosystem == "Go"
        and installed
        and all(v.startswith("v") for v in installed)
        and target[:1].isdigit()
    ):
        return "v" + target
    return target


def _plan_component(
    name: str,
    version: str,
    rows: list[FindingRow],
    weights: dict[int, float],
    records: dict[str, list[tuple[str, PackageKey]]],
) -> ComponentFixPlan:
    by_package: dict[PackageKey, list[FindingRow]] = defaultdict(list)
    for r in rows:
        by_package[r.key].append(r)
    upgrades: list[PackageUpgrade] = []
    still_open: list[OpenFinding] = []
    for key, items in by_package.items():
        ecosystem = items[0].ecosystem
        fixable = [r for r in items if r.fixed_version]
        for r in items:
            if r.fixed_version:
                continue
            still_open.append(
                OpenFinding(
                    finding=r.id,
                    vulnerability=r.vulnerability,
                    advisories=_records_for(records, {r.vulnerability}, key),
                    ecosystem=ecosystem,
                    package=key[1],
                    installed=r.version,
                    severity=r.severity,
                    score=r.score,
                    risk=round_risk(weights.get(r.id, 0.0)),
                )
            )
        if not fixable:
            continue
        vulns = {r.vulnerability for r in fixable}
        installed = sort_versions(ecosystem, {r.version for r in fixable if r.version})
        target = highest_version(ecosystem, {r.fixed_version for r in fixable if r.fixed_version})
        upgrades.append(
            PackageUpgrade(
                ecosystem=ecosystem,
                package=key[1],
                installed=installed,
                target=_spelled_like(ecosystem, installed, target),
                risk_cleared=round_risk(sum(weights.get(r.id, 0.0) for r in fixable)),
                vulnerabilities=sorted(vulns),
                advisories=_records_for(records, vulns, key),
                findings=sorted(r.id for r in fixable),
            )
        )
    upgrades.sort(key=lambda u: (-u.risk_cleared, -len(u.vulnerabilities), u.package))
    still_open.sort(key=lambda o: (-o.risk, -(o.score or 0.0), o.package, o.vulnerability))
    cleared = round_risk(sum(u.risk_cleared for u in upgrades))
    remaining = round_risk(sum(o.risk for o in still_open))
    return ComponentFixPlan(
        component=name,
        version=version,
        risk=round_risk(cleared + remaining),
        risk_cleared=cleared,
        risk_open=remaining,
        upgrades=upgrades,
        open=still_open,
    )


def fix_plan(session: Session, app: str, version: str | None = None) -> FixPlan:
    """The fix plan of an application version (the latest one when ``version`` is None)."""
    application = catalog.get_application(session, app)
    av = app_version_row(session, application, version)
    members = app_members(session, [av.id])[av.id]
    rows = [
        r
        for r in active_findings(session, [cv for _, cv, _ in members.values()])
        if r.state not in SETTLED
    ]
    weights = finding_weights(session, sorted({r.id for r in rows}))
    records = _advisories(session, {r.vulnerability for r in rows})
    findings_of: dict[int, list[FindingRow]] = defaultdict(list)
    for r in rows:
        findings_of[r.component_version_id].append(r)
    components = [
        _plan_component(name, cv_version, findings_of.get(cv_id, []), weights, records)
        for name, cv_id, cv_version in members.values()
    ]
    components.sort(key=lambda c: (-c.risk_cleared, -c.risk_open, c.component))
    cleared = round_risk(sum(c.risk_cleared for c in components))
    remaining = round_risk(sum(c.risk_open for c in components))
    return FixPlan(
        application=application.name,
        version=av.version,
        risk=round_risk(cleared + remaining),
        risk_cleared=cleared,
        risk_open=remaining,
        components=components,
    )
