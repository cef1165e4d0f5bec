"""``meshward survey``, ``threats``, ``controls``, ``kb``, ``platform`` and ``compliance``:
threat models from a short survey, their control tasks, the knowledge base behind them, the
shared platforms that satisfy controls, and what each compliance standard asks of an
application. Every command runs on a local database or, with ``--server``, over the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.prompt import Confirm, Prompt
from rich.syntax import Syntax
from rich.table import Column, Table
from rich.text import Text

from meshward.cli.common import JsonOption, console, emit_json, session_scope, state
from meshward.cli.remote import RemoteClient, client_for, fetch, local_only, quote, revive
from meshward.cli.sbom import read_input
from meshward.cli.scans import version_path
from meshward.errors import InputError, MeshwardError
from meshward.formats.otm import MAX_OTM_BYTES
from meshward.formats.survey_answers import ANSWERS_LIMITS, read_answers
from meshward.kb.loader import KbErrors, load_kb
from meshward.limits import Limits
from meshward.services import otm, threat_risk, threat_views
from meshward.services import threat_models as tm

survey_app = typer.Typer(
    help="The threat-model survey of a component version.", no_args_is_help=True
)
threats_app = typer.Typer(
    help="Threats, threat models, risk and OTM exchange.", no_args_is_help=True
)
controls_app = typer.Typer(help="Control tasks and the KB's controls.", no_args_is_help=True)
kb_app = typer.Typer(help="The threat-modelling knowledge base.", no_args_is_help=True)
platform_app = typer.Typer(
    help="Shared platforms (mesh, gateway, vault) that satisfy controls.", no_args_is_help=True
)
compliance_app = typer.Typer(
    help="What compliance standards ask of an application.", no_args_is_help=True
)

STATUS_COLOUR = {"done": "green", "in_progress": "cyan", "risk_accepted": "yellow"}
STATE_COLOUR = {"verified": "green", "partially_verified": "yellow", "failed": "red"}


def register(app: typer.Typer) -> None:
    """Add this module's groups to the root command."""
    app.add_typer(survey_app, name="survey")
    app.add_typer(threats_app, name="threats")
    app.add_typer(controls_app, name="controls")
    app.add_typer(kb_app, name="kb")
    app.add_typer(platform_app, name="platform")
    app.add_typer(compliance_app, name="compliance")


IDS = frozenset({"component", "version", "control", "threat", "question", "fact", "id"})


def _table(*headers: str, title: str | None = None) -> Table:
    """Ids never wrap or shorten, so a reader can copy them into the next command."""
    return Table(*(Column(h, no_wrap=h in IDS) for h in headers), title=title)


def _add(table: Table, *cells: str | Text) -> None:
    """A row whose text is shown as is: answers, rule traces and titles hold brackets."""
    table.add_row(*(c if isinstance(c, Text) else escape(c) for c in cells))


def app_path(application: str) -> str:
    return f"/applications/{quote(application)}"


def _one_scope(application: str | None, component: str | None, version: str | None) -> None:
    if application and component:
        raise MeshwardError("give --app or --component, not both")
    if version and not component:
        raise MeshwardError("--version needs --component")


# ---------------------------------------------------------------- survey


@dataclass
class _Backend:
    """What answering a survey needs, on one local session (all answers commit together) or
    over the API (each answer is stored as it is given)."""

    survey: Callable[[], dict[str, Any]]
    answer: Callable[[dict[str, Any], bool, str], dict[str, Any]]
    model: Callable[[], dict[str, Any]]


@contextmanager
def _backend(component: str, version: str) -> Iterator[_Backend]:
    client = client_for(state.server)
    if client is None:
        with session_scope() as s:
            yield _Backend(
                survey=lambda: tm.survey_view(s, component, version),
                answer=lambda answers, replace, source: tm.answer_survey(
                    s, component, version, answers, source=source, replace=replace
                ),
                model=lambda: tm.threat_model(s, component, version),
            )
        return
    path = version_path(component, version)

    def answer(answers: dict[str, Any], replace: bool, source: str) -> dict[str, Any]:
        view: dict[str, Any] = client.request(
            "PUT", path + "/survey", json=answers, params={"replace": replace}
        )
        return view

    try:
        yield _Backend(
            survey=lambda: client.get(path + "/survey"),
            answer=answer,
            model=lambda: client.get(path + "/threat-model"),
        )
    finally:
        client.close()


