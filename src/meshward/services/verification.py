"""Verification: scan results prove controls failed; clean scans by capable tools verify them.

* A result maps to controls by the KB's verification map: a control whose ``rule_patterns``
  match ``tool:rule-id`` takes it (rule ids override CWEs); else every control citing one of
  its CWEs. A result no control claims is *unmapped* and lands in the "review unmapped
  findings" control (``REVIEW_CONTROL``), never dropped.
* The results that count for a component version are those of each tool's effective scans:
  a ``replace`` scan supersedes the tool's earlier scans of that version, a ``merge`` scan adds
  to them. Suppressed results (SARIF suppressions, ``nosemgrep``) and gone ones never count.
* A control is *failed* while an open result maps to it (or an unexpired manual test failed);
  *verified* when a tool whose declared coverage (KB ``tools.yaml``) includes it scanned the
  version and found nothing for it, or a manual test passed; *partially verified* when the
  tools that scanned cover only some of its CWEs; *unverified* otherwise. A tool that cannot
  detect a weakness never counts as a pass.
* meshward's own SCA findings are results of the tool ``meshward`` whenever the version has an
  SBOM: open, in-triage and exploitable findings fail the dependency-tracking control.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import orjson
from sqlalchemy import Text, cast, delete, insert, literal, select
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError, NotFoundError
from meshward.formats.scans.interface import ScanFinding, ScanReport
from meshward.formats.scans.registry import read_scan
from meshward.kb.loader import KnowledgeBase
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services.scan_state import REVIEW_CONTROL, effective_scans
from meshward.store import audit
from meshward.store.bulk import bulk_insert
from meshward.store.models import ComponentVersion, Finding, SbomDocument
from meshward.store.scan_models import ControlVerification, ManualTest, Scan, ScanResult
from meshward.store.threat_models import ControlTask
from meshward.store.types import utcnow

SCA_TOOL = "meshward"
OPEN_FINDING_STATES = ("open", "in_triage", "exploitable")
POLICIES = ("replace", "merge")
STATES = ("verified", "partially_verified", "failed", "unverified")
MAX_EVIDENCE_IDS = 50


class ControlMapper:
    """Result -> controls, by rule-id pattern first, else by CWE; cached per distinct rule."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.by_cwe: dict[str, set[str]] = defaultdict(set)
        self.patterns: list[tuple[str, str]] = []
        for control in kb.controls.values():
            for cwe in control.verification.cwe:
                self.by_cwe[f"CWE-{cwe}"].add(control.id)
            for pattern in control.verification.rule_patterns:
                self.patterns.append((pattern.lower(), control.id))
        self._rule_cache: dict[str, tuple[str, ...]] = {}

    def controls_for(self, tool: str, rule_id: str, cwes: tuple[str, ...] | list[str]) -> list[str]:
        key = f"{tool}:{rule_id}".lower()
        by_rule = self._rule_cache.get(key)
        if by_rule is None:
            by_rule = tuple(sorted({c for p, c in self.patterns if fnmatchcase(key, p)}))
            self._rule_cache[key] = by_rule
        if by_rule:
            return list(by_rule)
        found: set[str] = set()
        for cwe in cwes:
            found |= self.by_cwe.get(cwe, set())
        return sorted(found)


@dataclass
class UploadResult:
    scan_id: int
    component: str
    version: str
    tool: str
    format: str
    unchanged: bool
    results: int = 0
    new: int = 0
    present: int = 0
    gone: int = 0
    suppressed: int = 0
    unmapped: int = 0
    failed_controls: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)


