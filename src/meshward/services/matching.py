"""Matching packages against advisories, again whenever either side changes.

DESIGN.md, "Matching at scale": each *distinct* package version is evaluated once against the
advisory entries indexed by (ecosystem, normalised name); the verdicts are then joined to every
component version whose current SBOM holds that package. Findings are rows that outlive a
re-match: a match that disappears only turns ``active`` off, so analysis is never lost.
Each finding also records where its package sits in the version's current SBOM (its
dependency kind and shortest path, ``services.placement``), placed again when a new document
replaces that SBOM: what a blast radius of the advisory shows, read with the finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Integer, and_, func, select, update
from sqlalchemy.orm import Session

from meshward.ecosystems.base import Ecosystem
from meshward.ecosystems.purls import split_canonical
from meshward.ecosystems.ranges import CompiledAffected, smallest_fix_compiled
from meshward.ecosystems.registry import UnknownEcosystem, get_ecosystem
from meshward.formats.osv import Advisory as OsvAdvisory
from meshward.formats.osv import parse_advisory
from meshward.services import placement
from meshward.store.bulk import bulk_insert
from meshward.store.models import (
    Advisory as AdvisoryRow,
)
from meshward.store.models import (
    AffectedPackage,
    Finding,
    FindingEvent,
    Occurrence,
    Package,
    SbomDocument,
)
from meshward.store.types import utcnow

CHUNK = 500

DISTRO_CODENAMES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "bionic": "18.04",
    "focal": "20.04",
    "jammy": "22.04",
    "noble": "24.04",
}


def _release(text: str | None) -> str | None:
    """``debian-11`` / ``bookworm`` / ``v3.16`` / ``22.04:LTS`` to a comparable release."""
    if not text:
        return None
    text = text.lower().split(":", 1)[0]
    text = text.rsplit("-", 1)[-1] if "-" in text else text
    text = DISTRO_CODENAMES.get(text, text)
    return text.removeprefix("v") or None


@lru_cache(maxsize=65536)
def package_release(purl: str) -> str | None:
    """The distribution release a distro package was built for, from its purl qualifiers."""
    qualifiers = split_canonical(purl).qualifiers
    return _release(qualifiers.get("distro") or qualifiers.get("distro_name"))


def releases_agree(package: str | None, advisory: str | None) -> bool:
    """An advisory for ``Debian:11`` concerns packages of Debian 11 (11.x) only. A package
    whose release is unknown is matched against every release: a false positive is a triage
    task, a false negative is a missed vulnerability."""
    if package is None or advisory is None:
        return True
    return package == advisory or package.startswith(advisory + ".")


@dataclass(frozen=True, slots=True)
class Match:
    package_id: int
    advisory_id: int
    ecosystem: str
    fixed_version: str | None


class _Compiled:
    """Parsed advisories and compiled affected entries, each built once per run."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.advisories: dict[int, OsvAdvisory] = {}
        self.entries: dict[tuple[int, int], CompiledAffected] = {}

    def load(self, advisory_ids: Iterable[int]) -> None:
        missing = sorted(set(advisory_ids) - set(self.advisories))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            for row_id, raw, source in self.session.execute(
                select(AdvisoryRow.id, AdvisoryRow.raw, AdvisoryRow.source).where(
                    AdvisoryRow.id.in_(chunk)
                )
            ):
                self.advisories[row_id] = parse_advisory(raw, source or "store")

    def entry(self, ecosystem: Ecosystem, advisory_id: int, position: int) -> CompiledAffected:
        key = (advisory_id, position)
        if key not in self.entries:
            affected = self.advisories[advisory_id].affected[position]
            self.entries[key] = CompiledAffected(ecosystem, affected)
        return self.entries[key]


def evaluate_pairs(session: Session, pairs: Sequence[Any]) -> list[Match]:
    """Rows of (package id, ecosystem, version, purl, advisory id, position, release) to the
    affected (package, advisory) pairs with their smallest fix."""
    compiled = _Compiled(session)
    compiled.load(row.advisory_id for row in pairs)
    by_package_advisory: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in pairs:
        by_package_advisory[(row.package_id, row.advisory_id)].append(row)
    matches = []
    for (package_id, advisory_id), rows in by_package_advisory.items():
        first = rows[0]
        if not first.version:
            continue
        try:
            ecosystem = get_ecosystem(first.ecosystem)
        except UnknownEcosystem:
            continue
        release = package_release(first.purl)
        entries = [
            compiled.entry(ecosystem, advisory_id, r.position)
            for r in rows
            if releases_agree(release, _release(r.ecosystem_release))
        ]
        if not any(e.evaluate(first.version).affected for e in entries):
            continue
        fix = smallest_fix_compiled(ecosystem, first.version, entries)
        matches.append(Match(package_id, advisory_id, first.ecosystem, fix))
    return matches


