"""Read-side views of threat modelling for the CLI and the API: the KB as a listing and as one
entry, control tasks beside their verification evidence, platforms as a caller may see them,
and which directory ``kb validate`` checks.

They live apart from ``threat_models`` so that module stays the one place where models are
evaluated and decisions written; everything here only reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.errors import InputError, NotFoundError
from meshward.kb.loader import KnowledgeBase, load_kb
from meshward.kb.schema import STANDARD_TITLES
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.store.models import Component, ComponentVersion


def kb_listing(kb: KnowledgeBase) -> dict[str, Any]:
    """Every threat and control with the ids people cross-reference (STRIDE, CWE, CAPEC,
    ASVS, compliance), the KB version and its changelog."""
    return {
        "version": kb.version,
        "title": kb.title,
        "changelog": [entry.model_dump(mode="json") for entry in kb.changelog],
        "questions": len(kb.questions),
        "threats": [
            {
                "id": t.id,
                "title": t.title,
                "stride": t.stride,
                "scope": t.scope,
                "cwe": [f"CWE-{c}" for c in t.cwe],
                "capec": [f"CAPEC-{c}" for c in t.capec],
                "likelihood": t.likelihood,
                "impact": t.impact,
                "controls": [c.id for c in kb.controls_by_threat.get(t.id, [])],
            }
            for t in sorted(kb.threats.values(), key=lambda t: t.id)
        ],
        "controls": [
            {
                "id": c.id,
                "title": c.title,
                "priority": c.priority,
                "mitigates": list(c.mitigates),
                "cwe": [f"CWE-{n}" for n in c.verification.cwe],
                "asvs": list(c.asvs),
                "compliance": {k: list(v) for k, v in c.compliance.items()},
                "platform_capability": c.platform_capability,
            }
            for c in sorted(kb.controls.values(), key=lambda c: c.id)
        ],
    }


def threat_entry(kb: KnowledgeBase, key: str) -> dict[str, Any]:
    threat = kb.threats.get(key)
    if threat is None:
        raise NotFoundError(f"no threat {key} in KB {kb.version}")
    return {
        "kb_version": kb.version,
        **threat.model_dump(mode="json", exclude_none=True),
        "controls": [
            {"id": c.id, "title": c.title, "priority": c.priority}
            for c in kb.controls_by_threat.get(key, [])
        ],
    }


def control_entry(
    kb: KnowledgeBase, key: str, *, language: str | None = None, framework: str | None = None
) -> dict[str, Any]:
    """One control as the KB holds it; code samples narrowed to a language or framework and
    company-approved ones first, because those are what a team should copy."""
    control = kb.controls.get(key)
    if control is None:
        raise NotFoundError(f"no control {key} in KB {kb.version}")
    data = control.model_dump(mode="json", exclude_none=True)
    samples = [
        s
        for s in data.get("code_samples", [])
        if (language is None or s["language"] == language)
        and (framework is None or s.get("framework") == framework)
    ]
    samples.sort(key=lambda s: (not s.get("approved", False), s["language"], s.get("framework")))
    data["code_samples"] = samples
    data["languages"] = sorted({s.language for s in control.code_samples})
    data["threats"] = [
        {"id": t, "title": kb.threats[t].title, "stride": kb.threats[t].stride}
        for t in control.mitigates
        if t in kb.threats
    ]
    data["standards"] = {k: STANDARD_TITLES[k] for k in data.get("compliance", {})}
    return {"kb_version": kb.version, **data}


def controls_with_evidence(
    session: Session,
    *,
    application: str | None = None,
    component: str | None = None,
    version: str | None = None,
    status: str | None = None,
    include_inactive: bool = False,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``threat_models.list_controls`` rows, each with its verification state and evidence
    (scan, tool, result ids, time), recomputed once for every version listed."""
    rows = tm.list_controls(
        session,
        application=application,
        component=component,
        version=version,
        status=status,
        include_inactive=include_inactive,
        domain_ids=domain_ids,
        offset=offset,
        limit=limit,
    )
    if not rows:
        return rows
    keys = sorted({r["component"] for r in rows})
    ids: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), 900):
        for cv_id, key, ver in session.execute(
            select(ComponentVersion.id, Component.key, ComponentVersion.version)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(Component.key.in_(keys[start : start + 900]))
        ):
            ids[(key, ver)] = cv_id
    evidence = vf.control_evidence(
        session, sorted({ids[(r["component"], r["version"])] for r in rows})
    )
    none: dict[str, Any] = {"state": "unverified", "evidence": []}
    out = []
    for row in rows:
        found = evidence.get((ids[(row["component"], row["version"])], row["control"]), none)
        out.append(
            {
                **row,
                "verification": found["state"],
                "evidence": found["evidence"],
                # done on paper, failing in fact: shown first to the people who own it
                "flagged": row["effective_status"] == "done" and found["state"] == "failed",
            }
        )
    return out


def visible_platforms(session: Session, visible_keys: set[str] | None) -> list[dict[str, Any]]:
    """Platforms with only the components the caller may see named (None: every one): a
    platform is estate infrastructure, but its members belong to teams."""
    rows = tm.list_platforms(session)
    if visible_keys is None:
        return rows
    for row in rows:
        row["members"] = [m for m in row["members"] if m in visible_keys]
        if row["component"] not in visible_keys:
            row["component"] = None
    return rows


def validate_kb_dir(path: Path) -> KnowledgeBase:
    """A KB directory (``kb.yaml``) checked on its own, or an overlay directory
    (``overlay.yaml``) checked on top of the shipped KB, as ``MESHWARD_KB_PATH`` would be."""
    if (path / "overlay.yaml").is_file():
        return load_kb(None, overlay=path)
    if (path / "kb.yaml").is_file():
        return load_kb(path, overlay=False)
    raise InputError(
        str(path), None, "neither a KB directory (kb.yaml) nor an overlay (overlay.yaml)"
    )
