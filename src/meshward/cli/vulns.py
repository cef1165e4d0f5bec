"""``meshward advisories ...`` and ``meshward findings ...``."""

from __future__ import annotations

import getpass
import itertools
import sys
from pathlib import Path
from typing import Any

import typer
from platformdirs import user_cache_dir
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session

from meshward.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
)
from meshward.cli.remote import RemoteClient, fetch, quote, revive
from meshward.cli.sbom import read_input
from meshward.cli.upload import import_advisories_remote
from meshward.errors import MeshwardError
from meshward.formats.osv import Advisory as OsvAdvisory
from meshward.limits import Limits
from meshward.services import advisories, findings, triage, vex
from meshward.services.catalog import parse_time
from meshward.services.findings import FindingFilter
from meshward.sync.osv_source import DEFAULT_OSV_URL, OsvSync

advisories_app = typer.Typer(help="OSV advisories: import, list, show.", no_args_is_help=True)
findings_app = typer.Typer(help="Findings: list, analyse, carry, events.", no_args_is_help=True)

SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "green",
}


@advisories_app.command("import")
def advisories_import(
    paths: list[Path] = typer.Argument(..., help="OSV JSON files, folders, or all.zip archives."),
    json: bool = JsonOption,
) -> None:
    """Import OSV advisories; what changed is re-matched against every current SBOM."""
    limits = Limits.from_env()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=err_console,
        disable=json,
        transient=True,
    ) as progress:
        task = progress.add_task("reading advisories", total=None)

        def tick(_: OsvAdvisory) -> None:
            progress.advance(task)

        report = fetch(
            lambda s: advisories.import_advisories(s, paths, limits, on_record=tick),
            lambda r: import_advisories_remote(r, paths, limits, on_record=tick),
        )
    if json:
        emit_json(report.to_dict())
        return
    m = report.matching
    console.print(
        f"{report.read} records: {report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.withdrawn} withdrawn; findings: {m.new} new, "
        f"{m.reopened} reopened, {m.resolved} resolved"
    )


@advisories_app.command("list")
def advisories_list(
    ecosystem: str | None = typer.Option(None, help="Only this OSV ecosystem."),
    search: str | None = typer.Option(None, help="Text in the id or summary."),
    limit: int = typer.Option(50),
    json: bool = JsonOption,
) -> None:
    """Advisories, newest first."""
    rows = fetch(
        lambda s: advisories.list_advisories(s, ecosystem=ecosystem, search=search, limit=limit),
        lambda r: list(
            itertools.islice(
                r.pages("/advisories", {"ecosystem": ecosystem, "search": search}), limit
            )
        ),
    )
    if json:
        emit_json(rows)
        return
    table = Table("id", "severity", "aliases", "summary")
    for r in rows:
        table.add_row(
            r["id"] + (" (withdrawn)" if r["withdrawn"] else ""),
            _severity(r["severity"]),
            ", ".join(r["aliases"][:3]),
            (r["summary"] or "")[:80],
        )
    console.print(table)


@advisories_app.command("show")
def advisories_show(name: str, json: bool = JsonOption) -> None:
    """One advisory, by its id or any alias (CVE, GHSA ...)."""
    view = fetch(
        lambda s: advisories.advisory_view(s, name), lambda r: r.get(f"/advisories/{quote(name)}")
    )
    if json:
        emit_json(view)
        return
    console.print(f"[b]{view['id']}[/b]  {_severity(view['severity'])} {view['score'] or ''}")
    console.print(f"aliases: {', '.join(view['aliases'])}", markup=False)
    console.print(view["summary"] or "", markup=False)
    for a in view["affected"]:
        console.print(f"  {a['ecosystem']} {a['name']}: {a['ranges']}", markup=False)


def _severity(value: str | None) -> str:
    if not value:
        return "-"
    style = SEVERITY_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


