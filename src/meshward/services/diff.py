"""What changed between two versions of an application, or of one component.

A package is the same package across versions when its (OSV ecosystem, or purl type when no
ecosystem applies; normalised name) is the same, so ``Flask_Cors`` 3.0 and ``flask-cors`` 4.0
are one package, upgraded. Upgraded or downgraded is decided in the package's own version
order (``2.31.0rc1`` precedes ``2.31.0``, Maven ``1.10.0-RC1`` precedes ``1.10.0``); only
versions no ecosystem module orders fall back to comparing strings.

A vulnerability is *present* in a component version while one of its findings is active,
whatever its analysis says: analysis changes the risk (through ``finding_weights``), not
what is in the software. Introduced and fixed compare these presence sets by vulnerability
key, per component and over the whole application (a vulnerability fixed in one service
but still present in another is not fixed for the application).

Every query is set-based: members, packages and findings of all the component versions
involved are read in a handful of queries, never one per component or per package. Members
that are the same component version on both sides are not compared package by package (they
change nothing), but their findings still count in the application's presence sets and risk.
The estate's service graph behind the risk weights (transitive consumers, internet exposure)
is kept per engine while its data revision stands (``risk.service_graph``), and parsed
version keys are memoised per process.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from meshward.ecosystems.registry import UnknownEcosystem, get_ecosystem
from meshward.errors import NotFoundError
from meshward.services import catalog
from meshward.services.risk import (
    RiskContext,
    finding_weights,
)
from meshward.store.models import (
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Finding,
    Occurrence,
    Package,
    SbomDocument,
)

CHUNK = 500
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "none": 0}

PackageKey = tuple[str, str]
"""(OSV ecosystem, or the purl type when no ecosystem applies; normalised name)."""


# ---------------------------------------------------------------- version order


def _string_key(version: str) -> Any:
    return version


PARSED_KEYS = 32768
"""(ecosystem, version) sort keys kept per process: the same few thousand versions recur in
every diff and fix plan, and parsing them (Maven, PEP 440, semver) is most of a diff's
Python time."""


@lru_cache(maxsize=PARSED_KEYS)
def _parsed(ecosystem: str, version: str) -> tuple[Any, ValueError | TypeError | None]:
    """The ecosystem's sort key of ``version``, or the error that says it cannot be ordered
    (kept too, so an unorderable version is not parsed again on every sort)."""
    try:
        return get_ecosystem(ecosystem).sort_key(version), None
    except (ValueError, TypeError) as error:
        return None, error.with_traceback(None)  # no frames kept alive by the memo


def _memo_key(ecosystem: str, version: str) -> Any:
    key, error = _parsed(ecosystem, version)
    if error is not None:
        raise error.with_traceback(None)
    return key


def version_key(ecosystem: str | None) -> Callable[[str], Any]:
    """The sort key of an ecosystem's versions; plain string order when none is known."""
    if not ecosystem:
        return _string_key
    try:
        get_ecosystem(ecosystem)
    except UnknownEcosystem:
        return _string_key
    return partial(_memo_key, ecosystem)


def sort_versions(ecosystem: str | None, versions: Iterable[str]) -> list[str]:
    """Ascending in the ecosystem's order; in string order when one of them cannot be
    ordered there (mixing the two orders would give no order at all)."""
    items = list(versions)
    try:
        return sorted(items, key=version_key(ecosystem))
    except (ValueError, TypeError):
        return sorted(items)


def highest_version(ecosystem: str | None, versions: Iterable[str]) -> str:
    return sort_versions(ecosystem, versions)[-1]