def upload_scan(
    session: Session,
    component: str,
    version: str,
    data: bytes,
    source: str,
    *,
    tool: str | None = None,
    policy: str = "replace",
    reopen_failed: bool = False,
) -> UploadResult:
    """Read, store and map a report; verification of the version is updated in the same
    transaction. The same file again for the same version changes nothing."""
    if policy not in POLICIES:
        raise MeshwardError(f"policy must be one of: {', '.join(POLICIES)}")
    report = read_scan(data, source, tool_hint=tool)
    cv = catalog.get_component_version(session, component, version)
    tool_name = (tool or report.tool or "unknown").lower()
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalars(
        select(Scan).where(
            Scan.component_version_id == cv.id, Scan.tool == tool_name, Scan.digest == digest
        )
    ).first()
    if existing is not None:
        return _upload_result(existing, component, version, unchanged=True)
    kb = tm.current_kb(session)
    # a merge scan covers part of what the tool scans (one module): comparing it with the
    # tool's previous scan would call everything outside that part "gone"
    previous = _previous_scan(session, cv, tool_name) if policy == "replace" else None
    previous_open: dict[str, int] = {}
    if previous is not None:
        previous_open = dict(
            session.execute(  # type: ignore[arg-type]
                select(ScanResult.fingerprint, ScanResult.id).where(
                    ScanResult.scan_id == previous.id, ScanResult.lifecycle != "gone"
                )
            ).all()
        )
    scan = Scan(
        component_version_id=cv.id,
        tool=tool_name,
        tool_version=report.tool_version,
        kind=report.kind,
        format=report.format,
        digest=digest,
        source=source[:1000],
        policy=policy,
        uploaded_by=audit.actor_of(session).name,
        result_count=len(report.results),
    )
    session.add(scan)
    session.flush()
    mapper = ControlMapper(kb)
    rows, gone, counts = _result_rows(scan, cv.id, report, mapper, previous_open)
    bulk_insert(session, ScanResult.__table__, RESULT_COLUMNS, rows)  # type: ignore[arg-type]
    _copy_gone(session, scan.id, cv.id, gone)
    scan.summary = counts
    result = _upload_result(scan, component, version, unchanged=False)
    tm.refresh(session, [cv.id], kb=kb)
    states = recompute(session, [cv.id], kb=kb)
    result.failed_controls = sorted(
        c for (v, c), s in states.items() if v == cv.id and s == "failed"
    )
    if reopen_failed:
        result.reopened = _reopen(session, cv.id, result.failed_controls, scan.id)
    audit.record(
        session,
        "scan.upload",
        "scan",
        f"{component}@{version} {tool_name} #{scan.id}",
        after={"format": report.format, "results": len(report.results), **counts},
    )
    session.flush()
    return result


def _upload_result(scan: Scan, component: str, version: str, *, unchanged: bool) -> UploadResult:
    counts = scan.summary
    return UploadResult(
        scan.id,
        component,
        version,
        scan.tool,
        scan.format,
        unchanged=unchanged,
        results=scan.result_count,
        new=counts.get("new", 0),
        present=counts.get("present", 0),
        gone=counts.get("gone", 0),
        suppressed=counts.get("suppressed", 0),
        unmapped=counts.get("unmapped", 0),
    )


RESULT_COLUMNS = (
    "scan_id",
    "component_version_id",
    "tool",
    "fingerprint",
    "rule_id",
    "rule_name",
    "severity",
    "message",
    "cwes",
    "location",
    "suppressed",
    "suppression",
    "controls",
    "unmapped",
    "lifecycle",
)
"""The order of a result row given to ``bulk_insert`` (JSON columns as JSON text)."""


