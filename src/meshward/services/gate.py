"""The pipeline gate: does a component version meet a policy? Every broken rule says what
broke it, so a CI job can fail with reasons (``formats.junit``, ``formats.sarif_out``).

A policy is YAML (or JSON), validated strictly: an unknown key is a typo that would silently
loosen the gate, so it is refused. Choices a policy cannot express, and why:

* *Unanalysed* findings are the open and in-triage ones (active): ``exploitable`` is a
  verdict, ``not_affected`` / ``false_positive`` / ``fixed`` settle a finding.
* Control rules skip tasks decided ``not_applicable`` or ``risk_accepted``: that is a
  recorded decision, and the gate enforces decisions, it does not overrule them. A control
  that fails without a task (a result mapped to a control the model does not require) still
  breaks ``fail_on_failed``: the weakness is there all the same.
* The age of an unverified control counts from when this version's task was created:
  verification is per build, and a new build gets its own window to be scanned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.formats.safe_yaml import load_config_document
from meshward.limits import Limits
from meshward.services import catalog
from meshward.services.scan_state import effective_scans
from meshward.services.scan_views import iso, verification_view
from meshward.services.verification import OPEN_FINDING_STATES, SCA_TOOL
from meshward.store.models import Finding, KevEntry, Package, SbomDocument
from meshward.store.scan_models import ScanResult
from meshward.store.types import utcnow

Severity = Literal["critical", "high", "medium", "low"]
Priority = Literal["critical", "high", "medium", "low"]
UNANALYSED = tuple(s for s in OPEN_FINDING_STATES if s != "exploitable")
DECIDED = ("not_applicable", "risk_accepted")
MAX_ITEMS = 1000
"""Broken items listed per rule; ``actual`` still counts them all."""
MAX_LOCATIONS = 10
"""Per item (GitHub code scanning shows at most ten)."""
POLICY_LIMITS = Limits(max_bytes=1024 * 1024, max_depth=16)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingsPolicy(_Strict):
    max_unanalysed: dict[Severity, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    """Open / in-triage findings allowed per severity."""
    fail_on_kev: bool = False
    """Any unanalysed finding of a vulnerability in CISA's KEV catalog breaks the gate."""


class ControlsPolicy(_Strict):
    fail_on_failed: list[Priority] = Field(default_factory=list)
    max_unverified_age_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    require_done: list[Priority] = Field(default_factory=list)


class ScansPolicy(_Strict):
    require_tools: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )


class GatePolicy(_Strict):
    findings: FindingsPolicy = Field(default_factory=FindingsPolicy)
    controls: ControlsPolicy = Field(default_factory=ControlsPolicy)
    scans: ScansPolicy = Field(default_factory=ScansPolicy)


def read_policy(data: bytes, source: str) -> GatePolicy:
    """A policy file, or InputError naming the file and the offending key."""
    root = load_config_document(data, source, POLICY_LIMITS, empty={})
    if not isinstance(root, dict):
        raise InputError(source, None, "a policy is a mapping (findings, controls, scans)")
    try:
        return GatePolicy.model_validate(root)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(p) for p in error["loc"]) or None
        more = len(exc.errors()) - 1
        message = error["msg"] + (f" (and {more} more)" if more else "")
        raise InputError(source, place, message) from None