def compare_version_sets(ecosystem: str | None, before: Iterable[str], after: Iterable[str]) -> int:
    """1 when ``after`` is higher (an upgrade), -1 when lower, 0 when the same.

    Usually each side holds one version. When a component bundles several copies of a
    package, the highest copy decides; when that stays, the sides compare lowest copy first,
    so dropping an old copy (``1.1.4, 2.0.0`` to ``2.0.0``) is an upgrade and bundling an
    older one again is a downgrade."""
    b, a = list(before), list(after)
    key = version_key(ecosystem)
    try:
        kb, ka = sorted(key(v) for v in b), sorted(key(v) for v in a)
    except (ValueError, TypeError):
        kb, ka = sorted(b), sorted(a)
    if not kb or not ka:
        return int(bool(ka)) - int(bool(kb))
    if ka[-1] != kb[-1]:
        return 1 if ka[-1] > kb[-1] else -1
    return int(ka > kb) - int(ka < kb)


def round_risk(value: float) -> float:
    return round(value, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


# ---------------------------------------------------------------- views


@dataclass
class PackageChange:
    ecosystem: str | None
    """OSV ecosystem, or the purl type when no ecosystem applies (None without a purl)."""
    name: str
    from_version: str | None
    """The highest version before (None for an added package)."""
    to_version: str | None
    """The highest version after (None for a removed package)."""
    from_versions: list[str] = field(default_factory=list)
    """Every version before, ascending; more than one when several copies are bundled."""
    to_versions: list[str] = field(default_factory=list)
    purl: str | None = None
    """The purl after the change (before it, for a removed package)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VulnerabilityChange:
    vulnerability: str
    severity: str | None
    """The worst severity of its findings."""
    score: float | None
    risk: float
    """The summed weights of its findings where it is present (after, for an introduced
    vulnerability; before, for a fixed one)."""
    components: list[str]
    packages: list[str]
    """purls that carry it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ComponentDiff:
    component: str
    from_version: str | None
    to_version: str | None
    packages_added: list[PackageChange] = field(default_factory=list)
    packages_removed: list[PackageChange] = field(default_factory=list)
    packages_upgraded: list[PackageChange] = field(default_factory=list)
    packages_downgraded: list[PackageChange] = field(default_factory=list)
    packages_unchanged: int = 0
    vulnerabilities_introduced: list[VulnerabilityChange] = field(default_factory=list)
    vulnerabilities_fixed: list[VulnerabilityChange] = field(default_factory=list)
    risk_before: float = 0.0
    risk_after: float = 0.0
    risk_delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ComponentMember:
    """A component that joined or left the application, as it was on its side."""

    component: str
    version: str
    packages: int
    vulnerabilities: list[str]
    risk: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AppDiff:
    application: str
    from_version: str
    to_version: str
    components_added: list[ComponentMember] = field(default_factory=list)
    components_removed: list[ComponentMember] = field(default_factory=list)
    components_changed: list[ComponentDiff] = field(default_factory=list)
    components_unchanged: list[str] = field(default_factory=list)
    vulnerabilities_introduced: list[VulnerabilityChange] = field(default_factory=list)
    vulnerabilities_fixed: list[VulnerabilityChange] = field(default_factory=list)
    risk_before: float = 0.0
    risk_after: float = 0.0
    risk_delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- reading, set-based


@dataclass(frozen=True, slots=True)
class FindingRow:
    id: int
    component_version_id: int
    vulnerability: str
    severity: str | None
    score: float | None
    fixed_version: str | None
    state: str
    purl: str
    key: PackageKey
    ecosystem: str | None
    version: str | None


@dataclass
class _Held:
    """One package in one component version: every version of it, with a purl each."""

    ecosystem: str | None
    name: str
    purls: dict[str, str | None] = field(default_factory=dict)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def active_findings(session: Session, cv_ids: Sequence[int]) -> list[FindingRow]:
    """Active findings of these component versions, with their package's identity."""
    rows: list[FindingRow] = []
    for chunk in _chunks(cv_ids):
        for r in session.execute(
            select(
                Finding.id,
                Finding.component_version_id,
                Finding.vulnerability,
                Finding.severity,
                Finding.severity_score,
                Finding.fixed_version,
                Finding.state,
                Package.purl,
                Package.ecosystem,
                Package.type,
                Package.name,
                Package.version,
            )
            .join(Package, Package.id == Finding.package_id)
            .where(Finding.component_version_id.in_(chunk), Finding.active.is_(True))
        ):
            rows.append(
                FindingRow(
                    id=r.id,
                    component_version_id=r.component_version_id,
                    vulnerability=r.vulnerability,
                    severity=r.severity,
                    score=r.severity_score,
                    fixed_version=r.fixed_version,
                    state=r.state,
                    purl=r.purl,
                    key=(r.ecosystem or r.type, r.name),
                    ecosystem=r.ecosystem or r.type,
                    version=r.version,
                )
            )
    return rows


def _held_packages(session: Session, cv_ids: Sequence[int]) -> dict[int, dict[PackageKey, _Held]]:
    """component version -> package key -> what its current SBOM holds (the described
    subject itself left out)."""
    out: dict[int, dict[PackageKey, _Held]] = defaultdict(dict)
    for chunk in _chunks(cv_ids):
        query = (
            select(
                Occurrence.component_version_id,
                Occurrence.name,
                Occurrence.version,
                Package.purl,
                Package.ecosystem,
                Package.type,
                Package.name.label("package_name"),
                Package.version.label("package_version"),
            )
            .join(
                SbomDocument,
                and_(SbomDocument.id == Occurrence.document_id, SbomDocument.current.is_(True)),
            )
            .outerjoin(Package, Package.id == Occurrence.package_id)
            .where(Occurrence.component_version_id.in_(chunk), Occurrence.dependency != "root")
            .distinct()
        )
        for r in session.execute(query):
            if r.purl is not None:
                ecosystem: str | None = r.ecosystem or r.type
                name = r.package_name
                version = r.package_version or r.version or ""
            else:
                ecosystem, name, version = None, r.name, r.version or ""
            key = (ecosystem or "", name)
            held = out[r.component_version_id].get(key)
            if held is None:
                held = out[r.component_version_id][key] = _Held(ecosystem, name)
            held.purls.setdefault(version, r.purl)
    return out


def _package_counts(session: Session, cv_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(cv_ids):
        for cv_id, n in session.execute(
            select(Occurrence.component_version_id, func.count())
            .join(
                SbomDocument,
                and_(SbomDocument.id == Occurrence.document_id, SbomDocument.current.is_(True)),
            )
            .where(Occurrence.component_version_id.in_(chunk), Occurrence.dependency != "root")
            .group_by(Occurrence.component_version_id)
        ):
            counts[cv_id] = n
    return counts


def _weights(session: Session, rows: Sequence[FindingRow]) -> dict[int, float]:
    ids = sorted({r.id for r in rows})
    if not ids:
        return {}
    return finding_weights(session, ids, RiskContext.load(session))


# ---------------------------------------------------------------- comparing


def _package_changes(
    before: dict[PackageKey, _Held], after: dict[PackageKey, _Held], diff: ComponentDiff
) -> None:
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.purls.keys() == new.purls.keys():
            diff.packages_unchanged += 1  # the same versions order the same on both sides
            continue
        held = new or old
        assert held is not None
        eco = held.ecosystem
        old_versions = sort_versions(eco, old.purls) if old else []
        new_versions = sort_versions(eco, new.purls) if new else []
        change = PackageChange(
            ecosystem=eco,
            name=held.name,
            from_version=(old_versions[-1] or None) if old_versions else None,
            to_version=(new_versions[-1] or None) if new_versions else None,
            from_versions=[v for v in old_versions if v],
            to_versions=[v for v in new_versions if v],
        )
        if old is None:
            assert new is not None
            change.purl = new.purls[new_versions[-1]]
            diff.packages_added.append(change)
            continue
        if new is None:
            change.purl = old.purls[old_versions[-1]]
            diff.packages_removed.append(change)
            continue
        change.purl = new.purls[new_versions[-1]]
        direction = compare_version_sets(eco, old_versions, new_versions)
        if direction > 0:
            diff.packages_upgraded.append(change)
        elif direction < 0:
            diff.packages_downgraded.append(change)
        elif set(old_versions) == set(new_versions):
            diff.packages_unchanged += 1
        else:  # versions that order as equal but are spelled differently (1.0 / 1.0.0)
            diff.packages_upgraded.append(change)


def vulnerability_changes(
    rows: Iterable[FindingRow],
    vulnerabilities: Iterable[str],
    weights: dict[int, float],
    component_of: dict[int, str],
) -> list[VulnerabilityChange]:
    """One entry per vulnerability, from the findings that carry it; riskiest first."""
    wanted = set(vulnerabilities)
    grouped: dict[str, list[FindingRow]] = defaultdict(list)
    for r in rows:
        if r.vulnerability in wanted:
            grouped[r.vulnerability].append(r)
    out = []
    for vuln, items in grouped.items():
        scores = [r.score for r in items if r.score is not None]
        out.append(
            VulnerabilityChange(
                vulnerability=vuln,
                severity=max(
                    (r.severity for r in items), key=lambda s: SEVERITY_RANK.get(s or "", -1)
                ),
                score=max(scores) if scores else None,
                risk=round_risk(sum(weights.get(r.id, 0.0) for r in items)),
                components=sorted({component_of[r.component_version_id] for r in items}),
                packages=sorted({r.purl for r in items}),
            )
        )
    out.sort(key=lambda v: (-v.risk, -(v.score or 0.0), v.vulnerability))
    return out


def _compare_components(
    session: Session,
    pairs: Sequence[tuple[str, int | None, str | None, int | None, str | None]],
    findings_of: dict[int, list[FindingRow]],
    weights: dict[int, float],
    component_of: dict[int, str],
) -> list[ComponentDiff]:
    """Diffs of (component, before id, before version, after id, after version) pairs."""
    cv_ids = [cv for _, a, _, b, _ in pairs for cv in (a, b) if cv is not None]
    held = _held_packages(session, cv_ids)
    diffs = []
    for name, old_id, old_version, new_id, new_version in pairs:
        diff = ComponentDiff(name, old_version, new_version)
        before = held.get(old_id, {}) if old_id is not None else {}
        after = held.get(new_id, {}) if new_id is not None else {}
        _package_changes(before, after, diff)
        _compare_findings(
            diff,
            findings_of.get(old_id, []) if old_id is not None else [],
            findings_of.get(new_id, []) if new_id is not None else [],
            weights,
            component_of,
        )
        diffs.append(diff)
    return diffs


# ---------------------------------------------------------------- entry points


def app_version_row(session: Session, app: Application, version: str | None) -> ApplicationVersion:
    """The application version by its label; the latest one when ``version`` is None."""
    query = select(ApplicationVersion).where(ApplicationVersion.application_id == app.id)
    if version is None:
        av = session.scalars(query.order_by(ApplicationVersion.seq.desc()).limit(1)).first()
        if av is None:
            raise NotFoundError(f"{app.name} has no versions yet")
        return av
    av = session.scalars(query.where(ApplicationVersion.version == version)).first()
    if av is None:
        raise NotFoundError(f"{app.name} has no version {version!r}")
    return av


def app_members(
    session: Session, av_ids: Sequence[int]
) -> dict[int, dict[int, tuple[str, int, str]]]:
    """application version -> component id -> (component name, version id, version)."""
    out: dict[int, dict[int, tuple[str, int, str]]] = {av: {} for av in av_ids}
    for av_id, comp_id, comp_name, cv_id, cv_version in session.execute(
        select(
            ApplicationVersionMember.application_version_id,
            Component.id,
            Component.name,
            ComponentVersion.id,
            ComponentVersion.version,
        )
        .join(Component, Component.id == ApplicationVersionMember.component_id)
        .join(
            ComponentVersion, ComponentVersion.id == ApplicationVersionMember.component_version_id
        )
        .where(ApplicationVersionMember.application_version_id.in_(list(av_ids)))
    ):
        out[av_id][comp_id] = (comp_name, cv_id, cv_version)
    return out


def app_diff(session: Session, app: str, v1: str, v2: str) -> AppDiff:
    """From application version ``v1`` to ``v2`` (either may be the older one)."""
    application = catalog.get_application(session, app)
    av1 = app_version_row(session, application, v1)
    av2 = app_version_row(session, application, v2)
    members = app_members(session, [av1.id, av2.id])
    before, after = members[av1.id], members[av2.id]
    component_of = {cv: name for m in (before, after) for name, cv, _ in m.values()}
    before_ids = [cv for _, cv, _ in before.values()]
    after_ids = [cv for _, cv, _ in after.values()]
    rows = active_findings(session, before_ids + after_ids)
    weights = _weights(session, rows)
    findings_of: dict[int, list[FindingRow]] = defaultdict(list)
    for r in rows:
        findings_of[r.component_version_id].append(r)

    result = AppDiff(application.name, av1.version, av2.version)
    counts = _package_counts(
        session,
        [cv for c, (_, cv, _) in before.items() if c not in after]
        + [cv for c, (_, cv, _) in after.items() if c not in before],
    )

    def member(name: str, cv_id: int, version: str) -> ComponentMember:
        own = findings_of.get(cv_id, [])
        return ComponentMember(
            component=name,
            version=version,
            packages=counts.get(cv_id, 0),
            vulnerabilities=sorted({r.vulnerability for r in own}),
            risk=round_risk(sum(weights.get(r.id, 0.0) for r in own)),
        )

    pairs: list[tuple[str, int | None, str | None, int | None, str | None]] = []
    for comp_id in set(before) | set(after):
        old, new = before.get(comp_id), after.get(comp_id)
        if old is None and new is not None:
            result.components_added.append(member(*new))
        elif new is None and old is not None:
            result.components_removed.append(member(*old))
        elif old is not None and new is not None:
            if old[1] == new[1]:
                result.components_unchanged.append(old[0])
            else:
                pairs.append((old[0], old[1], old[2], new[1], new[2]))
    result.components_added.sort(key=lambda m: m.component)
    result.components_removed.sort(key=lambda m: m.component)
    result.components_unchanged.sort()
    result.components_changed = sorted(
        _compare_components(session, pairs, findings_of, weights, component_of),
        key=lambda d: d.component,
    )

    _compare_findings(
        result,
        [r for cv in before_ids for r in findings_of.get(cv, [])],
        [r for cv in after_ids for r in findings_of.get(cv, [])],
        weights,
        component_of,
    )
    return result


def component_diff(session: Session, component: str, v1: str, v2: str) -> ComponentDiff:
    """From version ``v1`` of a component to ``v2``."""
    old = catalog.get_component_version(session, component, v1)
    new = catalog.get_component_version(session, component, v2)
    name = session.scalars(select(Component.name).where(Component.id == old.component_id)).one()
    rows = active_findings(session, [old.id, new.id])
    weights = _weights(session, rows)
    findings_of: dict[int, list[FindingRow]] = defaultdict(list)
    for r in rows:
        findings_of[r.component_version_id].append(r)
    (diff,) = _compare_components(
        session,
        [(name, old.id, old.version, new.id, new.version)],
        findings_of,
        weights,
        {old.id: name, new.id: name},
    )
    return diff


def _compare_findings(
    target: Any,
    old_rows: list[Any],
    new_rows: list[Any],
    weights: dict[int, float],
    component_of: dict[int, str],
) -> None:
    """Set vulnerabilities introduced/fixed and the risk before, after and delta on a
    component or application diff."""
    old_vulns = {r.vulnerability for r in old_rows}
    new_vulns = {r.vulnerability for r in new_rows}
    target.vulnerabilities_introduced = vulnerability_changes(
        new_rows, new_vulns - old_vulns, weights, component_of
    )
    target.vulnerabilities_fixed = vulnerability_changes(
        old_rows, old_vulns - new_vulns, weights, component_of
    )
    target.risk_before = round_risk(sum(weights.get(r.id, 0.0) for r in old_rows))
    target.risk_after = round_risk(sum(weights.get(r.id, 0.0) for r in new_rows))
    target.risk_delta = round_risk(target.risk_after - target.risk_before)
