"""Which scans count for a component version, and which versions hold unmapped results:
shared by verification and by threat-model refresh (which adds the review control)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.store.scan_models import Scan, ScanResult

REVIEW_CONTROL = "C-REVIEW-UNMAPPED-FINDINGS"


def effective_scans(session: Session, cv_ids: list[int]) -> dict[int, list[Scan]]:
    """Per version, the scans whose results count: per tool, the last ``replace`` scan and
    the ``merge`` scans after it."""
    per: dict[tuple[int, str], list[Scan]] = defaultdict(list)
    for chunk in _chunks(cv_ids):
        for scan in session.scalars(
            select(Scan).where(Scan.component_version_id.in_(chunk)).order_by(Scan.id)
        ):
            key = (scan.component_version_id, scan.tool)
            if scan.policy == "replace":
                per[key] = [scan]
            else:
                per[key].append(scan)
    out: dict[int, list[Scan]] = defaultdict(list)
    for (cv, _tool), scans in per.items():
        out[cv].extend(scans)
    return out


def unmapped_versions(session: Session, cv_ids: list[int]) -> set[int]:
    """Versions with open results no control claims (they need the review control)."""
    scans = effective_scans(session, cv_ids)
    ids = [s.id for group in scans.values() for s in group]
    out: set[int] = set()
    for chunk in _chunks(ids):
        out |= set(
            session.scalars(
                select(ScanResult.component_version_id)
                .where(
                    ScanResult.scan_id.in_(chunk),
                    ScanResult.unmapped.is_(True),
                    ScanResult.lifecycle != "gone",
                    ScanResult.suppressed.is_(False),
                )
                .distinct()
            )
        )
    return out


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