@survey_app.command("show")
def survey_show(component: str, version: str, json: bool = JsonOption) -> None:
    """The questions shown for COMPONENT VERSION, each answer and where it came from, what is
    still unanswered, and the facts inferred from the SBOM and the service graph."""
    view = fetch(
        lambda s: tm.survey_view(s, component, version),
        lambda r: r.get(version_path(component, version) + "/survey"),
    )
    if json:
        emit_json(view)
        return
    _print_survey(view)


def _answer_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def _print_survey(view: dict[str, Any]) -> None:
    console.print(
        f"[b]{view['component']} {view['version']}[/b] (KB {view['kb_version']}): "
        f"{view['answered']} answered, {view['prefilled']} prefilled, "
        f"{len(view['unanswered'])} unanswered"
    )
    table = _table("question", "text", "answer", "from")
    for q in view["questions"]:
        _add(
            table,
            q["id"],
            q["text"],
            _answer_text(q["answer"]),
            q["source"] or Text.from_markup("[red]-[/]"),
        )
    console.print(table)
    if view["unanswered"]:
        console.print("unanswered: " + ", ".join(view["unanswered"]), markup=False)
    facts = _table("fact", "value", title="inferred facts")
    for name, value in view["facts"].items():
        _add(facts, name, _answer_text(value))
    console.print(facts)


@survey_app.command("answer")
def survey_answer(
    component: str,
    version: str,
    file: Path | None = typer.Argument(
        None, help="YAML or JSON mapping of question id to answer (null removes an answer)."
    ),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Ask each shown question in turn."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace every earlier answer instead of merging into them."
    ),
    json: bool = JsonOption,
) -> None:
    """Answer the survey of COMPONENT VERSION from FILE or interactively, then show the
    resulting threat model. Every answer is checked first; a wrong one stores nothing."""
    if (file is None) == (not interactive):
        raise MeshwardError("give an answers FILE or --interactive (one of them)")
    answers = read_answers(read_input(file, ANSWERS_LIMITS), str(file)) if file else None
    with _backend(component, version) as backend:
        if answers is not None:
            view = backend.answer(answers, replace, str(file))
        else:
            view = _ask_all(backend, replace)
        model = backend.model()
    if json:
        emit_json({"survey": view, "threat_model": model})
        return
    console.print(
        f"{view['component']} {view['version']}: {view['answered']} answered, "
        f"{view['prefilled']} prefilled, {len(view['unanswered'])} unanswered",
        markup=False,
    )
    _print_model_summary(model)


def _ask_all(backend: _Backend, replace: bool) -> dict[str, Any]:
    """Each shown question once, in the KB's order; which questions are shown is recomputed
    after every answer (an answer can reveal or hide others)."""
    view = backend.survey()
    asked: set[str] = set()
    first = True
    while True:
        question = next((q for q in view["questions"] if q["id"] not in asked), None)
        if question is None:
            return view
        asked.add(question["id"])
        value = _ask(question)
        if value is None or (question["source"] == "answered" and value == question["answer"]):
            continue
        view = backend.answer({question["id"]: value}, replace and first, "interactive")
        first = False