def _candidate_query() -> Any:
    return (
        select(
            Package.id.label("package_id"),
            Package.ecosystem,
            Package.version,
            Package.purl,
            AffectedPackage.advisory_id,
            AffectedPackage.position,
            AffectedPackage.ecosystem_release,
        )
        .join(
            AffectedPackage,
            and_(
                AffectedPackage.ecosystem == Package.ecosystem,
                AffectedPackage.name == Package.name,
            ),
        )
        .join(AdvisoryRow, AdvisoryRow.id == AffectedPackage.advisory_id)
        .where(AdvisoryRow.withdrawn.is_(None))
    )


def _current_occurrences() -> Any:
    return (
        select(Occurrence.component_version_id, Occurrence.package_id)
        .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
        .where(SbomDocument.current.is_(True), Occurrence.package_id.is_not(None))
    )


@dataclass
class RematchReport:
    new: int = 0
    reopened: int = 0
    resolved: int = 0
    active: int = 0


def rematch_component_versions(session: Session, cv_ids: Sequence[int]) -> RematchReport:
    """Re-match every package of these component versions' current SBOMs."""
    report = RematchReport()
    for start in range(0, len(cv_ids), CHUNK):
        chunk = list(cv_ids[start : start + CHUNK])
        occurrences = _current_occurrences().where(Occurrence.component_version_id.in_(chunk))
        held = session.execute(occurrences.distinct()).all()
        package_ids = {p for _, p in held}
        pairs = session.execute(
            _candidate_query().where(
                Package.id.in_(
                    select(Occurrence.package_id).where(Occurrence.component_version_id.in_(chunk))
                )
            )
        ).all()
        matches = [m for m in evaluate_pairs(session, pairs) if m.package_id in package_ids]
        desired = _join_to_versions(session, matches, held)
        existing = session.scalars(
            select(Finding).where(Finding.component_version_id.in_(chunk))
        ).all()
        _sync(session, desired, existing, report)
    return report


def rematch_all(session: Session) -> RematchReport:
    """Re-match the whole estate: every distinct package any current SBOM holds, once."""
    report = RematchReport()
    held_packages = _current_occurrences().with_only_columns(Occurrence.package_id).distinct()
    pairs = session.execute(_candidate_query().where(Package.id.in_(held_packages))).all()
    matches = evaluate_pairs(session, pairs)
    matched = sorted({m.package_id for m in matches})
    held: list[Any] = []
    for start in range(0, len(matched), CHUNK):
        held += session.execute(
            _current_occurrences()
            .where(Occurrence.package_id.in_(matched[start : start + CHUNK]))
            .distinct()
        ).all()
    desired = _join_to_versions(session, matches, held)
    _sync(session, desired, session.scalars(select(Finding)).all(), report)
    return report


def rematch_advisories(session: Session, advisory_ids: Sequence[int]) -> RematchReport:
    """Re-match these advisories against every package any current SBOM holds."""
    report = RematchReport()
    vulns = sorted(
        {
            v
            for start in range(0, len(advisory_ids), CHUNK)
            for v in session.scalars(
                select(AdvisoryRow.vulnerability).where(
                    AdvisoryRow.id.in_(advisory_ids[start : start + CHUNK])
                )
            )
        }
    )
    for start in range(0, len(vulns), CHUNK):
        vuln_chunk = vulns[start : start + CHUNK]
        # every record of these vulnerabilities, not only the changed ones: they fold together
        chunk = list(
            session.scalars(select(AdvisoryRow.id).where(AdvisoryRow.vulnerability.in_(vuln_chunk)))
        )
        # packages named by these advisories (index on ecosystem, name); whether an SBOM
        # holds them is asked below, of the matched ones only (index on package_id)
        pairs = session.execute(
            _candidate_query().where(AffectedPackage.advisory_id.in_(chunk))
        ).all()
        matches = evaluate_pairs(session, pairs)
        matched_packages = sorted({m.package_id for m in matches})
        held: list[Any] = []
        for p_start in range(0, len(matched_packages), CHUNK):
            held += session.execute(
                _current_occurrences()
                .where(Occurrence.package_id.in_(matched_packages[p_start : p_start + CHUNK]))
                .distinct()
            ).all()
        desired = _join_to_versions(session, matches, held)
        existing = session.scalars(
            select(Finding).where(Finding.vulnerability.in_(vuln_chunk))
        ).all()
        _sync(session, desired, existing, report)
    return report


