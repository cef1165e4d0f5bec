"""Read-side views of verification for the CLI, the API and the gate: a version's scans, a
page of its results, and per control the state with its evidence beside the task.

They live apart from ``verification`` so that module stays the one place where results are
written and states decided; everything here only reads (``control_evidence`` recomputes,
because SCA findings change and manual tests expire without an upload).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.services.scan_state import effective_scans
from meshward.store.scan_models import Scan
from meshward.store.threat_models import ControlTask

COUNTS = ("new", "present", "gone", "suppressed", "unmapped")


def iso(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC with ``Z``, so local and remote output read the same."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return value


def list_scans(session: Session, component: str, version: str) -> list[dict[str, Any]]:
    """Every scan of a version, newest first; ``effective`` says whether its results count
    now (a later ``replace`` scan of the same tool supersedes it)."""
    cv = catalog.get_component_version(session, component, version)
    counting = {s.id for s in effective_scans(session, [cv.id]).get(cv.id, [])}
    scans = session.scalars(
        select(Scan).where(Scan.component_version_id == cv.id).order_by(Scan.id.desc())
    )
    return [
        {
            "id": s.id,
            "tool": s.tool,
            "tool_version": s.tool_version,
            "kind": s.kind,
            "format": s.format,
            "policy": s.policy,
            "effective": s.id in counting,
            "results": s.result_count,
            **{
                k: s.summary.get(k, 0) for k in ("new", "present", "gone", "suppressed", "unmapped")
            },
            "source": s.source,
            "uploaded_by": s.uploaded_by,
            "uploaded_at": iso(s.uploaded_at),
            "digest": s.digest,
        }
        for s in scans
    ]


def scan_results_page(
    session: Session,
    component: str,
    version: str,
    *,
    include_gone: bool = False,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """``limit`` results of the effective scans from ``offset``, in a stable order."""
    rows = vf.list_scan_results(
        session, component, version, include_gone=include_gone, limit=offset + limit
    )
    return rows[offset:]


def verification_view(session: Session, component: str, version: str) -> dict[str, Any]:
    """Per control of the version: the task's priority and status beside the verification
    state and its evidence. Controls that fail without a task (a result mapped to a control
    the threat model does not require) are shown too: the weakness is there all the same."""
    kb = tm.current_kb(session)
    cv = catalog.get_component_version(session, component, version)
    tm.refresh(session, [cv.id], kb=kb)
    evidence = vf.control_evidence(session, [cv.id])
    tasks = {
        t.control_key: t
        for t in session.scalars(
            select(ControlTask).where(
                ControlTask.component_version_id == cv.id, ControlTask.active.is_(True)
            )
        )
    }
    controls = []
    for key in sorted(tasks.keys() | {c for v, c in evidence if v == cv.id}):
        control = kb.controls.get(key)
        task = tasks.get(key)
        found = evidence.get((cv.id, key), {"state": "unverified", "evidence": []})
        controls.append(
            {
                "control": key,
                "title": control.title if control else key,
                "priority": control.priority if control else None,
                "status": tm.effective_status(task) if task else None,
                "required_since": iso(task.created_at) if task else None,
                "state": found["state"],
                "evidence": found["evidence"],
            }
        )
    summary = {state: 0 for state in vf.STATES}
    for row in controls:
        summary[row["state"]] += 1
    return {
        "component": cv.component.key,
        "version": cv.version,
        "summary": summary,
        "controls": controls,
    }


def record_manual_test(
    session: Session,
    component: str,
    version: str,
    control: str,
    *,
    passed: bool,
    notes: str | None,
    valid_days: int,
) -> dict[str, Any]:
    """``verification.record_manual_test`` with its answer ready for JSON."""
    out = vf.record_manual_test(
        session, component, version, control, passed=passed, notes=notes, valid_days=valid_days
    )
    return {"component": component, "version": version, **{k: iso(v) for k, v in out.items()}}
