"""Threat models to and from the Open Threat Model format, so they move between meshward,
IriusRisk and Threat Dragon.

Export: an application version becomes one OTM project: its services are components in trust
zones (the survey's zone, ``internet`` for internet-facing services), its API links dataflows,
and each service's threats carry their mitigations with OTM states (``implemented`` for done,
``required`` for to do, ``not-applicable``, ``rejected`` for risk accepted). meshward ids are
kept in attributes so the same file imports back.

Import: components match catalog components by the ``meshward_component`` attribute, else by
name; mitigations match KB controls by id. A mitigation's state becomes the task's status only
where the task is still open (todo, in progress): a decision made in meshward is never
overwritten, it is reported as a conflict. Unknown components, threats and mitigations are
reported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.formats.otm import OTM_VERSION, read_otm
from meshward.services import threat_models as tm
from meshward.services.model_facts import api_links
from meshward.store import audit
from meshward.store.models import Component, ComponentVersion
from meshward.store.threat_models import ControlTask
from meshward.store.types import utcnow

STATE_OF_STATUS = {
    "done": "implemented",
    "todo": "required",
    "in_progress": "required",
    "not_applicable": "not-applicable",
    "risk_accepted": "rejected",
}
STATUS_OF_STATE = {
    "implemented": "done",
    "not-applicable": "not_applicable",
    "rejected": "risk_accepted",
}
REDUCTION = {"critical": 90, "high": 70, "medium": 50, "low": 30}
STRIDE_TITLE = {
    "spoofing": "Spoofing",
    "tampering": "Tampering",
    "repudiation": "Repudiation",
    "information_disclosure": "Information Disclosure",
    "denial_of_service": "Denial of Service",
    "elevation_of_privilege": "Elevation of Privilege",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def export_otm(session: Session, application: str, version: str | None = None) -> dict[str, Any]:
    app, av, members = tm.app_members(session, application, version)
    cv_ids = sorted(set(members.values()))
    kb = tm.current_kb(session)
    tm.refresh(session, cv_ids, kb=kb)
    comps = {c.id: c for c in session.scalars(select(Component).where(Component.id.in_(members)))}
    versions = {
        v.id: v
        for v in session.scalars(select(ComponentVersion).where(ComponentVersion.id.in_(cv_ids)))
    }
    zones: dict[str, dict[str, Any]] = {}
    components: list[dict[str, Any]] = []
    used_threats: set[str] = set()
    used_controls: set[str] = set()
    link_threats: dict[tuple[int, int], list[dict[str, Any]]] = {}
    models = {
        cv: tm.threat_model(session, comps[c].key, versions[cv].version)
        for c, cv in members.items()
    }
    ids = {c: _slug(comps[c].key) for c in members}
    keys_to_id = {comps[c].key: c for c in members}
    for comp_id, cv_id in sorted(members.items(), key=lambda kv: comps[kv[0]].key):
        model = models[cv_id]
        survey = tm.survey_view(session, comps[comp_id].key, versions[cv_id].version)
        answers = {q["id"]: q["answer"] for q in survey["questions"]}
        zone = answers.get("zone") or (
            "internet" if answers.get("exposure") == "internet" else "internal"
        )
        zones.setdefault(
            str(zone),
            {
                "id": _slug(str(zone)) or "internal",
                "name": str(zone),
                "risk": {"trustRating": 10 if zone == "internet" else 70},
            },
        )
        tasks = {t["control"]: t for t in model["controls"] if t["active"]}
        threats = []
        for threat in model["threats"]:
            mitigations = [
                {"mitigation": c.id, "state": STATE_OF_STATUS[tasks[c.id]["effective_status"]]}
                for c in kb.controls_by_threat.get(threat["threat"], [])
                if c.id in tasks
            ]
            used_threats.add(threat["threat"])
            used_controls.update(m["mitigation"] for m in mitigations)
            entry = {
                "threat": threat["threat"],
                "state": "mitigated"
                if mitigations
                and all(m["state"] in ("implemented", "not-applicable") for m in mitigations)
                else "exposed",
                "mitigations": mitigations,
            }
            if threat["role"] == "consumer" and threat["peer"] in keys_to_id:
                link_threats.setdefault((comp_id, keys_to_id[threat["peer"]]), []).append(entry)
            elif threat["role"] == "service":
                threats.append(entry)
        components.append(
            {
                "id": ids[comp_id],
                "name": comps[comp_id].title or comps[comp_id].name,
                "type": comps[comp_id].kind or "service",
                "parent": {"trustZone": zones[str(zone)]["id"]},
                "tags": sorted(set(survey["facts"].get("sbom.languages", []) or [])),
                "threats": threats,
                "attributes": {
                    "meshward_component": comps[comp_id].key,
                    "meshward_version": versions[cv_id].version,
                },
            }
        )
    dataflows = []
    keys = {c.key: c.id for c in comps.values()}
    for consumer, provider, api, *_ in api_links(session, keys):
        if consumer in members and provider in members and consumer != provider:
            dataflows.append(
                {
                    "id": _slug(f"{comps[consumer].key}-{api}-{comps[provider].key}"),
                    "name": api,
                    "source": ids[consumer],
                    "destination": ids[provider],
                    "bidirectional": False,
                    "threats": link_threats.get((consumer, provider), []),
                }
            )
    return {
        "otmVersion": OTM_VERSION,
        "project": {
            "name": app.title or app.name,
            "id": _slug(app.key),
            "description": app.description,
            "owner": app.owner,
            "attributes": {
                "meshward_application": app.key,
                "meshward_version": av.version,
                "kb_version": kb.version,
            },
        },
        "trustZones": sorted(zones.values(), key=lambda z: z["id"]),
        "components": components,
        "dataflows": dataflows,
        "threats": [
            {
                "id": key,
                "name": kb.threats[key].title,
                "description": kb.threats[key].description,
                "categories": [STRIDE_TITLE[kb.threats[key].stride]],
                "cwes": [f"CWE-{c}" for c in kb.threats[key].cwe],
                "risk": {
                    "likelihood": kb.threats[key].likelihood * 20,
                    "impact": kb.threats[key].impact * 20,
                },
            }
            for key in sorted(used_threats)
            if key in kb.threats
        ],
        "mitigations": [
            {
                "id": key,
                "name": kb.controls[key].title,
                "description": kb.controls[key].description,
                "riskReduction": REDUCTION[kb.controls[key].priority],
                "attributes": {"priority": kb.controls[key].priority},
            }
            for key in sorted(used_controls)
            if key in kb.controls
        ],
    }


@dataclass
class OtmImport:
    project: str
    components_matched: list[str] = field(default_factory=list)
    tasks_updated: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unknown_components: list[str] = field(default_factory=list)
    unknown_threats: list[str] = field(default_factory=list)
    unknown_mitigations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_otm(session: Session, data: bytes, source: str) -> OtmImport:
    document = read_otm(data, source)
    kb = tm.current_kb(session)
    result = OtmImport(document.project_name)
    by_key = {c.key: c for c in session.scalars(select(Component))}
    by_name: dict[str, list[Component]] = {}
    for known in by_key.values():
        by_name.setdefault(known.name.lower(), []).append(known)
        if known.title:
            by_name.setdefault(known.title.lower(), []).append(known)
    actor = audit.actor_of(session).name
    for item in document.components:
        key = item.attributes.get("meshward_component")
        comp: Component | None = by_key.get(str(key)) if key else None
        if comp is None:
            named = by_name.get(item.name.lower(), [])
            comp = named[0] if len(named) == 1 else None
        if comp is None:
            result.unknown_components.append(item.name)
            continue
        version = item.attributes.get("meshward_version")
        query = select(ComponentVersion).where(ComponentVersion.component_id == comp.id)
        if version:
            query = query.where(ComponentVersion.version == str(version))
        cv = session.scalars(query.order_by(ComponentVersion.id.desc()).limit(1)).first()
        if cv is None:
            result.unknown_components.append(f"{item.name}@{version}")
            continue
        result.components_matched.append(f"{comp.key}@{cv.version}")
        tm.refresh(session, [cv.id], kb=kb)
        tasks = {
            t.control_key: t
            for t in session.scalars(
                select(ControlTask).where(
                    ControlTask.component_version_id == cv.id, ControlTask.active.is_(True)
                )
            )
        }
        for ref in item.threats:
            if ref.threat not in kb.threats:
                result.unknown_threats.append(ref.threat)
            for mitigation, state in ref.mitigations:
                task = tasks.get(mitigation)
                if task is None:
                    if mitigation not in kb.controls:
                        result.unknown_mitigations.append(mitigation)
                    continue
                status = STATUS_OF_STATE.get(state)
                if status is None or status == task.status or task.platform_id is not None:
                    continue  # a platform's "implemented" (as exported) is not a decision
                label = f"{comp.key}@{cv.version}:{mitigation}"
                if task.status not in ("todo", "in_progress"):
                    result.conflicts.append(f"{label} is {task.status} here, {state} in the file")
                    continue
                task.status = status
                task.reason = f"imported from OTM {source}" if status != "done" else task.reason
                task.decided_by, task.decided_at = actor, utcnow()
                result.tasks_updated.append(f"{label} -> {status}")
    for name in ("unknown_threats", "unknown_mitigations", "tasks_updated", "conflicts"):
        setattr(result, name, sorted(set(getattr(result, name))))
    session.flush()
    return result
