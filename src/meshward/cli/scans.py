"""``meshward scan ...``, ``meshward verify ...`` and ``meshward gate``: scan results in,
verification out, and the pipeline's pass/fail."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from meshward.cli.common import JsonOption, console, emit_json
from meshward.cli.remote import RemoteClient, fetch, quote
from meshward.cli.sbom import read_input
from meshward.errors import InputError, MeshwardError
from meshward.formats.junit import junit_xml
from meshward.formats.sarif_out import sarif_bytes
from meshward.limits import Limits
from meshward.services import gate, scan_views
from meshward.services import verification as vf

scan_app = typer.Typer(
    help="Security scan results (SAST, DAST, SCA) per component version.", no_args_is_help=True
)
verify_app = typer.Typer(
    help="Verification of controls: evidence and manual tests.", no_args_is_help=True
)

EXIT_BROKEN = 1
EXIT_ERROR = 2


def version_path(component: str, version: str) -> str:
    return f"/components/{quote(component)}/versions/{quote(version)}"


@scan_app.command("upload")
def scan_upload(
    component: str,
    version: str,
    file: Path = typer.Argument(..., help="SARIF, Semgrep/Bandit JSON, ZAP, Trivy or Grype."),
    tool: str | None = typer.Option(None, help="Tool name when the report does not say."),
    policy: str = typer.Option(
        "replace", help="replace: supersede this tool's earlier scans; merge: add to them."
    ),
    reopen_failed: bool = typer.Option(
        False, "--reopen-failed", help="Reopen tasks marked done whose control now fails."
    ),
    json: bool = JsonOption,
) -> None:
    """Ingest a report for COMPONENT VERSION and update its controls' verification. The
    format comes from the content; the same file again changes nothing; a bad file changes
    nothing at all."""
    data = read_input(file, Limits.from_env())
    result = fetch(
        lambda s: vf.upload_scan(
            s,
            component,
            version,
            data,
            str(file),
            tool=tool,
            policy=policy,
            reopen_failed=reopen_failed,
        ),
        lambda r: vf.UploadResult(
            **r.request(
                "POST",
                version_path(component, version) + "/scans",
                content=data,
                params={"tool": tool, "policy": policy, "reopen_failed": reopen_failed},
            )
        ),
    )
    if json:
        emit_json(asdict(result))
        return
    head = f"{result.component} {result.version}: {result.tool} ({result.format}) scan #"
    if result.unchanged:
        console.print(f"{head}{result.scan_id}: unchanged (the same report was uploaded before)")
        return
    console.print(
        f"{head}{result.scan_id}: {result.results} results, {result.new} new, "
        f"{result.present} still present, {result.gone} gone; {result.suppressed} suppressed, "
        f"{result.unmapped} unmapped",
        markup=False,
    )
    if result.unmapped:
        console.print(
            f"[yellow]{result.unmapped} results map to no control: they are in "
            "C-REVIEW-UNMAPPED-FINDINGS[/yellow]"
        )
    failing = ", ".join(result.failed_controls) or "none"
    console.print(f"controls now failing: {failing}", markup=False)
    if result.reopened:
        console.print(f"tasks reopened: {', '.join(result.reopened)}", markup=False)


@scan_app.command("list")
def scan_list(component: str, version: str, json: bool = JsonOption) -> None:
    """The scans of COMPONENT VERSION, newest first, and whether each still counts."""
    rows = fetch(
        lambda s: scan_views.list_scans(s, component, version),
        lambda r: r.all(version_path(component, version) + "/scans"),
    )
    if json:
        emit_json(rows)
        return
    table = Table("scan", "tool", "format", "policy", "counts", "results", "new", "gone", "at")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["tool"],
            row["format"],
            row["policy"],
            "yes" if row["effective"] else "[dim]superseded[/]",
            str(row["results"]),
            str(row["new"]),
            str(row["gone"]),
            row["uploaded_at"],
        )
    console.print(table)


@scan_app.command("results")
def scan_results(
    component: str,
    version: str,
    include_gone: bool = typer.Option(False, "--include-gone", help="Also results now gone."),
    limit: int = typer.Option(500, min=1, help="At most this many results."),
    json: bool = JsonOption,
) -> None:
    """The results that count for COMPONENT VERSION and the controls each fails."""

    def remote(r: RemoteClient) -> list[dict[str, Any]]:
        params = {"include_gone": include_gone or None}
        pages = r.pages(version_path(component, version) + "/scan-results", params)
        rows = []
        for row in pages:
            rows.append(row)
            if len(rows) >= limit:
                break
        return rows

    rows = fetch(
        lambda s: scan_views.scan_results_page(
            s, component, version, include_gone=include_gone, limit=limit
        ),
        remote,
    )
    if json:
        emit_json(rows)
        return
    table = Table("id", "tool", "rule", "severity", "where", "controls", "state")
    for row in rows:
        loc = row["location"]
        where = f"{loc['uri']}:{loc.get('start_line') or ''}" if loc.get("uri") else ""
        state = "suppressed" if row["suppressed"] else row["lifecycle"]
        table.add_row(
            str(row["id"]),
            row["tool"],
            row["rule_id"],
            row["severity"],
            where or loc.get("url") or (loc.get("package") or {}).get("purl") or "",
            ", ".join(row["controls"]),
            state,
        )
    console.print(table)


@verify_app.command("show")
def verify_show(component: str, version: str, json: bool = JsonOption) -> None:
    """Per control of COMPONENT VERSION: status, verification state and its evidence."""
    view = fetch(
        lambda s: scan_views.verification_view(s, component, version),
        lambda r: r.get(version_path(component, version) + "/verification"),
    )
    if json:
        emit_json(view)
        return
    summary = ", ".join(f"{n} {state}" for state, n in view["summary"].items())
    console.print(f"[b]{view['component']} {view['version']}[/b]: {summary}")
    table = Table("control", "priority", "status", "verification", "evidence")
    colour = {"failed": "red", "verified": "green", "partially_verified": "yellow"}
    for c in view["controls"]:
        state = c["state"]
        table.add_row(
            c["control"],
            c["priority"] or "",
            c["status"] or "[dim](no task)[/]",
            f"[{colour[state]}]{state}[/]" if state in colour else state,
            "; ".join(_evidence_text(e) for e in c["evidence"]),
        )
    console.print(table)


def _evidence_text(e: dict[str, Any]) -> str:
    if e["kind"] == "scan":
        return f"{e['count']} result(s) of {e['tool']} scan #{e['scan_id']}"
    if e["kind"] == "finding":
        return f"{e['count']} open finding(s)"
    if e["kind"] == "manual":
        verdict = "passed" if e["passed"] else "failed"
        return f"manual test {verdict} by {e['tester']} until {e['expires_at']}"
    return f"clean {e['tool']} scan" + (f" #{e['scan_id']}" if e.get("scan_id") else "")


@verify_app.command("manual")
def verify_manual(
    component: str,
    version: str,
    control: str,
    passed: bool = typer.Option(..., "--pass/--fail", help="The tester's verdict."),
    notes: str | None = typer.Option(None, help="What was tested and how."),
    valid_days: int = typer.Option(180, help="Days the result counts as evidence (1-3650)."),
    json: bool = JsonOption,
) -> None:
    """Record a tester's pass or fail for CONTROL of COMPONENT VERSION."""
    answer = fetch(
        lambda s: scan_views.record_manual_test(
            s, component, version, control, passed=passed, notes=notes, valid_days=valid_days
        ),
        lambda r: r.request(
            "POST",
            f"{version_path(component, version)}/controls/{quote(control)}/manual-tests",
            json={"passed": passed, "notes": notes, "valid_days": valid_days},
        ),
    )
    if json:
        emit_json(answer)
        return
    console.print(
        f"{answer['control']}: manual test {'passed' if answer['passed'] else 'failed'}, "
        f"counts until {answer['expires_at']}; verification now {answer['state']}",
        markup=False,
    )