def _result_rows(
    scan: Scan,
    cv_id: int,
    report: ScanReport,
    mapper: ControlMapper,
    previous_open: dict[str, int],
) -> tuple[list[tuple[Any, ...]], list[int], dict[str, int]]:
    """The report's rows, and the ids of the previous scan's results now gone."""
    rows: list[tuple[Any, ...]] = []
    counts = {"new": 0, "present": 0, "gone": 0, "suppressed": 0, "unmapped": 0}
    seen: set[str] = set()
    dumped: dict[tuple[str, ...], str] = {}  # a rule's CWEs and controls repeat: dump once
    for finding in report.results:
        if finding.fingerprint in seen:
            continue  # the same result twice in one report (SARIF runs overlap): once
        seen.add(finding.fingerprint)
        controls = mapper.controls_for(finding.tool, finding.rule_id, finding.cwes)
        lifecycle = "present" if finding.fingerprint in previous_open else "new"
        counts[lifecycle] += 1
        counts["suppressed"] += finding.suppressed
        counts["unmapped"] += not controls
        rows.append(_row(scan.id, cv_id, finding, controls, lifecycle, dumped))
    gone = sorted(i for fp, i in previous_open.items() if fp not in seen)
    counts["gone"] = len(gone)
    return rows, gone, counts


def _copy_gone(session: Session, scan_id: int, cv_id: int, gone: list[int]) -> None:
    """A result gone since the previous scan is kept as a row of this scan, copied in SQL."""
    copied = [
        c for c in RESULT_COLUMNS if c not in ("scan_id", "component_version_id", "lifecycle")
    ]
    for chunk in _chunks(gone):
        session.execute(
            insert(ScanResult).from_select(
                ["scan_id", "component_version_id", *copied, "lifecycle"],
                select(
                    literal(scan_id),
                    literal(cv_id),
                    *(getattr(ScanResult, c) for c in copied),
                    literal("gone"),
                )
                .where(ScanResult.id.in_(chunk))
                .order_by(ScanResult.id),
            )
        )


def _json(value: Any, cache: dict[tuple[str, ...], str]) -> str:
    key = tuple(value)
    text = cache.get(key)
    if text is None:
        text = cache[key] = orjson.dumps(value).decode()
    return text


def _row(
    scan_id: int,
    cv_id: int,
    finding: ScanFinding,
    controls: list[str],
    lifecycle: str,
    dumped: dict[tuple[str, ...], str],
) -> tuple[Any, ...]:
    loc = finding.location
    location: dict[str, Any] = {
        k: v
        for k, v in (
            ("uri", loc.uri),
            ("start_line", loc.start_line),
            ("end_line", loc.end_line),
            ("start_column", loc.start_column),
            ("url", loc.url),
            ("method", loc.method),
            ("param", loc.param),
        )
        if v is not None
    }
    if finding.package is not None:
        location["package"] = {
            k: v
            for k, v in (
                ("name", finding.package.name),
                ("version", finding.package.version),
                ("purl", finding.package.purl),
                ("vulnerability", finding.package.vulnerability_id),
                ("fixed_version", finding.package.fixed_version),
            )
            if v is not None
        }
    suppression: dict[str, Any] = {}
    if finding.suppression is not None:
        suppression = {
            "kind": finding.suppression.kind,
            "status": finding.suppression.status,
            "justification": finding.suppression.justification,
        }
    return (
        scan_id,
        cv_id,
        finding.tool,
        finding.fingerprint[:128],
        finding.rule_id[:500],
        finding.rule_name[:500] if finding.rule_name else None,
        finding.severity,
        finding.message,
        _json(finding.cwes, dumped),
        orjson.dumps(location).decode(),
        finding.suppressed,
        orjson.dumps(suppression).decode(),
        _json(controls, dumped),
        not controls,
        lifecycle,
    )


