"""Risk weights of findings: the one place that says how much a finding matters.

A first, severity-only model; the roll-up work refines it (exposure, exploitation evidence,
reach over consumers) and documents it in docs/risk.md.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.store.models import Finding

SEVERITY_WEIGHT = {"critical": 10.0, "high": 5.0, "medium": 2.0, "low": 0.5}
UNKNOWN_WEIGHT = 1.0
SETTLED = ("not_affected", "false_positive", "fixed")


def finding_weights(session: Session, finding_ids: list[int]) -> dict[int, float]:
    """finding id -> risk weight (0 for findings settled by analysis or no longer active)."""
    weights: dict[int, float] = {}
    for start in range(0, len(finding_ids), 500):
        chunk = finding_ids[start : start + 500]
        for fid, severity, state, active in session.execute(
            select(Finding.id, Finding.severity, Finding.state, Finding.active).where(
                Finding.id.in_(chunk)
            )
        ):
            if not active or state in SETTLED:
                weights[fid] = 0.0
            else:
                weights[fid] = SEVERITY_WEIGHT.get(severity or "", UNKNOWN_WEIGHT)
    return weights