def gate_command(
    component: str,
    version: str,
    policy: Path = typer.Option(..., "--policy", help="Policy YAML (findings, controls, scans)."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML here."),
    sarif: Path | None = typer.Option(None, "--sarif", help="Write SARIF 2.1.0 here."),
    json: bool = JsonOption,
) -> None:
    """Check COMPONENT VERSION against a policy: exit 0 when it passes, 1 when a rule is
    broken (each with what broke it), 2 when the check itself could not run."""
    try:
        verdict = _verdict(component, version, policy)
        if junit is not None:
            _write(junit, junit_xml(verdict))
        if sarif is not None:
            _write(sarif, sarif_bytes(verdict, policy_uri=policy.as_posix()))
    except MeshwardError as exc:
        _error(str(exc))
    except SQLAlchemyError as exc:
        _error(f"database: {type(exc).__name__}: {exc}")
    if json:
        emit_json(verdict)
    else:
        _print_verdict(verdict)
    if not verdict["passed"]:
        raise typer.Exit(EXIT_BROKEN)


def _verdict(component: str, version: str, policy_file: Path) -> dict[str, Any]:
    data = read_input(policy_file, gate.POLICY_LIMITS)
    policy = gate.read_policy(data, str(policy_file))  # refused here, before any request

    def remote(r: RemoteClient) -> dict[str, Any]:
        answer: dict[str, Any] = r.request(
            "POST", version_path(component, version) + "/gate", content=data
        )
        return answer

    return fetch(lambda s: gate.evaluate_gate(s, component, version, policy).to_dict(), remote)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(str(path), None, exc.strerror or str(exc)) from exc


def _error(message: str) -> NoReturn:
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    raise typer.Exit(EXIT_ERROR)


def _print_verdict(verdict: dict[str, Any]) -> None:
    subject = f"{verdict['component']} {verdict['version']}"
    if not verdict["rules"]:
        console.print(f"{subject}: the policy sets no rule", markup=False)
    for rule in verdict["rules"]:
        mark = "[green]pass[/]" if rule["passed"] else "[red]FAIL[/]"
        console.print(f"{mark} {rule['id']}: {rule['description']} (found {rule['actual']})")
        for item in rule["broken"]:
            console.print(f"     {item['message']}", markup=False)
        hidden = rule["actual"] - len(rule["broken"])
        if not rule["passed"] and hidden > 0:
            console.print(f"     ... and {hidden} more", markup=False)
    result = "[green]passed[/]" if verdict["passed"] else "[red]broken[/]"
    console.print(f"[b]{subject}[/b]: policy {result}")


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app, name="scan")
    app.add_typer(verify_app, name="verify")
    app.command("gate")(gate_command)