@findings_app.command("list")
def findings_list(
    domain: str | None = typer.Option(None, help="Domain path (its subtree)."),
    app: str | None = typer.Option(None, "--app", help="Application."),
    app_version: str | None = typer.Option(None, "--app-version"),
    component: str | None = typer.Option(None),
    version: str | None = typer.Option(None, help="Component version."),
    env: str | None = typer.Option(None, "--env", help="Only versions running there now."),
    severity: list[str] = typer.Option([], help="critical, high, medium, low (repeatable)."),
    state_: list[str] = typer.Option(
        [], "--state", help="open, in_triage, exploitable, ... (repeatable)."
    ),
    vulnerability: str | None = typer.Option(None, "--vuln", help="Any id or alias."),
    resolved: bool = typer.Option(False, "--include-resolved"),
    overdue: bool = typer.Option(False, "--overdue", help="Only findings past their SLA."),
    limit: int | None = typer.Option(None),
    json: bool = JsonOption,
) -> None:
    """Findings, worst first."""
    flt = FindingFilter(
        domain=domain,
        application=app,
        app_version=app_version,
        component=component,
        version=version,
        environment=env,
        severity=severity or None,
        state=state_ or None,
        vulnerability=vulnerability,
        include_resolved=resolved,
    )

    def local(session: Session) -> list[findings.FindingView]:
        triage.apply_rules(session)
        if overdue:
            return findings.list_overdue_findings(session, flt, limit)[0]
        return findings.list_findings(session, flt, limit)

    def remote(r: RemoteClient) -> list[findings.FindingView]:
        params = {
            "domain": domain,
            "app": app,
            "app_version": app_version,
            "component": component,
            "version": version,
            "env": env,
            "severity": severity,
            "state": state_,
            "vuln": vulnerability,
            "include_resolved": resolved or None,
            "overdue": overdue or None,
        }
        items = r.pages("/findings", params)
        return [findings.FindingView(**row) for row in itertools.islice(items, limit)]

    rows = fetch(local, remote)
    if json:
        emit_json([r.to_dict() for r in rows])
        return
    table = Table("id", "vulnerability", "severity", "component", "package", "fix", "state", "due")
    for r in rows:
        table.add_row(
            str(r.id),
            r.vulnerability,
            _severity(r.severity),
            f"{r.component} {r.version}",
            f"{r.package} {r.installed or ''}",
            r.fixed_version or "",
            r.state + ("" if r.active else " (gone)"),
            ((r.due or "")[:10] + (" [red]overdue[/]" if r.overdue else "")),
        )
    console.print(table)
    console.print(f"{len(rows)} findings")


@findings_app.command("analyse")
def findings_analyse(
    ids: list[int] = typer.Argument(..., help="Finding ids."),
    state: str = typer.Option(..., help=", ".join(findings.STATES)),
    justification: str | None = typer.Option(None, help="Needed for not_affected."),
    detail: str | None = typer.Option(None, help="Why, in words."),
    actor: str | None = typer.Option(None, help="Who (default: the OS user)."),
) -> None:
    """Set the analysis state of findings; it survives re-matching. With --server the
    analyst on record is the token's name."""
    body = {"ids": ids, "state": state, "justification": justification, "detail": detail}
    n = fetch(
        lambda s: findings.set_analysis(
            s,
            ids,
            state,
            justification=justification,
            detail=detail,
            actor=actor or getpass.getuser(),
        ),
        lambda r: r.request("POST", "/findings/analysis", json=body)["updated"],
    )
    console.print(f"{n} findings set to {state}")


@findings_app.command("carry")
def findings_carry(component: str, from_version: str, to_version: str) -> None:
    """Carry analysis to the same vulnerabilities in the next version of a component."""
    body = {"from_version": from_version, "to_version": to_version}
    n = fetch(
        lambda s: findings.carry_analysis(s, component, from_version, to_version),
        lambda r: r.request("POST", f"/components/{quote(component)}/findings/carry", json=body)[
            "carried"
        ],
    )
    console.print(f"{n} analyses carried from {from_version} to {to_version}")


