"""OSV advisories into the store, in batches, idempotently; each change triggers re-matching.

An import is all-or-nothing: every record is read and validated as it streams, written in
batches inside the caller's one transaction, and a bad record aborts the whole import (the
error names the file, the archive member and the JSON pointer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from meshward.ecosystems.registry import UnknownEcosystem, normalize_package_name
from meshward.errors import NotFoundError
from meshward.formats.osv import Advisory as OsvAdvisory
from meshward.formats.osv import iter_advisories, rate_severity
from meshward.limits import DEFAULT_LIMITS, Limits
from meshward.services.matching import RematchReport, rematch_advisories
from meshward.services.triage import apply_rules
from meshward.store import audit
from meshward.store.models import Advisory, AdvisoryAlias, AffectedPackage
from meshward.store.types import utcnow

BATCH = 1000


@dataclass
class AdvisoryImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    matching: RematchReport = field(default_factory=RematchReport)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(items: Iterable[OsvAdvisory], size: int) -> Iterator[list[OsvAdvisory]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()


def vulnerability_key(adv: OsvAdvisory) -> str:
    """One name for the vulnerability a record describes, the same for records that alias
    each other: the least CVE id among its names, else the least of its names."""
    names = sorted({adv.id, *adv.aliases})
    cves = [n for n in names if n.upper().startswith("CVE-")]
    return (cves or names)[0]


def _row(adv: OsvAdvisory, digest: str) -> dict[str, Any]:
    rating = rate_severity(adv)
    return {
        "osv_id": adv.id,
        "vulnerability": vulnerability_key(adv),
        "modified": adv.modified_at,
        "published": adv.published_at,
        "withdrawn": adv.withdrawn_at,
        "summary": adv.summary,
        "aliases": list(adv.aliases),
        "severity_score": rating.score,
        "severity": rating.label.value if rating.label else None,
        "severity_vector": rating.vector,
        "digest": digest,
        "raw": adv.raw,
        "source": adv.source,
        "imported_at": utcnow(),
    }


def _index_rows(advisory_id: int, adv: OsvAdvisory) -> tuple[list[dict[str, Any]], ...]:
    aliases = [{"alias": a, "advisory_id": advisory_id} for a in {adv.id, *adv.aliases}]
    affected = []
    for position, entry in enumerate(adv.affected):
        if entry.package is None:
            continue
        base, _, release = entry.package.ecosystem.partition(":")
        try:
            name = normalize_package_name(base, entry.package.name)
        except UnknownEcosystem:
            name = entry.package.name
        affected.append(
            {
                "advisory_id": advisory_id,
                "position": position,
                "ecosystem": base,
                "ecosystem_release": release or None,
                "name": name,
            }
        )
    return aliases, affected


def store_advisories(session: Session, advisories: Iterable[OsvAdvisory]) -> AdvisoryImportReport:
    report = AdvisoryImportReport()
    changed_ids: list[int] = []
    for batch in _batches(advisories, BATCH):
        latest: dict[str, OsvAdvisory] = {}
        for adv in batch:  # the same id twice in one feed: the newer record wins
            seen = latest.get(adv.id)
            if seen is None or (adv.modified or "") >= (seen.modified or ""):
                latest[adv.id] = adv
        report.read += len(batch)
        existing = {
            osv_id: (row_id, digest)
            for row_id, osv_id, digest in session.execute(
                select(Advisory.id, Advisory.osv_id, Advisory.digest).where(
                    Advisory.osv_id.in_(list(latest))
                )
            )
        }
        fresh, stale = [], []
        for adv in latest.values():
            digest = _digest(adv.raw)
            before = existing.get(adv.id)
            if before is None:
                fresh.append(_row(adv, digest))
            elif before[1] != digest:
                stale.append({"id": before[0], **_row(adv, digest)})
            else:
                report.unchanged += 1
        report.unchanged += len(batch) - len(latest)
        report.withdrawn += sum(1 for a in latest.values() if a.withdrawn)
        ids: dict[str, int] = {}
        if fresh:
            ids.update(
                (osv_id, row_id)
                for row_id, osv_id in session.execute(
                    insert(Advisory).returning(Advisory.id, Advisory.osv_id), fresh
                )
            )
            report.created += len(fresh)
        if stale:
            session.execute(update(Advisory), stale)
            stale_ids = [r["id"] for r in stale]
            session.execute(delete(AdvisoryAlias).where(AdvisoryAlias.advisory_id.in_(stale_ids)))
            session.execute(
                delete(AffectedPackage).where(AffectedPackage.advisory_id.in_(stale_ids))
            )
            ids.update((r["osv_id"], r["id"]) for r in stale)
            report.updated += len(stale)
        aliases: list[dict[str, Any]] = []
        affected: list[dict[str, Any]] = []
        for osv_id, row_id in ids.items():
            a, b = _index_rows(row_id, latest[osv_id])
            aliases += a
            affected += b
        if aliases:
            session.execute(insert(AdvisoryAlias), aliases)
        if affected:
            session.execute(insert(AffectedPackage), affected)
        changed_ids += ids.values()
    session.flush()
    if changed_ids:
        report.matching = rematch_advisories(session, changed_ids)
        apply_rules(session)
        m = report.matching
        audit.record(
            session,
            "advisories.import",
            "advisories",
            None,
            after={
                "created": report.created,
                "updated": report.updated,
                "withdrawn": report.withdrawn,
                "findings_new": m.new,
                "findings_resolved": m.resolved,
                "findings_reopened": m.reopened,
            },
        )
    return report


def import_advisories(
    session: Session,
    paths: Sequence[Path],
    limits: Limits = DEFAULT_LIMITS,
    on_record: Callable[[OsvAdvisory], None] | None = None,
) -> AdvisoryImportReport:
    """OSV JSON files, folders of them, or osv.dev ``all.zip`` archives (streamed)."""

    def records() -> Iterator[OsvAdvisory]:
        for path in paths:
            for adv in iter_advisories(path, limits):
                if on_record is not None:
                    on_record(adv)
                yield adv

    return store_advisories(session, records())


def find_advisory(session: Session, name: str) -> Advisory:
    """By OSV id or any alias (CVE, GHSA ...); case-insensitive."""
    row = session.scalars(
        select(Advisory)
        .join(AdvisoryAlias, AdvisoryAlias.advisory_id == Advisory.id)
        .where(func.upper(AdvisoryAlias.alias) == name.strip().upper())
        .order_by(Advisory.withdrawn.is_not(None), Advisory.osv_id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFoundError(f"no advisory {name!r}")
    return row


def advisory_view(session: Session, name: str) -> dict[str, Any]:
    adv = find_advisory(session, name)
    raw = adv.raw
    return {
        "id": adv.osv_id,
        "aliases": adv.aliases,
        "summary": adv.summary,
        "details": raw.get("details"),
        "severity": adv.severity,
        "score": adv.severity_score,
        "vector": adv.severity_vector,
        "published": raw.get("published"),
        "modified": raw.get("modified"),
        "withdrawn": raw.get("withdrawn"),
        "affected": [
            {
                "ecosystem": (a.get("package") or {}).get("ecosystem"),
                "name": (a.get("package") or {}).get("name"),
                "ranges": a.get("ranges", []),
                "versions": len(a.get("versions", [])),
            }
            for a in raw.get("affected", [])
        ],
        "references": [r.get("url") for r in raw.get("references", [])],
    }


def list_advisories(
    session: Session,
    *,
    ecosystem: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = (
        select(Advisory)
        .order_by(Advisory.modified.desc(), Advisory.osv_id)
        .offset(offset)
        .limit(limit)
    )
    if ecosystem:
        query = query.where(
            Advisory.id.in_(
                select(AffectedPackage.advisory_id).where(AffectedPackage.ecosystem == ecosystem)
            )
        )
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(func.lower(Advisory.osv_id).like(like), func.lower(Advisory.summary).like(like))
        )
    return [
        {
            "id": a.osv_id,
            "aliases": a.aliases,
            "severity": a.severity,
            "score": a.severity_score,
            "summary": a.summary,
            "withdrawn": a.withdrawn is not None,
        }
        for a in session.scalars(query)
    ]


def ecosystems_in_use(session: Session) -> list[str]:
    """The OSV ecosystems of the packages stored SBOMs hold: what a sync should fetch."""
    from meshward.store.models import Package

    return sorted(e for e in session.scalars(select(Package.ecosystem).distinct()) if e is not None)


def import_advisories_json(
    session: Session, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS
) -> AdvisoryImportReport:
    """One OSV record or a JSON list of them (the API's body); a bad record names its index."""
    from meshward.formats.osv import parse_advisory
    from meshward.formats.sbom.common import load_json

    obj = load_json(data, source, limits)
    if isinstance(obj, list):
        records = [parse_advisory(item, source, f"/{i}") for i, item in enumerate(obj)]
    else:
        records = [parse_advisory(obj, source)]
    return store_advisories(session, records)