def _ask(q: dict[str, Any]) -> Any:
    current, options = q["answer"], q["options"]
    if q.get("help"):
        console.print(f"[dim]{q['help']}[/dim]")
    label = f"[b]{q['id']}[/b]: {q['text']}" + (
        f" [dim]({q['source']})[/dim]" if q["source"] else ""
    )
    if q["type"] == "bool":
        return Confirm.ask(
            label, default=current if isinstance(current, bool) else False, console=console
        )
    if q["type"] == "single":
        if current in options:
            return Prompt.ask(label, choices=options, default=current, console=console)
        return Prompt.ask(label, choices=options, console=console)
    if q["type"] == "multi":
        shown = ",".join(current) if isinstance(current, list) else ""
        while True:
            raw = Prompt.ask(
                f"{label} [{'/'.join(options)}, comma-separated]", default=shown, console=console
            )
            values = [v.strip() for v in raw.split(",") if v.strip()]
            wrong = [v for v in values if v not in options]
            if not wrong:
                return values
            console.print(f"[red]not an option: {', '.join(wrong)}[/red]")
    text = Prompt.ask(label, default=current if isinstance(current, str) else "", console=console)
    return text.strip() or None


# ---------------------------------------------------------------- threats


def _model_remote(component: str, version: str) -> Callable[[RemoteClient], dict[str, Any]]:
    return lambda r: r.get(version_path(component, version) + "/threat-model")


@threats_app.command("model")
def threats_model(component: str, version: str, json: bool = JsonOption) -> None:
    """The threat model of COMPONENT VERSION: each threat with STRIDE, why it applies and the
    service at the other end of a link; the control tasks that mitigate them."""
    model = fetch(
        lambda s: tm.threat_model(s, component, version), _model_remote(component, version)
    )
    if json:
        emit_json(model)
        return
    console.print(f"[b]{model['component']} {model['version']}[/b] (KB {model['kb_version']})")
    table = _table("threat", "title", "STRIDE", "where", "risk", "why")
    for t in model["threats"]:
        where = "service" if t["role"] == "service" else f"{t['role']} of {t['peer']}"
        _add(
            table,
            t["threat"],
            t["title"],
            t["stride"] or "",
            where,
            str(t["likelihood"] * t["impact"]),
            "; ".join(t["why"]),
        )
    console.print(table)
    _print_tasks(model["controls"])


def _status_text(task: dict[str, Any]) -> Text:
    text = Text(task["effective_status"], style=STATUS_COLOUR.get(task["effective_status"], ""))
    if task.get("satisfied_by_platform"):
        text.append(f" (platform {task['satisfied_by_platform']})")
    if not task["active"]:
        text.append(" (retired)" if task.get("retired_in") else " (inactive)", style="dim")
    return text


def _print_tasks(tasks: list[dict[str, Any]]) -> None:
    table = _table("control", "title", "priority", "status", "assignee", "due", "reason")
    for task in tasks:
        _add(
            table,
            task["control"],
            task["title"],
            task["priority"] or "",
            _status_text(task),
            task["assignee"] or "",
            str(task["due_date"] or ""),
            task["reason"] or "",
        )
    console.print(table)