@findings_app.command("events")
def findings_events(
    since: str | None = typer.Option(None, help="ISO 8601 time."),
    limit: int = typer.Option(200),
    json: bool = JsonOption,
) -> None:
    """The feed: findings that appeared, went away, came back or were analysed."""
    rows = fetch(
        lambda s: findings.finding_events(s, parse_time(since) if since else None, limit),
        lambda r: list(itertools.islice(r.pages("/findings/events", {"since": since}), limit)),
    )
    if json:
        emit_json(rows)
        return
    table = Table("at", "event", "vulnerability", "component", "package", "state")
    for r in rows:
        table.add_row(
            r["at"],
            r["kind"],
            r["vulnerability"],
            f"{r['component']} {r['version']}",
            r["purl"],
            r["state"] or "",
        )
    console.print(table)


vex_app = typer.Typer(help="VEX: export analysis, import others' statements.", no_args_is_help=True)


@vex_app.command("export")
def vex_export(
    component: str,
    version: str,
    fmt: str = typer.Option("openvex", "--format", help="openvex or cyclonedx"),
    author: str | None = typer.Option(None),
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: stdout."),
) -> None:
    """A component version's findings and their analysis as OpenVEX or CycloneDX VEX."""
    data = fetch(
        lambda s: vex.export_vex(s, component, version, fmt, author=author),
        lambda r: (
            r.send(
                "GET",
                f"/components/{quote(component)}/versions/{quote(version)}/vex",
                params={"format": fmt, "author": author},
            ).content
        ),
    )
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {output}")


@vex_app.command("import")
def vex_import(
    file: Path,
    component: str | None = typer.Option(None, help="Apply only to this component."),
    version: str | None = typer.Option(None, help="... and this version."),
    actor: str | None = typer.Option(None, help="Who (default: the document's author)."),
    json: bool = JsonOption,
) -> None:
    """Apply an OpenVEX or CycloneDX VEX document's statements as finding analysis."""
    limits = Limits.from_env()
    data = read_input(file, limits)
    params = {"component": component, "version": version, "actor": actor}
    report = fetch(
        lambda s: vex.import_vex(
            s, data, str(file), component=component, version=version, actor=actor, limits=limits
        ),
        lambda r: revive(
            vex.VexImportReport,
            r.request(
                "POST",
                "/vex",
                params=params,
                content=data,
                headers={"Content-Type": "application/json"},
            ),
        ),
    )
    if json:
        emit_json(report.to_dict())
        return
    console.print(
        f"{report.statements} statements: {report.applied} findings updated, "
        f"{len(report.unmatched)} statements matched no finding"
    )
    for line in report.unmatched:
        err_console.print(f"  unmatched: {line}", markup=False)


@advisories_app.command("sync")
def advisories_sync(
    ecosystem: list[str] = typer.Option(
        [], "--ecosystem", "-e", help="OSV ecosystem (repeatable). Default: those in use."
    ),
    source: str = typer.Option(DEFAULT_OSV_URL, help="Base URL of the OSV bucket or a mirror."),
    cache: Path | None = typer.Option(None, help="Download cache (default: user cache dir)."),
    json: bool = JsonOption,
) -> None:
    """Download OSV advisories incrementally and import what changed. The only command that
    touches the network."""
    cache_dir = cache or Path(user_cache_dir("meshward", appauthor=False)) / "osv"
    ecosystems = ecosystem or fetch(
        advisories.ecosystems_in_use, lambda r: r.get("/advisories/ecosystems")
    )
    if not ecosystems:
        raise MeshwardError("no ecosystem given and no SBOM stored yet: pass --ecosystem")
    with (
        OsvSync(source, cache_dir) as osv,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=json,
            transient=True,
        ) as progress,
    ):
        tasks: dict[str, TaskID] = {}

        def tick(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done, total=total)

        result = osv.sync(ecosystems, tick, save_state=False)
        paths = list(result.paths)
        report = fetch(
            lambda s: advisories.import_advisories(s, paths),
            lambda r: import_advisories_remote(r, paths, Limits.from_env()),
        )
        osv.save_state(result)
    if json:
        emit_json({"sync": result.to_dict(), "import": report.to_dict()})
        return
    for eco in result.ecosystems:
        console.print(f"{eco.ecosystem}: {eco.mode} ({eco.reason}), {eco.records} records")
    console.print(
        f"imported: {report.created} new, {report.updated} updated, {report.unchanged} unchanged"
    )