@dataclass
class BrokenItem:
    kind: str
    """finding, control or tool."""
    id: str
    message: str
    severity: str | None = None
    locations: list[dict[str, Any]] = field(default_factory=list)
    """``{"uri", "start_line"}`` where the item is in the code, when known."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleOutcome:
    id: str
    """``findings.max_unanalysed.critical``, ``controls.fail_on_failed`` ..."""
    description: str
    passed: bool
    limit: Any
    actual: int
    broken: list[BrokenItem] = field(default_factory=list)


@dataclass
class GateVerdict:
    component: str
    version: str
    passed: bool
    evaluated_at: str
    rules: list[RuleOutcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _outcome(rule: str, description: str, limit: Any, broken: list[BrokenItem]) -> RuleOutcome:
    return RuleOutcome(rule, description, not broken, limit, len(broken), broken[:MAX_ITEMS])


def evaluate_gate(
    session: Session, component: str, version: str, policy: GatePolicy
) -> GateVerdict:
    """Each rule the policy sets, checked against the version's current state."""
    cv = catalog.get_component_version(session, component, version)
    rules: list[RuleOutcome] = []
    if policy.findings.max_unanalysed or policy.findings.fail_on_kev:
        rules += _finding_rules(session, cv.id, policy.findings)
    if policy.controls != ControlsPolicy():
        view = verification_view(session, component, version)
        rules += _control_rules(session, view["controls"], policy.controls)
    if policy.scans.require_tools:
        rules.append(_tool_rule(session, cv.id, policy.scans.require_tools))
    return GateVerdict(
        component=cv.component.key,
        version=cv.version,
        passed=all(r.passed for r in rules),
        evaluated_at=iso(utcnow()),
        rules=rules,
    )


def _finding_rules(session: Session, cv_id: int, policy: FindingsPolicy) -> list[RuleOutcome]:
    rows = session.execute(
        select(
            Finding.id,
            Finding.vulnerability,
            Finding.severity,
            Finding.state,
            Package.purl,
            KevEntry.cve,
        )
        .join(Package, Package.id == Finding.package_id)
        .outerjoin(KevEntry, KevEntry.cve == Finding.vulnerability)
        .where(
            Finding.component_version_id == cv_id,
            Finding.active.is_(True),
            Finding.state.in_(UNANALYSED),
        )
        .order_by(Finding.id)
    ).all()
    items = [
        (
            BrokenItem(
                kind="finding",
                id=str(fid),
                message=f"{vuln} in {purl}: {severity or 'unknown severity'}, {state}"
                + (", known exploited (KEV)" if kev else ""),
                severity=severity,
                details={
                    "finding_id": fid,
                    "vulnerability": vuln,
                    "purl": purl,
                    "state": state,
                    "kev": kev is not None,
                },
            ),
            kev is not None,
        )
        for fid, vuln, severity, state, purl, kev in rows
    ]
    out = []
    for severity, limit in sorted(policy.max_unanalysed.items(), key=lambda kv: _rank(kv[0])):
        hits = [item for item, _ in items if item.severity == severity]
        outcome = _outcome(
            f"findings.max_unanalysed.{severity}",
            f"at most {limit} unanalysed {severity} finding(s)",
            limit,
            hits if len(hits) > limit else [],
        )
        outcome.actual = len(hits)
        out.append(outcome)
    if policy.fail_on_kev:
        out.append(
            _outcome(
                "findings.fail_on_kev",
                "no unanalysed finding of a known exploited vulnerability (CISA KEV)",
                0,
                [item for item, kev in items if kev],
            )
        )
    return out


def _rank(severity: str) -> int:
    return ("critical", "high", "medium", "low").index(severity)


def _control_rules(
    session: Session, controls: list[dict[str, Any]], policy: ControlsPolicy
) -> list[RuleOutcome]:
    decided = [c for c in controls if c["status"] not in DECIDED]
    out = []
    if policy.fail_on_failed:
        failed = [
            c for c in decided if c["state"] == "failed" and c["priority"] in policy.fail_on_failed
        ]
        out.append(
            _outcome(
                "controls.fail_on_failed",
                f"no failed control of priority {', '.join(policy.fail_on_failed)}",
                policy.fail_on_failed,
                _failed_items(session, failed),
            )
        )
    if policy.max_unverified_age_days is not None:
        days = policy.max_unverified_age_days
        cutoff = utcnow() - timedelta(days=days)
        stale = [
            c
            for c in decided
            if c["status"] is not None
            and c["state"] == "unverified"
            and datetime.fromisoformat(c["required_since"]) < cutoff
        ]
        out.append(
            _outcome(
                "controls.max_unverified_age_days",
                f"no required control unverified for more than {days} day(s)",
                days,
                [
                    BrokenItem(
                        kind="control",
                        id=c["control"],
                        message=f"{c['control']} ({c['priority']}) unverified since "
                        f"{c['required_since']}: no capable tool scanned it clean and no "
                        "manual test passed",
                        severity=c["priority"],
                        details={"required_since": c["required_since"], "status": c["status"]},
                    )
                    for c in stale
                ],
            )
        )
    if policy.require_done:
        undone = [
            c
            for c in decided
            if c["status"] is not None
            and c["status"] != "done"
            and c["priority"] in policy.require_done
        ]
        out.append(
            _outcome(
                "controls.require_done",
                f"every control of priority {', '.join(policy.require_done)} done",
                policy.require_done,
                [
                    BrokenItem(
                        kind="control",
                        id=c["control"],
                        message=f"{c['control']} ({c['priority']}) is {c['status']}: {c['title']}",
                        severity=c["priority"],
                        details={"status": c["status"], "state": c["state"]},
                    )
                    for c in undone
                ],
            )
        )
    return out