SEVERITY_RANK = {None: 0, "none": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


@dataclass(frozen=True, slots=True)
class Wanted:
    fixed_version: str | None
    severity: str | None
    score: float | None


def _join_to_versions(
    session: Session, matches: Sequence[Match], held: Sequence[Any]
) -> dict[tuple[int, int, str], Wanted]:
    """(component version, package, vulnerability) -> what the finding should say. Advisories
    that alias each other fold into one vulnerability: the worst severity, and a fix that
    clears them all (the highest of their smallest fixes)."""
    advisory_ids = sorted({m.advisory_id for m in matches})
    info: dict[int, tuple[str, str | None, float | None]] = {}
    for start in range(0, len(advisory_ids), CHUNK):
        for row_id, vuln, severity, score in session.execute(
            select(
                AdvisoryRow.id,
                AdvisoryRow.vulnerability,
                AdvisoryRow.severity,
                AdvisoryRow.severity_score,
            ).where(AdvisoryRow.id.in_(advisory_ids[start : start + CHUNK]))
        ):
            info[row_id] = (vuln, severity, score)
    per_package: dict[tuple[int, str], list[tuple[Match, str | None, float | None]]] = defaultdict(
        list
    )
    for m in matches:
        vuln, severity, score = info[m.advisory_id]
        per_package[(m.package_id, vuln)].append((m, severity, score))
    folded: dict[tuple[int, str], Wanted] = {}
    for key, items in per_package.items():
        fix = _highest_fix(items[0][0].ecosystem, [m.fixed_version for m, _, _ in items])
        severity = max((sev for _, sev, _ in items), key=lambda v: SEVERITY_RANK.get(v, 0))
        scores = [sc for _, _, sc in items if sc is not None]
        folded[key] = Wanted(fix, severity, max(scores) if scores else None)
    versions_of: dict[int, set[int]] = defaultdict(set)
    for cv_id, package_id in held:
        versions_of[package_id].add(cv_id)
    return {
        (cv_id, package_id, vuln): wanted
        for (package_id, vuln), wanted in folded.items()
        for cv_id in versions_of.get(package_id, ())
    }


def _highest_fix(ecosystem_name: str, fixes: list[str | None]) -> str | None:
    """The highest of several fixes in the package's own ordering; None when one of the
    advisories names no fix (then no upgrade clears them all)."""
    if not fixes or None in fixes:
        return None
    known = [f for f in fixes if f is not None]
    try:
        return max(known, key=get_ecosystem(ecosystem_name).sort_key)
    except (UnknownEcosystem, ValueError):
        return max(known)


def _all_withdrawn(session: Session, vulnerabilities: Sequence[str]) -> set[str]:
    """The vulnerabilities whose every advisory record is withdrawn."""
    out: set[str] = set()
    for start in range(0, len(vulnerabilities), CHUNK):
        rows = session.execute(
            select(
                AdvisoryRow.vulnerability,
                func.min(AdvisoryRow.withdrawn.is_not(None).cast(Integer)),
            )
            .where(AdvisoryRow.vulnerability.in_(vulnerabilities[start : start + CHUNK]))
            .group_by(AdvisoryRow.vulnerability)
        )
        out.update(v for v, all_withdrawn in rows if all_withdrawn)
    return out


def _insert_findings(
    session: Session, rows: dict[tuple[int, int, str], tuple[Any, ...]]
) -> list[int]:
    """Insert through the driver's bulk path and return the new ids (rows with an id above
    the highest before, whose key is ours: a concurrent writer's rows are not)."""
    before = session.scalar(select(func.max(Finding.id))) or 0
    bulk_insert(
        session,
        Finding.__table__,  # type: ignore[arg-type]
        (
            "component_version_id",
            "package_id",
            "vulnerability",
            "active",
            "fixed_version",
            "severity",
            "severity_score",
            "first_seen",
            "last_seen",
            "state",
            "document_id",
            "dependency",
            "path",
        ),
        list(rows.values()),
    )
    return [
        fid
        for fid, cv, pkg, vuln in session.execute(
            select(
                Finding.id, Finding.component_version_id, Finding.package_id, Finding.vulnerability
            ).where(Finding.id > before)
        )
        if (cv, pkg, vuln) in rows
    ]


def _sync(
    session: Session,
    desired: dict[tuple[int, int, str], Wanted],
    existing: Sequence[Finding],
    report: RematchReport,
) -> None:
    """Make the stored findings of this scope what ``desired`` says, recording each change
    as an event: ``new``, ``reopened``, ``resolved`` (no longer matched) or ``withdrawn``
    (every record of the vulnerability was withdrawn)."""
    gone = sorted({f.vulnerability for f in existing if f.active} - {k[2] for k in desired})
    withdrawn = _all_withdrawn(session, gone)
    placed = _placements(session, desired, existing)
    now = utcnow()
    seen: set[tuple[int, int, str]] = set()
    updates: list[dict[str, Any]] = []
    events: list[tuple[int, str]] = []
    for f in existing:
        key = (f.component_version_id, f.package_id, f.vulnerability)
        seen.add(key)
        wanted = desired.get(key)
        if wanted is not None:
            values: dict[str, Any] = {
                "fixed_version": wanted.fixed_version,
                "severity": wanted.severity,
                "severity_score": wanted.score,
            }
            where = placed.get(key[:2])
            if where is not None:
                doc, _, (kind, path) = where
                values |= {"document_id": doc, "dependency": kind, "path": list(path)}
            if not f.active:
                report.reopened += 1
                events.append((f.id, "reopened"))
                updates.append(
                    {"id": f.id, "active": True, "resolved_at": None, "last_seen": now, **values}
                )
            elif any(getattr(f, k) != v for k, v in values.items()):
                updates.append({"id": f.id, "last_seen": now, **values})
        elif f.active:
            report.resolved += 1
            events.append((f.id, "withdrawn" if f.vulnerability in withdrawn else "resolved"))
            updates.append({"id": f.id, "active": False, "resolved_at": now})
    if updates:
        session.execute(update(Finding), updates)
    naive_now = now.replace(tzinfo=None)
    fresh = {
        key: (
            *key,
            True,
            w.fixed_version,
            w.severity,
            w.score,
            naive_now,
            naive_now,
            "open",
            *_placement_columns(placed.get(key[:2])),
        )
        for key, w in desired.items()
        if key not in seen
    }
    if fresh:
        events += [(i, "new") for i in _insert_findings(session, fresh)]
        report.new += len(fresh)
    bulk_insert(
        session,
        FindingEvent.__table__,  # type: ignore[arg-type]
        ("finding_id", "kind", "at"),
        [(fid, kind, naive_now) for fid, kind in events],
    )
    report.active += len(desired)


def _placements(
    session: Session, desired: dict[tuple[int, int, str], Wanted], existing: Sequence[Finding]
) -> dict[tuple[int, int], tuple[int, str, placement.Placement]]:
    """Where each package of a new finding sits in its version's current SBOM, and of an
    existing one whose placement was read from another document (a new upload) or never
    (a finding from before migration 0011): what a blast radius then reads with the finding.
    Every finding of one version and package shares its placement."""
    current: dict[int, int] = {}
    versions = sorted({cv for cv, _, _ in desired})
    for start in range(0, len(versions), CHUNK):
        for cv, doc in session.execute(
            select(SbomDocument.component_version_id, SbomDocument.id).where(
                SbomDocument.current.is_(True),
                SbomDocument.component_version_id.in_(versions[start : start + CHUNK]),
            )
        ):
            current[cv] = doc
    have = {(f.component_version_id, f.package_id, f.vulnerability) for f in existing}
    stale = {
        (f.component_version_id, f.package_id)
        for f in existing
        if f.dependency is None or f.document_id != current.get(f.component_version_id)
    }
    wanted = {(cv, pkg) for cv, pkg, vuln in desired if (cv, pkg, vuln) not in have} | {
        (cv, pkg) for cv, pkg, _ in desired if (cv, pkg) in stale
    }
    # a package's versions together: each chunk binds few packages and refs
    return placement.place(session.connection(), sorted(wanted, key=lambda k: (k[1], k[0])))


def _placement_columns(
    where: tuple[int, str, placement.Placement] | None,
) -> tuple[int | None, str | None, str | None]:
    """``document_id``, ``dependency`` and ``path`` (JSON text) as ``bulk_insert`` takes them."""
    if where is None:
        return None, None, None
    doc, _, (kind, path) = where
    return doc, kind, orjson.dumps(list(path)).decode()