triage_app = typer.Typer(help="Triage rules and SLAs.", no_args_is_help=True)


@triage_app.command("add")
def triage_add(
    vulnerability: str = typer.Option(..., "--vuln", help="Any id or alias."),
    state: str = typer.Option(..., help="in_triage, exploitable, not_affected, ..."),
    scope: str = typer.Option("estate", help="estate, domain, application or component."),
    target: str | None = typer.Option(None, help="The domain/application/component covered."),
    justification: str | None = typer.Option(None),
    detail: str | None = typer.Option(None),
    package: str | None = typer.Option(None, help="Only this package name."),
    version_range: str | None = typer.Option(None, "--range", help="e.g. '>=2.0,<2.15'"),
    expires: str | None = typer.Option(None, help="ISO 8601 time the rule lapses."),
    author: str | None = typer.Option(None, help="Who (default: the OS user)."),
) -> None:
    """A rule that sets the analysis of current and future findings, until it expires. With
    --server the author on record is the token's name."""

    def local(session: Session) -> tuple[int, int]:
        rule, applied = triage.create_rule(
            session,
            scope=scope,
            target=target,
            vulnerability=vulnerability,
            state=state,
            author=author or getpass.getuser(),
            justification=justification,
            detail=detail,
            package=package,
            version_range=version_range,
            expires_at=parse_time(expires) if expires else None,
        )
        return rule.id, applied

    def remote(r: RemoteClient) -> tuple[int, int]:
        body = {
            "vulnerability": vulnerability,
            "state": state,
            "scope": scope,
            "target": target,
            "justification": justification,
            "detail": detail,
            "package": package,
            "version_range": version_range,
            "expires": expires,
        }
        answer = r.request("POST", "/triage/rules", json=body)
        return answer["id"], answer["applied"]

    rule_id, applied = fetch(local, remote)
    console.print(f"rule {rule_id}: {applied} findings set to {state}")


@triage_app.command("list")
def triage_list(json: bool = JsonOption) -> None:
    """Triage rules, live and lapsed, with how many findings each holds."""

    def local(session: Session) -> list[dict[str, Any]]:
        triage.apply_rules(session)
        return triage.list_rules(session)

    rows = fetch(local, lambda r: r.all("/triage/rules"))
    if json:
        emit_json(rows)
        return
    table = Table("id", "scope", "vulnerability", "package", "state", "expires", "live", "findings")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["scope"],
            r["vulnerability"],
            (r["package"] or "") + (f" {r['version_range']}" if r["version_range"] else ""),
            r["state"],
            r["expires_at"] or "",
            "yes" if r["live"] else "no",
            str(r["findings"]),
        )
    console.print(table)


@triage_app.command("revoke")
def triage_revoke(rule_id: int) -> None:
    """End a rule now; the findings it set go back to open."""
    fetch(
        lambda s: triage.revoke_rule(s, rule_id),
        lambda r: r.request("DELETE", f"/triage/rules/{rule_id}"),
    )
    console.print(f"rule {rule_id} revoked")


@triage_app.command("sla")
def triage_sla(
    severity: str,
    days: int,
    domain: str | None = typer.Option(None, help="Only this domain's subtree."),
) -> None:
    """Days to fix a finding of SEVERITY (defaults: critical 15, high 30, medium 90, low 180)."""
    fetch(
        lambda s: triage.set_sla(s, severity, days, domain),
        lambda r: r.request(
            "PUT", f"/triage/sla/{quote(severity)}", json={"days": days, "domain": domain}
        ),
    )
    console.print(f"{severity}: {days} days" + (f" in {domain}" if domain else ""))


@triage_app.command("stats")
def triage_stats(json: bool = JsonOption) -> None:
    """Mean time to remediate by severity, from a package's first appearance in a component."""
    stats = fetch(triage.remediation_stats, lambda r: r.get("/triage/stats"))
    if json:
        emit_json(stats)
        return
    table = Table("severity", "open", "remediated", "mean days to remediate")
    for sev, s in stats.items():
        table.add_row(
            sev, str(s["open"]), str(s["remediated"]), str(s["mean_days_to_remediate"] or "-")
        )
    console.print(table)