def _failed_items(session: Session, failed: list[dict[str, Any]]) -> list[BrokenItem]:
    """A failed control, with the results that fail it and where they are in the code."""
    result_ids = {
        rid for c in failed for e in c["evidence"] if e["kind"] == "scan" for rid in e["result_ids"]
    }
    results: dict[int, tuple[str, str, dict[str, Any]]] = {}
    for start in range(0, len(result_ids), 900):
        chunk = sorted(result_ids)[start : start + 900]
        for rid, tool, rule, location in session.execute(
            select(ScanResult.id, ScanResult.tool, ScanResult.rule_id, ScanResult.location).where(
                ScanResult.id.in_(chunk)
            )
        ):
            results[rid] = (tool, rule, dict(location))
    items = []
    for c in failed:
        reasons: list[str] = []
        locations: list[dict[str, Any]] = []
        for e in c["evidence"]:
            if e["kind"] == "scan":
                for rid in e["result_ids"]:
                    tool, rule, loc = results[rid]
                    where = _where(loc)
                    reasons.append(f"{tool} {rule}" + (f" at {where}" if where else ""))
                    if loc.get("uri") and len(locations) < MAX_LOCATIONS:
                        locations.append({"uri": loc["uri"], "start_line": loc.get("start_line")})
                hidden = e["count"] - len(e["result_ids"])
                if hidden > 0:
                    reasons.append(f"{hidden} more from {e['tool']}")
            elif e["kind"] == "finding":
                reasons.append(f"{e['count']} open dependency finding(s)")
            elif e["kind"] == "manual" and not e["passed"]:
                reasons.append(f"manual test failed ({e['tester']}: {e['notes'] or 'no notes'})")
        shown = "; ".join(reasons[:5]) + (f"; {len(reasons) - 5} more" if len(reasons) > 5 else "")
        items.append(
            BrokenItem(
                kind="control",
                id=c["control"],
                message=f"{c['control']} ({c['priority']}) failed: {shown}",
                severity=c["priority"],
                locations=locations,
                details={"status": c["status"], "evidence": c["evidence"]},
            )
        )
    return items


def _where(location: dict[str, Any]) -> str | None:
    if location.get("uri"):
        line = location.get("start_line")
        return f"{location['uri']}:{line}" if line else str(location["uri"])
    if location.get("url"):
        return f"{location.get('method') or 'GET'} {location['url']}"
    return None


def _tool_rule(session: Session, cv_id: int, tools: list[str]) -> RuleOutcome:
    scanned = {s.tool for s in effective_scans(session, [cv_id]).get(cv_id, [])}
    has_sbom = session.scalar(
        select(SbomDocument.id).where(
            SbomDocument.component_version_id == cv_id, SbomDocument.current.is_(True)
        )
    )
    if has_sbom is not None:
        scanned.add(SCA_TOOL)
    missing = [t for t in dict.fromkeys(t.lower() for t in tools) if t not in scanned]
    return _outcome(
        "scans.require_tools",
        f"scanned by {', '.join(tools)}",
        tools,
        [
            BrokenItem(
                kind="tool",
                id=t,
                message=f"no {t} scan of this version"
                + (" (an SBOM is meshward's own scan)" if t == SCA_TOOL else ""),
            )
            for t in missing
        ],
    )
