"""Threat risk (inherent, current, projected) rolled up to services and applications, and the
compliance view of an application.

Per threat, inherent risk is likelihood × impact (1–25). Its controls are the active tasks
of the component version that mitigate it. Each control earns credit: done and verified 1,
done but not (yet) verified 0.5, done but failing verification 0, anything else 0; not
applicable controls leave the count. Current risk is inherent × (1 − 0.8 × credit / controls):
even every control done and verified leaves a fifth of the risk, because controls reduce
likelihood, they do not remove the threat. Projected risk counts every control still to do
(todo, in progress) as done and verified; risk accepted controls never earn credit. A threat
with no control keeps its inherent risk in all three. Service figures are sums over its
threats; application figures are sums over the services of its latest version.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.errors import NotFoundError
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.store.models import Component, ComponentVersion
from meshward.store.threat_models import ControlTask, ModelThreat

RESIDUAL = 0.2
UNVERIFIED_CREDIT = 0.5


def control_credit(status: str, verification: str | None) -> float:
    if status != "done":
        return 0.0
    if verification == "failed":
        return 0.0
    if verification in ("verified",):
        return 1.0
    if verification == "partially_verified":
        return 0.75
    return UNVERIFIED_CREDIT


@dataclass
class ThreatRisk:
    threat: str
    role: str
    peer: int
    inherent: float
    current: float
    projected: float
    controls: list[str] = field(default_factory=list)


@dataclass
class ServiceRisk:
    component: str
    version: str
    inherent: float = 0.0
    current: float = 0.0
    projected: float = 0.0
    threats: list[ThreatRisk] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "version": self.version,
            "threats": len(self.threats),
            "inherent": round(self.inherent, 1),
            "current": round(self.current, 1),
            "projected": round(self.projected, 1),
        }


def service_risks(
    session: Session,
    cv_ids: list[int],
    verification: dict[tuple[int, str], str] | None = None,
) -> dict[int, ServiceRisk]:
    """Risk of each component version (refreshed first), one pass over threats and tasks."""
    kb = tm.current_kb(session)
    tm.refresh(session, cv_ids, kb=kb)
    if verification is None:
        from meshward.services.verification import verification_states

        verification = verification_states(session, cv_ids)
    names: dict[int, tuple[str, str]] = {}
    tasks: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    threats: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(cv_ids):
        for cv_id, key, version in session.execute(
            select(ComponentVersion.id, Component.key, ComponentVersion.version)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(ComponentVersion.id.in_(chunk))
        ):
            names[cv_id] = (key, version)
        for cv_id, control, status, platform in session.execute(
            select(
                ControlTask.component_version_id,
                ControlTask.control_key,
                ControlTask.status,
                ControlTask.platform_id,
            ).where(ControlTask.component_version_id.in_(chunk), ControlTask.active.is_(True))
        ):
            state = verification.get((cv_id, control), "unverified")
            # a covering platform makes a control done (tm.effective_status)
            tasks[cv_id][control] = ("done" if platform is not None else status, state)
        for row in session.execute(
            select(
                ModelThreat.component_version_id,
                ModelThreat.threat_key,
                ModelThreat.role,
                ModelThreat.peer_component_id,
                ModelThreat.likelihood,
                ModelThreat.impact,
            ).where(ModelThreat.component_version_id.in_(chunk), ModelThreat.active.is_(True))
        ):
            threats[row.component_version_id].append(row)
    out: dict[int, ServiceRisk] = {}
    for cv_id in cv_ids:
        key, version = names[cv_id]
        risk = ServiceRisk(key, version)
        for row in threats[cv_id]:
            inherent = float(row.likelihood * row.impact)
            mine = tasks[cv_id]
            controls = [
                c.id
                for c in kb.controls_by_threat.get(row.threat_key, [])
                if c.id in mine and mine[c.id][0] != "not_applicable"
            ]
            if controls:
                now = sum(control_credit(*mine[c]) for c in controls) / len(controls)
                planned = sum(
                    1.0 if mine[c][0] in ("todo", "in_progress") else control_credit(*mine[c])
                    for c in controls
                ) / len(controls)
                current = inherent * (1 - (1 - RESIDUAL) * now)
                projected = inherent * (1 - (1 - RESIDUAL) * planned)
            else:
                current = projected = inherent
            risk.threats.append(
                ThreatRisk(
                    row.threat_key,
                    row.role,
                    row.peer_component_id,
                    inherent,
                    round(current, 2),
                    round(projected, 2),
                    controls,
                )
            )
            risk.inherent += inherent
            risk.current += current
            risk.projected += projected
        out[cv_id] = risk
    return out


def application_risk(session: Session, application: str) -> dict[str, Any]:
    app, av, members = tm.app_members(session, application)
    risks = service_risks(session, sorted(set(members.values())))
    services = sorted((r.totals() for r in risks.values()), key=lambda r: -r["current"])
    return {
        "application": app.key,
        "version": av.version,
        "inherent": round(sum(r.inherent for r in risks.values()), 1),
        "current": round(sum(r.current for r in risks.values()), 1),
        "projected": round(sum(r.projected for r in risks.values()), 1),
        "services": services,
    }


def component_risk(session: Session, component: str, version: str) -> dict[str, Any]:
    cv = catalog.get_component_version(session, component, version)
    risk = service_risks(session, [cv.id])[cv.id]
    names = {a: b for a, b in session.execute(select(Component.id, Component.key))}
    kb = tm.current_kb(session)
    return {
        **risk.totals(),
        "by_threat": [
            {
                "threat": t.threat,
                "title": kb.threats[t.threat].title if t.threat in kb.threats else t.threat,
                "role": t.role,
                "peer": names.get(t.peer) if t.peer else None,
                "inherent": t.inherent,
                "current": t.current,
                "projected": t.projected,
                "controls": t.controls,
            }
            for t in sorted(risk.threats, key=lambda t: (-t.current, t.threat))
        ],
    }


def compliance_report(session: Session, application: str, standard: str) -> dict[str, Any]:
    """Per requirement of ``standard``: the controls that serve it in this application's
    services, and how many of those tasks are done and verified."""
    from meshward.kb.schema import STANDARD_TITLES
    from meshward.services.verification import verification_states

    if standard not in STANDARD_TITLES:
        raise NotFoundError(
            f"unknown standard {standard!r}; known: {', '.join(sorted(STANDARD_TITLES))}"
        )
    app, av, members = tm.app_members(session, application)
    cv_ids = sorted(set(members.values()))
    kb = tm.current_kb(session)
    tm.refresh(session, cv_ids, kb=kb)
    verification = verification_states(session, cv_ids)
    names = {
        cv: key
        for cv, key in session.execute(
            select(ComponentVersion.id, Component.key)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(ComponentVersion.id.in_(cv_ids))
        )
    }
    requirements: dict[str, dict[str, Any]] = {}
    tasks = session.scalars(
        select(ControlTask).where(
            ControlTask.component_version_id.in_(cv_ids), ControlTask.active.is_(True)
        )
    ).all()
    for task in tasks:
        control = kb.controls.get(task.control_key)
        if control is None:
            continue
        for ref in control.compliance.get(standard, []):  # type: ignore[call-overload]
            entry = requirements.setdefault(
                ref,
                {
                    "requirement": ref,
                    "controls": set(),
                    "tasks": 0,
                    "done": 0,
                    "verified": 0,
                    "open": [],
                },
            )
            entry["controls"].add(control.id)
            entry["tasks"] += 1
            status = tm.effective_status(task)
            state = verification.get((task.component_version_id, task.control_key))
            if status == "done":
                entry["done"] += 1
                if state == "verified":
                    entry["verified"] += 1
            elif status != "not_applicable":
                entry["open"].append(f"{names[task.component_version_id]}:{control.id}")
    rows = []
    for ref in sorted(requirements, key=_requirement_order):
        entry = requirements[ref]
        rows.append({**entry, "controls": sorted(entry["controls"]), "open": sorted(entry["open"])})
    return {
        "application": app.key,
        "version": av.version,
        "standard": standard,
        "title": STANDARD_TITLES[standard],
        "requirements": rows,
        "tasks": sum(r["tasks"] for r in rows),
        "done": sum(r["done"] for r in rows),
        "verified": sum(r["verified"] for r in rows),
    }


def _requirement_order(ref: str) -> tuple[Any, ...]:
    parts = []
    for piece in ref.replace("(", ".").replace(")", "").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