def _print_model_summary(model: dict[str, Any]) -> None:
    active = [t for t in model["controls"] if t["active"]]
    by_status: dict[str, int] = {}
    for task in active:
        by_status[task["effective_status"]] = by_status.get(task["effective_status"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"
    console.print(
        f"threat model: {len(model['threats'])} threats, {len(active)} control tasks ({counts})",
        markup=False,
    )
    for t in model["threats"]:
        peer = f" ({t['role']} of {t['peer']})" if t["peer"] else ""
        console.print(f"  {t['threat']}: {t['title']}{peer}", markup=False)


@threats_app.command("list")
def threats_list(
    application: str | None = typer.Option(None, "--app", help="The application's latest version."),
    component: str | None = typer.Option(None, "--component", help="Only this component."),
    version: str | None = typer.Option(
        None, "--version", help="Only this version (with --component)."
    ),
    json: bool = JsonOption,
) -> None:
    """Active threats per component version, across the estate or one application or
    component."""
    _one_scope(application, component, version)
    rows = fetch(
        lambda s: tm.list_threats(s, application=application, component=component, version=version),
        lambda r: r.all("/threats", application=application, component=component, version=version),
    )
    if json:
        emit_json(rows)
        return
    table = _table("component", "version", "threat", "title", "STRIDE", "where", "risk")
    for row in rows:
        where = "service" if row["role"] == "service" else f"{row['role']} of {row['peer']}"
        _add(
            table,
            row["component"],
            row["version"],
            row["threat"],
            row["title"],
            row["stride"] or "",
            where,
            str(row["risk"]),
        )
    console.print(table)


@threats_app.command("refresh")
def threats_refresh(json: bool = JsonOption) -> None:
    """Re-evaluate every threat model whose inputs changed (SBOMs, deployments, catalog,
    Kubernetes facts, platforms, scans): estate-wide lists read the stored models. Run it after
    bulk changes, or from a scheduler."""
    local_only("it re-evaluates the models of the database it runs next to")
    with session_scope() as session:
        result = tm.refresh(session)
        counts = tm.count_active(session)
    summary = {
        "component_versions": result.versions,
        "re_evaluated": result.evaluated,
        "threats_added": result.threats_added,
        "threats_removed": result.threats_removed,
        "tasks_added": result.tasks_added,
        "tasks_retired": result.tasks_retired,
        "active_threats": counts["threats"],
        "active_tasks": counts["tasks"],
    }
    if json:
        emit_json(summary)
        return
    console.print(
        f"{result.evaluated} of {result.versions} component versions re-evaluated: "
        f"+{result.threats_added}/-{result.threats_removed} threats, "
        f"+{result.tasks_added}/-{result.tasks_retired} tasks; "
        f"{counts['threats']} threats and {counts['tasks']} control tasks active"
    )


@threats_app.command("risk")
def threats_risk(
    component: str | None = typer.Argument(None),
    version: str | None = typer.Argument(None),
    application: str | None = typer.Option(None, "--app", help="An application's latest version."),
    json: bool = JsonOption,
) -> None:
    """Inherent, current and projected risk per threat of COMPONENT VERSION, or per service of
    an application (``--app``)."""
    if application and (component or version):
        raise MeshwardError("give --app APP or COMPONENT VERSION, not both")
    if application:
        app_name = application
        risk = fetch(
            lambda s: threat_risk.application_risk(s, app_name),
            lambda r: r.get(app_path(app_name) + "/threat-risk"),
        )
    elif component and version:
        comp, ver = component, version
        risk = fetch(
            lambda s: threat_risk.component_risk(s, comp, ver),
            lambda r: r.get(version_path(comp, ver) + "/threat-risk"),
        )
    else:
        raise MeshwardError("give --app APP or COMPONENT VERSION")
    if json:
        emit_json(risk)
        return
    subject = risk.get("application") or risk["component"]
    console.print(
        f"[b]{subject} {risk['version']}[/b]: inherent {risk['inherent']}, current "
        f"{risk['current']}, projected {risk['projected']}"
    )
    if application:
        table = _table("component", "version", "threats", "inherent", "current", "projected")
        for svc in risk["services"]:
            _add(
                table,
                svc["component"],
                svc["version"],
                str(svc["threats"]),
                str(svc["inherent"]),
                str(svc["current"]),
                str(svc["projected"]),
            )
    else:
        table = _table("threat", "title", "peer", "inherent", "current", "projected", "controls")
        for t in risk["by_threat"]:
            _add(
                table,
                t["threat"],
                t["title"],
                t["peer"] or "",
                str(t["inherent"]),
                str(t["current"]),
                str(t["projected"]),
                ", ".join(t["controls"]),
            )
    console.print(table)


@threats_app.command("export-otm")
def threats_export_otm(
    application: str,
    version: str | None = typer.Option(
        None, "--version", help="Application version (default: latest)."
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write here (default: stdout)."
    ),
) -> None:
    """The threat models of APPLICATION as one Open Threat Model (OTM) document."""
    document = fetch(
        lambda s: otm.export_otm(s, application, version),
        lambda r: r.get(app_path(application) + "/otm", version=version),
    )
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        console.file.write(data.decode())
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise InputError(str(output), None, exc.strerror or str(exc)) from exc
    console.print(
        f"wrote {output}: {len(document['components'])} components, "
        f"{len(document['dataflows'])} dataflows, {len(document['threats'])} threats",
        markup=False,
    )


@threats_app.command("import-otm")
def threats_import_otm(
    file: Path = typer.Argument(..., help="An OTM document (JSON or YAML)."),
    json: bool = JsonOption,
) -> None:
    """Bring mitigation states from an OTM file into the matching control tasks. Decisions
    already made here are kept and reported as conflicts; unknown entries are reported."""
    data = read_input(file, Limits(max_bytes=MAX_OTM_BYTES))
    result = fetch(
        lambda s: otm.import_otm(s, data, str(file)).to_dict(),
        lambda r: r.request("POST", "/otm", content=data),
    )
    if json:
        emit_json(result)
        return
    console.print(
        f"{result['project']}: {len(result['components_matched'])} components matched, "
        f"{len(result['tasks_updated'])} tasks updated, {len(result['conflicts'])} conflicts",
        markup=False,
    )
    for name in (
        "tasks_updated",
        "conflicts",
        "unknown_components",
        "unknown_threats",
        "unknown_mitigations",
    ):
        for item in result[name]:
            console.print(f"  {name.replace('_', ' ')}: {item}", markup=False)


# ---------------------------------------------------------------- controls


@controls_app.command("list")
def controls_list(
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(tm.STATUSES)}."),
    application: str | None = typer.Option(None, "--app", help="The application's latest version."),
    component: str | None = typer.Option(None, "--component", help="Only this component."),
    version: str | None = typer.Option(
        None, "--version", help="Only this version (with --component)."
    ),
    include_inactive: bool = typer.Option(
        False, "--include-inactive", help="Also tasks no longer needed or retired by the KB."
    ),
    json: bool = JsonOption,
) -> None:
    """Control tasks per component version: status (done when a platform satisfies it),
    verification and its evidence, assignee, due date and priority."""
    _one_scope(application, component, version)
    if status is not None and status not in tm.STATUSES:
        raise MeshwardError(f"--status must be one of: {', '.join(tm.STATUSES)}")
    rows = fetch(
        lambda s: threat_views.controls_with_evidence(
            s,
            application=application,
            component=component,
            version=version,
            status=status,
            include_inactive=include_inactive,
        ),
        lambda r: r.all(
            "/controls",
            status=status,
            application=application,
            component=component,
            version=version,
            include_inactive=include_inactive or None,
        ),
    )
    if json:
        emit_json(rows)
        return
    table = _table(
        "component",
        "version",
        "control",
        "priority",
        "status",
        "verification",
        "evidence",
        "assignee",
        "due",
    )
    for row in rows:
        state = row["verification"]
        _add(
            table,
            row["component"],
            row["version"],
            row["control"],
            row["priority"] or "",
            _status_text(row),
            Text(
                state + (" (done but failing!)" if row.get("flagged") else ""),
                style=STATE_COLOUR.get(state, ""),
            ),
            "; ".join(_evidence_text(e) for e in row["evidence"]),
            row["assignee"] or "",
            str(row["due_date"] or ""),
        )
    console.print(table)


def _evidence_text(e: dict[str, Any]) -> str:
    if e["kind"] == "scan":
        ids = ", ".join(str(i) for i in e["result_ids"])
        return f"{e['tool']} scan #{e['scan_id']} at {e['at']}: {e['count']} result(s) ({ids})"
    if e["kind"] == "finding":
        return f"{e['count']} open finding(s) ({', '.join(str(i) for i in e['finding_ids'])})"
    if e["kind"] == "manual":
        verdict = "passed" if e["passed"] else "failed"
        return f"manual test {verdict} by {e['tester']} at {e['at']}"
    scan = f" #{e['scan_id']}" if e.get("scan_id") else ""
    return f"clean {e['tool']} scan{scan} at {e['at']}"


def _due(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MeshwardError(f"--due {value!r} is not a date (YYYY-MM-DD)") from None


@controls_app.command("set")
def controls_set(
    component: str,
    version: str,
    control: str,
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(tm.STATUSES)}."),
    reason: str | None = typer.Option(
        None, "--reason", help="Why (needed for not_applicable and risk_accepted)."
    ),
    assignee: str | None = typer.Option(None, "--assignee"),
    due: str | None = typer.Option(None, "--due", help="Due date, YYYY-MM-DD."),
    clear_assignee: bool = typer.Option(False, "--clear-assignee"),
    clear_due: bool = typer.Option(False, "--clear-due"),
    json: bool = JsonOption,
) -> None:
    """Decide on CONTROL of COMPONENT VERSION: status, reason, assignee, due date."""
    due_date = _due(due)
    body = {
        "status": status,
        "reason": reason,
        "assignee": assignee,
        "due_date": due_date.isoformat() if due_date else None,
        "clear_assignee": clear_assignee,
        "clear_due": clear_due,
    }
    task = fetch(
        lambda s: tm.set_control(
            s,
            component,
            version,
            control,
            status=status,
            reason=reason,
            assignee=assignee,
            due_date=due_date,
            clear_assignee=clear_assignee,
            clear_due=clear_due,
        ),
        lambda r: r.request(
            "PATCH",
            f"{version_path(component, version)}/controls/{quote(control)}",
            json={k: v for k, v in body.items() if v not in (None, False)},
        ),
    )
    if json:
        emit_json(task)
        return
    extra = [
        f"assignee {task['assignee']}" if task["assignee"] else "",
        f"due {task['due_date']}" if task["due_date"] else "",
        f"reason: {task['reason']}" if task["reason"] else "",
    ]
    console.print(
        f"{component} {version} {task['control']}: {task['effective_status']}"
        + "".join(f"; {e}" for e in extra if e),
        markup=False,
    )


@controls_app.command("show")
def controls_show(
    control: str,
    language: str | None = typer.Option(None, "--language", help="Only code samples in it."),
    framework: str | None = typer.Option(None, "--framework", help="Only code samples for it."),
    json: bool = JsonOption,
) -> None:
    """A control as the KB holds it: what it mitigates, ASVS and compliance references, code
    samples (company-approved first), the test plan and what proves it failed."""
    entry = fetch(
        lambda s: threat_views.control_entry(
            tm.current_kb(s), control, language=language, framework=framework
        ),
        lambda r: r.get(f"/kb/controls/{quote(control)}", language=language, framework=framework),
    )
    if json:
        emit_json(entry)
        return
    console.print(f"[b]{entry['id']}[/b] {escape(entry['title'])} ({entry['priority']})")
    console.print(entry["description"], markup=False)
    threats = ", ".join(f"{t['id']} ({t['title']})" for t in entry["threats"])
    console.print(f"mitigates: {threats}", markup=False)
    if entry.get("asvs"):
        console.print(f"ASVS: {', '.join(entry['asvs'])}", markup=False)
    for standard, refs in entry.get("compliance", {}).items():
        console.print(f"{entry['standards'][standard]}: {', '.join(refs)}", markup=False)
    if entry.get("platform_capability"):
        console.print(f"a platform with {entry['platform_capability']} satisfies it", markup=False)
    console.print("test plan:")
    for number, step in enumerate(entry["test_plan"], 1):
        console.print(f"  {number}. {step}", markup=False)
    check = entry.get("verification", {})
    if check.get("cwe") or check.get("rule_patterns"):
        cwes = ", ".join(f"CWE-{c}" for c in check.get("cwe", []))
        console.print(
            f"fails on: {cwes} {' '.join(check.get('rule_patterns', []))}".rstrip(), markup=False
        )
    for sample in entry["code_samples"]:
        head = " / ".join(x for x in (sample["language"], sample.get("framework")) if x)
        mark = " [green](company-approved)[/]" if sample.get("approved") else ""
        title = f": {sample['title']}" if sample.get("title") else ""
        console.rule(escape(head) + mark + escape(title))
        lexer = {"csharp": "csharp", "any": "text"}.get(sample["language"], sample["language"])
        console.print(Syntax(sample["code"], lexer, theme="ansi_dark", word_wrap=True))


# ---------------------------------------------------------------- knowledge base


@kb_app.command("show")
def kb_show(json: bool = JsonOption) -> None:
    """Every threat and control of the KB in force with its ids (STRIDE, CWE, ASVS,
    compliance), the KB version and its changelog."""
    listing = fetch(lambda s: threat_views.kb_listing(tm.current_kb(s)), lambda r: r.get("/kb"))
    if json:
        emit_json(listing)
        return
    console.print(
        f"[b]{listing['title']}[/b] {listing['version']}: {len(listing['threats'])} threats, "
        f"{len(listing['controls'])} controls, {listing['questions']} survey questions"
    )
    for entry in listing["changelog"]:
        console.print(
            f"  {entry['version']} ({entry['date']}): {'; '.join(entry['changes'])}", markup=False
        )
    threats = _table("threat", "title", "STRIDE", "scope", "CWE", "controls", title="threats")
    for t in listing["threats"]:
        _add(
            threats,
            t["id"],
            t["title"],
            t["stride"],
            t["scope"],
            ", ".join(t["cwe"]),
            ", ".join(t["controls"]),
        )
    console.print(threats)
    controls = _table(
        "control", "title", "priority", "mitigates", "ASVS", "compliance", title="controls"
    )
    for c in listing["controls"]:
        refs = "; ".join(f"{k}: {', '.join(v)}" for k, v in c["compliance"].items())
        _add(
            controls,
            c["id"],
            c["title"],
            c["priority"],
            ", ".join(c["mitigates"]),
            ", ".join(c["asvs"]),
            refs,
        )
    console.print(controls)


@kb_app.command("validate")
def kb_validate(
    path: Path = typer.Argument(..., help="A KB directory (kb.yaml) or an overlay (overlay.yaml)."),
) -> None:
    """Check a KB or a company overlay (on top of the shipped KB) without installing it:
    every problem with its file and place; exit 1 when there is one."""
    try:
        kb = threat_views.validate_kb_dir(path)
    except InputError as exc:
        problems = exc.errors if isinstance(exc, KbErrors) else [exc]
        for problem in problems:
            console.print(str(problem), markup=False, soft_wrap=True)
        console.print(f"{len(problems)} problem(s) in {path}", markup=False)
        raise typer.Exit(1) from None
    console.print(
        f"{path}: valid, KB {kb.version}: {len(kb.questions)} questions, {len(kb.threats)} "
        f"threats, {len(kb.controls)} controls",
        markup=False,
    )


@kb_app.command("update")
def kb_update(
    path: Path | None = typer.Argument(None, help="A KB directory (default: the shipped KB)."),
    overlay: Path | None = typer.Option(
        None, "--overlay", help="A company overlay (default: MESHWARD_KB_PATH)."
    ),
    json: bool = JsonOption,
) -> None:
    """Install a KB and re-evaluate every threat model: what was added, changed, retired or
    reinstated, in how many services; tasks added and retired; decisions kept. With
    ``--server`` the server reloads its own shipped KB and overlay (it never reads a path
    from a client)."""
    if path is not None or overlay is not None:
        local_only(
            "a KB path is read where the database is; without one the server reloads its own"
        )

    def local(s: Any) -> tm.KbUpdate:
        kb = load_kb(path, overlay=overlay if overlay is not None else True)
        return tm.install_kb(s, kb)

    result = fetch(local, lambda r: revive(tm.KbUpdate, r.request("POST", "/kb/reload")))
    if json:
        emit_json(asdict(result))
        return
    if result.unchanged:
        console.print(f"KB {result.to_version} is already installed: nothing changed", markup=False)
        return
    console.print(f"KB {result.from_version or '(none)'} -> {result.to_version}", markup=False)
    table = _table("change", "kind", "id", "title", "services")
    for change in result.changes:
        _add(table, change.change, change.kind, change.key, change.title, str(change.services))
    console.print(table)
    console.print(
        f"{result.services_touched} services touched; tasks added {result.tasks_added}, "
        f"retired {result.tasks_retired}; threats added {result.threats_added}, removed "
        f"{result.threats_removed}; decisions kept {result.decisions_kept}",
        markup=False,
    )


# ---------------------------------------------------------------- platforms


@platform_app.command("declare")
def platform_declare(
    name: str,
    capability: list[str] = typer.Option(..., "--capability", help="mtls, rate_limiting, waf, ..."),
    component: str | None = typer.Option(
        None, "--component", help="The component that is the platform."
    ),
    env: str | None = typer.Option(
        None, "--env", help="It covers every service in this environment."
    ),
    namespace: str | None = typer.Option(None, "--namespace", help="... in this namespace only."),
    member: list[str] = typer.Option([], "--member", help="A component it covers (repeatable)."),
    description: str | None = typer.Option(None, "--description"),
    json: bool = JsonOption,
) -> None:
    """Declare (or change) a shared platform whose capabilities satisfy controls for every
    service on or behind it; the models it covers are re-evaluated."""
    body = {
        "capabilities": capability,
        "component": component,
        "environment": env,
        "namespace": namespace,
        "members": member or None,
        "description": description,
    }
    view = fetch(
        lambda s: tm.declare_platform(
            s,
            name,
            capability,
            component=component,
            environment=env,
            namespace=namespace,
            members=member or None,
            description=description,
        ),
        lambda r: r.request("PUT", f"/platforms/{quote(name)}", json=body),
    )
    if json:
        emit_json(view)
        return
    covers = "satisfies control tasks now" if view["satisfies_tasks"] else "satisfies no task yet"
    console.print(
        f"platform {view['name']} ({', '.join(view['capabilities'])}): {covers}", markup=False
    )


@platform_app.command("list")
def platform_list(json: bool = JsonOption) -> None:
    """Declared platforms, what they give and whom they cover."""
    rows = fetch(tm.list_platforms, lambda r: r.all("/platforms"))
    if json:
        emit_json(rows)
        return
    table = _table("platform", "capabilities", "component", "env", "namespace", "members", "in use")
    for p in rows:
        _add(
            table,
            p["name"],
            ", ".join(p["capabilities"]),
            p["component"] or "",
            p["environment"] or "",
            p["namespace"] or "",
            ", ".join(p["members"]),
            "yes" if p["satisfies_tasks"] else "no",
        )
    console.print(table)


@platform_app.command("remove")
def platform_remove(name: str) -> None:
    """Remove a platform: the controls it satisfied reopen."""

    def remote(r: RemoteClient) -> None:
        r.send("DELETE", f"/platforms/{quote(name)}")

    fetch(lambda s: tm.remove_platform(s, name), remote)
    console.print(
        f"platform {name} removed; the controls it satisfied are open again", markup=False
    )


# ---------------------------------------------------------------- compliance


@compliance_app.command("report")
def compliance_report(
    application: str,
    standard: str = typer.Option(
        ..., "--standard", help="pci-dss, hipaa, gdpr, soc2 or nist-800-53."
    ),
    json: bool = JsonOption,
) -> None:
    """Per requirement of STANDARD: the controls APPLICATION's services need for it, and how
    many of those tasks are done and verified."""
    report = fetch(
        lambda s: threat_risk.compliance_report(s, application, standard),
        lambda r: r.get(app_path(application) + "/compliance", standard=standard),
    )
    if json:
        emit_json(report)
        return
    console.print(
        f"[b]{report['application']} {report['version']}[/b], {report['title']}: "
        f"{report['tasks']} tasks, {report['done']} done, {report['verified']} verified"
    )
    table = _table("requirement", "controls", "tasks", "done", "verified", "open")
    for row in report["requirements"]:
        _add(
            table,
            row["requirement"],
            ", ".join(row["controls"]),
            str(row["tasks"]),
            str(row["done"]),
            str(row["verified"]),
            ", ".join(row["open"]),
        )
    console.print(table)