def _previous_scan(session: Session, cv: ComponentVersion, tool: str) -> Scan | None:
    """The tool's latest scan of this version, else of the newest earlier version."""
    query = (
        select(Scan)
        .join(ComponentVersion, ComponentVersion.id == Scan.component_version_id)
        .where(
            ComponentVersion.component_id == cv.component_id,
            ComponentVersion.id <= cv.id,
            Scan.tool == tool,
        )
        .order_by(ComponentVersion.id.desc(), Scan.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _reopen(session: Session, cv_id: int, failed: list[str], scan_id: int) -> list[str]:
    reopened = []
    for task in session.scalars(
        select(ControlTask).where(
            ControlTask.component_version_id == cv_id,
            ControlTask.control_key.in_(failed),
            ControlTask.status == "done",
        )
    ):
        task.status = "todo"
        task.reason = f"reopened: verification failed (scan #{scan_id})"
        task.decided_by = audit.actor_of(session).name
        task.decided_at = utcnow()
        reopened.append(task.control_key)
    session.flush()
    return sorted(reopened)


# ------------------------------------------------------------------------------ states


def recompute(
    session: Session, cv_ids: list[int], *, kb: KnowledgeBase | None = None
) -> dict[tuple[int, str], str]:
    """Verification state of every active control task of ``cv_ids``, written with evidence."""
    kb = kb or tm.current_kb(session)
    if not cv_ids:
        return {}
    now = utcnow()
    scans = effective_scans(session, cv_ids)
    scan_by_id = {s.id: s for group in scans.values() for s in group}
    failing: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    decoded: dict[str, list[str]] = {}
    for chunk in _chunks(sorted(scan_by_id)):
        for rid, sid, cv, controls, unmapped in session.execute(
            select(
                ScanResult.id,
                ScanResult.scan_id,
                ScanResult.component_version_id,
                cast(ScanResult.controls, Text),  # a rule's list repeats: decode it once
                ScanResult.unmapped,
            ).where(
                ScanResult.scan_id.in_(chunk),
                ScanResult.lifecycle != "gone",
                ScanResult.suppressed.is_(False),
            )
        ):
            listed = decoded.get(controls)
            if listed is None:
                listed = decoded[controls] = orjson.loads(controls)
            for control in [REVIEW_CONTROL] if unmapped else listed:
                failing[(cv, control)].append((sid, rid))
    sca = _sca_evidence(session, cv_ids, kb)
    for key, finding_ids in sca["failing"].items():
        failing[key].extend((0, fid) for fid in finding_ids)
    manual = _manual(session, cv_ids, now)
    tasks = session.execute(
        select(ControlTask.component_version_id, ControlTask.control_key).where(
            ControlTask.component_version_id.in_(cv_ids), ControlTask.active.is_(True)
        )
    ).all()
    states: dict[tuple[int, str], str] = {}
    rows: list[dict[str, Any]] = []
    keys = {(cv, c) for cv, c in tasks} | set(failing) | set(manual)
    for cv, control_key in sorted(keys):
        if cv not in cv_ids:
            continue
        evidence: list[dict[str, Any]] = []
        state = "unverified"
        test = manual.get((cv, control_key))
        if (cv, control_key) in failing:
            state = "failed"
            evidence += _failure_evidence(failing[(cv, control_key)], scan_by_id)
        elif test is not None and not test.passed:
            state = "failed"
        if test is not None:
            evidence.append(
                {
                    "kind": "manual",
                    "test_id": test.id,
                    "passed": test.passed,
                    "tester": test.tester,
                    "notes": test.notes,
                    "at": _iso(test.tested_at),
                    "expires_at": _iso(test.expires_at),
                }
            )
        if state == "unverified":
            if test is not None and test.passed:
                state = "verified"
            coverage = _coverage(kb, control_key, scans.get(cv, []), sca["scanned"].get(cv))
            if coverage is not None:
                covered, clean = coverage
                if state != "verified":
                    state = "verified" if covered == "full" else "partially_verified"
                evidence += clean
        states[(cv, control_key)] = state
        rows.append(
            {
                "component_version_id": cv,
                "control_key": control_key,
                "state": state,
                "evidence": evidence,
                "updated_at": now,
            }
        )
    _write_changed(session, cv_ids, rows)
    return states


def _write_changed(session: Session, cv_ids: list[int], rows: list[dict[str, Any]]) -> None:
    """Store the states that changed (a read usually changes none, so it writes nothing)."""
    stored: dict[tuple[int, str], tuple[int, str, Any]] = {}
    for chunk in _chunks(cv_ids):
        for rid, cv, control, state, evidence in session.execute(
            select(
                ControlVerification.id,
                ControlVerification.component_version_id,
                ControlVerification.control_key,
                ControlVerification.state,
                ControlVerification.evidence,
            ).where(ControlVerification.component_version_id.in_(chunk))
        ):
            stored[(cv, control)] = (rid, state, evidence)
    changed = []
    replaced: list[int] = []
    for row in rows:
        old = stored.pop((row["component_version_id"], row["control_key"]), None)
        if old is not None and old[1] == row["state"] and old[2] == row["evidence"]:
            continue
        if old is not None:
            replaced.append(old[0])
        changed.append(row)
    gone = sorted(replaced + [rid for rid, _state, _evidence in stored.values()])
    for chunk in _chunks(gone):
        session.execute(delete(ControlVerification).where(ControlVerification.id.in_(chunk)))
    if changed:
        session.execute(insert(ControlVerification), changed)


def _failure_evidence(
    hits: list[tuple[int, int]], scan_by_id: dict[int, Scan]
) -> list[dict[str, Any]]:
    by_scan: dict[int, list[int]] = defaultdict(list)
    for sid, rid in hits:
        by_scan[sid].append(rid)
    out = []
    for sid, ids in sorted(by_scan.items()):
        if sid == 0:
            out.append(
                {
                    "kind": "finding",
                    "tool": SCA_TOOL,
                    "finding_ids": sorted(ids)[:MAX_EVIDENCE_IDS],
                    "count": len(ids),
                }
            )
            continue
        scan = scan_by_id[sid]
        out.append(
            {
                "kind": "scan",
                "scan_id": sid,
                "tool": scan.tool,
                "result_ids": sorted(ids)[:MAX_EVIDENCE_IDS],
                "count": len(ids),
                "at": _iso(scan.uploaded_at),
            }
        )
    return out


def _coverage(
    kb: KnowledgeBase, control_key: str, scans: list[Scan], sbom_at: datetime | None
) -> tuple[str, list[dict[str, Any]]] | None:
    """("full" | "partial", clean-scan evidence) when some tool able to detect a failure of
    the control scanned the version; None when none could."""
    control = kb.controls.get(control_key)
    if control is None:
        return None
    wanted = set(control.verification.cwe)
    covered: set[int] = set()
    full = False
    evidence: list[dict[str, Any]] = []
    runs: list[tuple[str, int | None, datetime]] = [(s.tool, s.id, s.uploaded_at) for s in scans]
    if sbom_at is not None:
        runs.append((SCA_TOOL, None, sbom_at))
    for tool_name, scan_id, at in runs:
        tool = kb.tools.get(tool_name)
        if tool is None:
            continue
        if control_key in tool.controls:
            full = True
        elif wanted and wanted & set(tool.cwe):
            covered |= wanted & set(tool.cwe)
        else:
            continue
        evidence.append(
            {"kind": "clean_scan", "tool": tool_name, "scan_id": scan_id, "at": _iso(at)}
        )
    if full or (wanted and covered == wanted):
        return "full", evidence
    if covered:
        return "partial", evidence
    return None


def _sca_evidence(session: Session, cv_ids: list[int], kb: KnowledgeBase) -> dict[str, Any]:
    """meshward's own SCA: which versions it scanned (an SBOM, when), and which controls
    their open findings fail (by the ``meshward:<vulnerability>`` rule patterns)."""
    scanned: dict[int, datetime] = {}
    failing: dict[tuple[int, str], list[int]] = defaultdict(list)
    mapper = ControlMapper(kb)
    for chunk in _chunks(cv_ids):
        for cv, at in session.execute(
            select(SbomDocument.component_version_id, SbomDocument.uploaded_at).where(
                SbomDocument.component_version_id.in_(chunk), SbomDocument.current.is_(True)
            )
        ):
            scanned[cv] = at
        for fid, cv, vuln in session.execute(
            select(Finding.id, Finding.component_version_id, Finding.vulnerability).where(
                Finding.component_version_id.in_(chunk),
                Finding.active.is_(True),
                Finding.state.in_(OPEN_FINDING_STATES),
            )
        ):
            for control in mapper.controls_for(SCA_TOOL, vuln, ()):
                failing[(cv, control)].append(fid)
    return {"scanned": scanned, "failing": failing}


def _manual(
    session: Session, cv_ids: list[int], now: datetime
) -> dict[tuple[int, str], ManualTest]:
    """The latest unexpired manual test per version and control."""
    out: dict[tuple[int, str], ManualTest] = {}
    for chunk in _chunks(cv_ids):
        for test in session.scalars(
            select(ManualTest)
            .where(ManualTest.component_version_id.in_(chunk), ManualTest.expires_at > now)
            .order_by(ManualTest.tested_at, ManualTest.id)
        ):
            out[(test.component_version_id, test.control_key)] = test
    return out


def verification_states(session: Session, cv_ids: list[int]) -> dict[tuple[int, str], str]:
    """Fresh states (SCA findings change without an upload, manual tests expire)."""
    return recompute(session, cv_ids)


def record_manual_test(
    session: Session,
    component: str,
    version: str,
    control_key: str,
    *,
    passed: bool,
    notes: str | None,
    valid_days: int = 180,
) -> dict[str, Any]:
    cv = catalog.get_component_version(session, component, version)
    kb = tm.current_kb(session)
    if control_key not in kb.controls:
        raise NotFoundError(f"no control {control_key} in the KB")
    if not 1 <= valid_days <= 3650:
        raise MeshwardError("a manual test is valid for 1 to 3650 days")
    now = utcnow()
    test = ManualTest(
        component_version_id=cv.id,
        control_key=control_key,
        passed=passed,
        notes=notes,
        tester=audit.actor_of(session).name,
        tested_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    session.add(test)
    session.flush()
    audit.record(
        session,
        "manual_test.record",
        "manual_test",
        f"{component}@{version} {control_key}",
        after={"passed": passed, "notes": notes, "expires_at": test.expires_at},
    )
    state = recompute(session, [cv.id], kb=kb).get((cv.id, control_key), "unverified")
    return {"control": control_key, "passed": passed, "state": state, "expires_at": test.expires_at}


def control_evidence(session: Session, cv_ids: list[int]) -> dict[tuple[int, str], dict[str, Any]]:
    """State and evidence per (version, control), freshly recomputed."""
    recompute(session, cv_ids)
    out = {}
    for chunk in _chunks(cv_ids):
        for row in session.scalars(
            select(ControlVerification).where(ControlVerification.component_version_id.in_(chunk))
        ):
            out[(row.component_version_id, row.control_key)] = {
                "state": row.state,
                "evidence": list(row.evidence),
            }
    return out


def list_scan_results(
    session: Session,
    component: str,
    version: str,
    *,
    include_gone: bool = False,
    limit: int = 500,
) -> list[dict[str, Any]]:
    cv = catalog.get_component_version(session, component, version)
    scans = effective_scans(session, [cv.id]).get(cv.id, [])
    if not scans:
        return []
    query = select(ScanResult).where(ScanResult.scan_id.in_([s.id for s in scans]))
    if not include_gone:
        query = query.where(ScanResult.lifecycle != "gone")
    rows = session.scalars(query.order_by(ScanResult.id).limit(limit)).all()
    return [
        {
            "id": r.id,
            "scan_id": r.scan_id,
            "tool": r.tool,
            "rule_id": r.rule_id,
            "severity": r.severity,
            "cwes": list(r.cwes),
            "location": dict(r.location),
            "message": r.message,
            "controls": [REVIEW_CONTROL] if r.unmapped else list(r.controls),
            "lifecycle": r.lifecycle,
            "suppressed": r.suppressed,
            "suppression": dict(r.suppression) or None,
            "fingerprint": r.fingerprint,
        }
        for r in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
