"""Threat-model pages: the component version's model and survey (sections of its page), the
controls board, and the knowledge-base browser.

Every read goes through the threat-model services, which refresh the models they show, so a
page is never stale; every change goes through ``threat_models.set_control`` and
``answer_survey``, whose ORM writes the audit trail records with the web as the channel.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from meshward.errors import MeshwardError, NotFoundError, PermissionDeniedError
from meshward.kb.loader import KnowledgeBase
from meshward.kb.schema import STANDARD_TITLES, Question
from meshward.services import auth, board, threat_risk, verification, views
from meshward.services import threat_models as tm
from meshward.services.scan_state import REVIEW_CONTROL, effective_scans
from meshward.store.models import Component, ComponentVersion
from meshward.web.render import (
    COMPONENT_VERSION_SECTIONS,
    NAV,
    NavItem,
    Pager,
    Section,
    page_number,
)
from meshward.web.routes import Form, HtmlRoute, WebCtx, _here, _local, _one, posted, viewer

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

PRIORITIES = ("critical", "high", "medium", "low")
STRIDE = (
    "spoofing",
    "tampering",
    "repudiation",
    "information_disclosure",
    "denial_of_service",
    "elevation_of_privilege",
)
BULK_LIMIT = 200
"""Tasks one form may change: each goes through ``set_control`` (its own refresh)."""


# ---------------------------------------------------------------- component version sections


def _component(session: Session, cv: ComponentVersion) -> Component:
    comp = session.get(Component, cv.component_id)
    assert comp is not None
    return comp


def threat_model_section(
    session: Session, principal: auth.Principal, cv: ComponentVersion
) -> dict[str, Any] | None:
    """Threats with risk and why, control tasks with verification and evidence, scans; and
    controls a scan failed although the model does not ask for them (the scanner found a
    weakness the survey did not predict)."""
    comp = _component(session, cv)
    model = tm.threat_model(session, comp.key, cv.version)
    evidence = verification.control_evidence(session, [cv.id])
    states = {key: e["state"] for key, e in evidence.items()}
    risk = threat_risk.service_risks(session, [cv.id], states)[cv.id]
    peers = board.component_keys(session, [t.peer for t in risk.threats if t.peer])
    by_threat = {(t.threat, t.role, peers.get(t.peer)): t for t in risk.threats}
    threats = [
        {**t, "risk": by_threat.get((t["threat"], t["role"], t["peer"]))} for t in model["threats"]
    ]
    ids = board.task_ids(session, cv.id)
    tasks = [
        {
            **task,
            "id": ids.get(task["control"]),
            "verification": evidence.get((cv.id, task["control"]), {}).get("state", "unverified"),
            "evidence": evidence.get((cv.id, task["control"]), {}).get("evidence", []),
        }
        for task in model["controls"]
        if task["active"]
    ]
    kb = tm.current_kb(session)
    in_model = {t["control"] for t in tasks}
    unexpected = [
        {
            "control": key,
            "title": kb.controls[key].title if key in kb.controls else key,
            "verification": e["state"],
            "evidence": e["evidence"],
        }
        for (_, key), e in sorted(evidence.items())
        if key not in in_model and e["state"] == "failed"
    ]
    scans = effective_scans(session, [cv.id]).get(cv.id, [])
    results = verification.list_scan_results(
        session, comp.key, cv.version, include_gone=True, limit=200
    )
    return {
        "model": model,
        "threats": threats,
        "risk": risk.totals(),
        "tasks": tasks,
        "retired": [t for t in model["controls"] if not t["active"]],
        "unexpected": unexpected,
        "scans": scans,
        "results": results,
        "review_control": REVIEW_CONTROL,
        "may_write": principal.may("write", views.component_facts(session, comp).domain),
        "statuses": tm.STATUSES,
    }


def survey_section(
    session: Session, principal: auth.Principal, cv: ComponentVersion
) -> dict[str, Any] | None:
    comp = _component(session, cv)
    survey = tm.survey_view(session, comp.key, cv.version)
    kb = tm.current_kb(session)
    labels = {q["id"]: _labels(kb.questions[q["id"]]) for q in survey["questions"]}
    return {
        "survey": survey,
        "labels": labels,
        "may_write": principal.may("write", views.component_facts(session, comp).domain),
    }


def _labels(question: Question) -> dict[str, str]:
    return {o.value: o.label for o in question.options}


COMPONENT_VERSION_SECTIONS.append(
    Section("Threat model", "_threat_model.html", threat_model_section)
)
COMPONENT_VERSION_SECTIONS.append(Section("Survey", "_survey.html", survey_section))
NAV.insert(-1, NavItem("Controls", "/ui/controls"))
NAV.insert(-1, NavItem("Knowledge base", "/ui/kb"))


def survey_changes(questions: list[dict[str, Any]], form: Form) -> dict[str, Any]:
    """The answers a submitted survey form changes: a value that differs from the one in
    force, or the removal of a person's answer; a prefilled answer left as it is stays
    prefilled (it follows the facts), so only what a person touched is stored."""
    changes: dict[str, Any] = {}
    for q in questions:
        name = f"q.{q['id']}"
        raw = [v.strip() for v in form.get(name, [])]
        value: Any
        if q["type"] == "multi":
            value = sorted({v for v in raw if v}) or None
            current = sorted(q["answer"]) if isinstance(q["answer"], list) else q["answer"]
            if value is None and current:
                value = []  # every box unticked: an answer of "none of these"
        else:
            given = raw[0] if raw else ""
            value = {"yes": True, "no": False}.get(given) if q["type"] == "bool" else given
            value = None if value == "" else value
            current = q["answer"]
        own = q["source"] in ("answered", "inherited")
        if value is None:
            if own:
                changes[q["id"]] = None
        elif value != current or (not own and value == [] and current):
            changes[q["id"]] = value
    return changes


@router.post("/components/{name}/versions/{version}/survey")
def post_survey(
    name: str, version: str, ctx_form: tuple[WebCtx, Form] = Depends(posted)
) -> Response:
    """The survey form back: only the answers it changes go to ``answer_survey``, which checks
    them all first and re-evaluates the model (and its linked neighbours')."""
    ctx, form = ctx_form
    with ctx.session() as s:
        comp = auth.check_component(s, ctx.principal, name, "write")
        current = tm.survey_view(s, comp.key, version)
        changes = survey_changes(current["questions"], form)
        if changes:
            tm.answer_survey(s, comp.key, version, changes, source="the survey form")
    page = f"/ui/components/{quote(comp.name)}/versions/{quote(version)}"
    return RedirectResponse(f"{page}?answered={len(changes)}#survey-h", 303)


# ---------------------------------------------------------------- the controls board


def _priority_ranks(kb: KnowledgeBase) -> list[list[str]]:
    """The KB's control keys grouped by priority, most urgent first."""
    return [[k for k, c in kb.controls.items() if c.priority == p] for p in PRIORITIES]


@router.get("/controls")
def controls_board(
    request: Request,
    team: str | None = None,
    app: str | None = None,
    component: str | None = None,
    priority: list[str] = Query([]),
    status: list[str] = Query([]),
    state: list[str] = Query([]),
    page: str | None = None,
    done: int | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    """Control tasks of every component's newest version (or of an application's latest
    version) by status and verification, as stored. Unlike a service's page, the board does
    not re-evaluate the models first: that takes minutes on a 5,000-service estate, and seconds
    even for the fifty versions of one page (bench/RESULTS.md). Decisions are always current
    (they are what is stored); which tasks exist and their verification are as of each
    model's last evaluation, which opening the service's page brings up to date."""
    pager = Pager(request, page_number(page))
    given = {"team": team, "app": app, "component": component}
    filters = {k: (v or "").strip() for k, v in given.items()}
    priorities = [p for p in priority if p in PRIORITIES]
    with ctx.session() as s:
        domain_ids = auth.visible_domain_ids(s, ctx.principal)
        flt = board.BoardFilter(
            team=filters["team"] or None,
            status=[v for v in status if v in tm.STATUSES],
            verification=[v for v in state if v in verification.STATES],
            domain_ids=domain_ids,
        )
        if filters["app"]:
            flt.application = auth.check_application(s, ctx.principal, filters["app"]).key
        if filters["component"]:
            flt.component = auth.check_component(s, ctx.principal, filters["component"]).key
        kb = tm.current_kb(s)
        if priorities:
            flt.controls = [k for k, c in kb.controls.items() if c.priority in priorities]
        rows = pager.take(
            board.board_tasks(s, flt, _priority_ranks(kb), offset=pager.offset, limit=pager.fetch)
        )
        counts = board.board_counts(s, flt)
        services = board.board_size(s, flt)
        teams = board.teams(s, domain_ids)
        may_write = auth.visible_domain_ids(s, ctx.principal, "write") != set()
    titles = {key: c.title for key, c in kb.controls.items()}
    return ctx.page(
        "controls.html",
        {
            "rows": rows,
            "pager": pager,
            "counts": counts,
            "status_totals": {
                st: sum(n for (s_, _), n in counts.items() if s_ == st) for st in tm.STATUSES
            },
            "total": sum(counts.values()),
            "services": services,
            "filters": filters,
            "priority": priorities,
            "status": flt.status,
            "state": flt.verification,
            "teams": teams,
            "titles": titles,
            "priorities": {key: c.priority for key, c in kb.controls.items()},
            "statuses": tm.STATUSES,
            "states": verification.STATES,
            "priority_names": PRIORITIES,
            "may_write": may_write,
            "done": done,
            "back": _here(request),
        },
    )


def _due(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MeshwardError(f"due date {value!r} is not a date (YYYY-MM-DD)") from None


@router.post("/controls/tasks")
def set_tasks(ctx_form: tuple[WebCtx, Form] = Depends(posted)) -> Response:
    """One task or many at once: status (with a reason where the status needs one),
    assignee, due date; each change through ``set_control``, all or nothing."""
    ctx, form = ctx_form
    try:
        ids = sorted({int(v) for v in form.get("ids", []) if v.strip()})
    except ValueError:
        raise MeshwardError("task ids are numbers") from None
    if not ids:
        raise MeshwardError("tick at least one control task")
    if len(ids) > BULK_LIMIT:
        raise MeshwardError(f"change at most {BULK_LIMIT} tasks at once")
    status = _one(form, "status")
    reason = _one(form, "reason")
    assignee = _one(form, "assignee")
    due = _due(_one(form, "due_date"))
    clear_assignee = _one(form, "clear_assignee") is not None
    clear_due = _one(form, "clear_due") is not None
    if not (status or reason or assignee or due or clear_assignee or clear_due):
        raise MeshwardError("choose a status, an assignee or a due date to set")
    with ctx.session() as s:
        refs = board.task_refs(s, ids)
        if len(refs) != len(ids):
            raise NotFoundError("some of these control tasks do not exist")
        for ref in refs:
            if not ctx.principal.may("read", ref.domain):
                raise NotFoundError(f"no control task {ref.id}")
            if not ctx.principal.may("write", ref.domain):
                raise PermissionDeniedError(
                    f"{ctx.principal.name} may not write in {ref.domain or 'the estate'}"
                )
        for ref in refs:
            tm.set_control(
                s,
                ref.component,
                ref.version,
                ref.control,
                status=status,
                reason=reason,
                assignee=assignee,
                due_date=due,
                clear_assignee=clear_assignee,
                clear_due=clear_due,
            )
    back = _local(_one(form, "back"), "/ui/controls")
    path, _, anchor = back.partition("#")
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}done={len(refs)}" + (f"#{anchor}" if anchor else ""), 303)


# ---------------------------------------------------------------- the knowledge base


@router.get("/kb")
def kb_page(
    stride: str | None = None,
    standard: str | None = None,
    q: str | None = None,
    ctx: WebCtx = Depends(viewer),
) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        kb = tm.current_kb(s)
    chosen = views.KbFilter(
        stride=stride if stride in STRIDE else None,
        standard=standard if standard in STANDARD_TITLES else None,
        text=(q or "").strip() or None,
    )
    threats, controls = views.kb_entries(kb, chosen)
    return ctx.page(
        "kb.html",
        {
            "kb": kb,
            "threats": threats,
            "controls": controls,
            "filter": chosen,
            "strides": STRIDE,
            "standards": STANDARD_TITLES,
        },
    )


@router.get("/kb/threats/{key}")
def kb_threat(key: str, ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        kb = tm.current_kb(s)
    threat = kb.threats.get(key)
    if threat is None:
        raise NotFoundError(f"no threat {key} in KB {kb.version}")
    return ctx.page(
        "kb_threat.html",
        {
            "kb": kb,
            "threat": threat,
            "rule": views.rule_text(threat.applies_when.to_data()),
            "controls": kb.controls_by_threat.get(key, []),
        },
    )


@router.get("/kb/controls/{key}")
def kb_control(key: str, language: str | None = None, ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        auth.require_any(s, ctx.principal, "read")
        kb = tm.current_kb(s)
    control = kb.controls.get(key)
    if control is None:
        raise NotFoundError(f"no control {key} in KB {kb.version}")
    languages = sorted({c.language for c in control.code_samples})
    samples = [c for c in control.code_samples if not language or c.language == language]
    samples.sort(key=lambda c: (not c.approved, c.language, c.framework or ""))
    return ctx.page(
        "kb_control.html",
        {
            "kb": kb,
            "control": control,
            "samples": samples,
            "languages": languages,
            "language": language or "",
            "rule": views.rule_text(control.applies_when.to_data())
            if control.applies_when
            else None,
            "standards": STANDARD_TITLES,
        },
    )


# ---------------------------------------------------------------- compliance


@router.get("/apps/{name}/compliance/{standard}")
def compliance_page(name: str, standard: str, ctx: WebCtx = Depends(viewer)) -> Response:
    with ctx.session() as s:
        app = auth.check_application(s, ctx.principal, name)
        report = threat_risk.compliance_report(s, app.key, standard)
    return ctx.page("compliance.html", {"app": app.name, "report": report})
