"""``meshward app risk``, ``meshward domain risk|trend`` and ``meshward risk ...``: the roll-up
of findings and risk (docs/risk.md) and the exploitation evidence it weighs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from meshward.cli.common import JsonOption, console, emit_json
from meshward.cli.remote import RemoteClient, fetch, quote, revive
from meshward.cli.sbom import read_input
from meshward.formats.epss import read_epss
from meshward.formats.kev import read_kev
from meshward.limits import Limits
from meshward.services import exploitation, rollup, triage
from meshward.services.exploitation import ExploitImport
from meshward.services.rollup import RiskRollup, SnapshotReport, TrendPoint

risk_app = typer.Typer(
    help="Risk: import exploitation evidence (KEV, EPSS), take daily snapshots.",
    no_args_is_help=True,
)
domain_app = typer.Typer(help="Domains: risk roll-up and its trend.", no_args_is_help=True)

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def register(app: typer.Typer, app_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `app` group."""
    app.add_typer(risk_app, name="risk")
    app.add_typer(domain_app, name="domain")
    app_app.command("risk")(app_risk)
    app_app.command("trend")(app_trend)


# ---------------------------------------------------------------- roll-ups


def app_risk(
    application: str = typer.Argument(..., help="Application name or reference."),
    version: str | None = typer.Option(None, "--version", help="Default: the latest."),
    json: bool = JsonOption,
) -> None:
    """Findings and risk of an application version, rolled up from its components."""

    def local(session: Session) -> RiskRollup:
        triage.apply_rules(session)
        return rollup.application_risk(session, application, version)

    roll = fetch(
        local,
        lambda r: revive(RiskRollup, r.get(f"/apps/{quote(application)}/risk", version=version)),
    )
    _show(roll, json)


def domain_risk(
    domain: str = typer.Argument(..., help="Domain path, e.g. acme.payments (its subtree)."),
    json: bool = JsonOption,
) -> None:
    """Findings and risk of a domain and everything under it (versions running now)."""

    def local(session: Session) -> RiskRollup:
        triage.apply_rules(session)
        return rollup.domain_risk(session, domain)

    roll = fetch(local, lambda r: revive(RiskRollup, r.get(f"/domains/{quote(domain)}/risk")))
    _show(roll, json)


domain_app.command("risk")(domain_risk)


def app_trend(
    application: str,
    days: int = typer.Option(30, help="How many days back, today included."),
    json: bool = JsonOption,
) -> None:
    """The daily snapshots of an application's roll-up (see `meshward risk snapshot`)."""
    points = fetch(
        lambda s: rollup.risk_trend(s, "application", application, days),
        lambda r: _trend(r, f"/apps/{quote(application)}/trend", days),
    )
    _show_trend(f"application {application}", points, json)


def domain_trend(
    domain: str,
    days: int = typer.Option(30, help="How many days back, today included."),
    json: bool = JsonOption,
) -> None:
    """The daily snapshots of a domain's roll-up (see `meshward risk snapshot`)."""
    points = fetch(
        lambda s: rollup.risk_trend(s, "domain", domain, days),
        lambda r: _trend(r, f"/domains/{quote(domain)}/trend", days),
    )
    _show_trend(f"domain {domain}", points, json)


domain_app.command("trend")(domain_trend)


def _trend(remote: RemoteClient, path: str, days: int) -> list[TrendPoint]:
    return [revive(TrendPoint, p) for p in remote.get(path, days=days)]


def _severity_cells(counts: dict[str, int]) -> list[str]:
    cells = []
    for sev in ("critical", "high", "medium", "low"):
        n = counts.get(sev, 0)
        cells.append(f"[{SEVERITY_STYLE[sev]}]{n}[/]" if n else "0")
    return cells


def _show(roll: RiskRollup, json: bool) -> None:
    if json:
        emit_json(roll.to_dict())
        return
    title = f"{roll.name} {roll.version}" if roll.version else roll.name
    console.print(f"[b]{roll.scope} {title}[/b]  risk score [b]{roll.risk_score:.2f}[/b]")
    summary = Table(
        "findings",
        "critical",
        "high",
        "medium",
        "low",
        "vulnerabilities",
        "services",
        "fixable now",
        "in KEV",
    )
    summary.add_row(
        str(roll.findings),
        *_severity_cells(roll.by_severity),
        str(roll.vulnerabilities),
        str(roll.services),
        str(roll.fixable),
        f"[bold red]{roll.kev}[/]" if roll.kev else "0",
    )
    console.print(summary)
    table = Table(
        "component",
        "version",
        "findings",
        "crit",
        "high",
        "med",
        "low",
        "fixable",
        "KEV",
        "internet",
        "prod",
        "consumers",
        "risk",
        title="by component version",
    )
    for c in roll.components:
        table.add_row(
            c.component,
            c.version,
            str(c.findings),
            *_severity_cells(c.by_severity),
            str(c.fixable),
            str(c.kev) if c.kev else "",
            c.internet or "",
            "yes" if c.production else "",
            str(c.consumers),
            f"{c.risk_score:.2f}",
        )
    console.print(table)


def _show_trend(title: str, points: list[TrendPoint], json: bool) -> None:
    if json:
        emit_json(points)
        return
    table = Table(
        "day",
        "version",
        "findings",
        "critical",
        "high",
        "fixable",
        "KEV",
        "risk",
        title=title,
    )
    for p in points:
        table.add_row(
            p.day,
            p.version or "",
            str(p.findings),
            str(p.critical),
            str(p.high),
            str(p.fixable),
            str(p.kev),
            f"{p.risk_score:.2f}",
        )
    console.print(table)
    if not points:
        console.print("no snapshots yet: `meshward risk snapshot` takes today's")


# ---------------------------------------------------------------- evidence, snapshots


@risk_app.command("import-kev")
def import_kev(
    file: Path = typer.Argument(..., help="CISA known_exploited_vulnerabilities.json"),
    allow_older: bool = typer.Option(False, help="Accept a catalog older than the stored one."),
    json: bool = JsonOption,
) -> None:
    """Load CISA's Known Exploited Vulnerabilities catalog (replaces the stored one)."""
    limits = Limits.from_env()
    data = read_input(file, limits)
    catalog = read_kev(data, str(file), limits)  # a bad file is named here, not on the server
    report = fetch(
        lambda s: exploitation.import_kev(s, catalog, allow_older=allow_older),
        lambda r: _upload(r, "/risk/kev", data, allow_older),
    )
    _show_import(report, json)


@risk_app.command("import-epss")
def import_epss(
    file: Path = typer.Argument(..., help="FIRST epss_scores-YYYY-MM-DD.csv (or .csv.gz)"),
    allow_older: bool = typer.Option(False, help="Accept scores older than the stored ones."),
    json: bool = JsonOption,
) -> None:
    """Load a day of EPSS scores (replaces the stored ones)."""
    limits = Limits.from_env()
    data = read_input(file, limits)
    scores = read_epss(data, str(file), limits)  # a bad file is named here, not on the server
    report = fetch(
        lambda s: exploitation.import_epss(s, scores, allow_older=allow_older),
        lambda r: _upload(r, "/risk/epss", data, allow_older),
    )
    _show_import(report, json)


def _upload(remote: RemoteClient, path: str, data: bytes, allow_older: bool) -> ExploitImport:
    answer = remote.request("POST", path, content=data, params={"allow_older": allow_older})
    return revive(ExploitImport, answer)


def _show_import(report: ExploitImport, json: bool) -> None:
    if json:
        emit_json(report.to_dict())
        return
    what = "KEV catalog" if report.source == "kev" else "EPSS scores of"
    console.print(
        f"{what} {report.release or '(undated)'}: {report.entries} entries; "
        f"{report.added} added, {report.changed} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged"
    )


@risk_app.command("snapshot")
def snapshot(json: bool = JsonOption) -> None:
    """Record today's roll-up of every application and domain (again today: replaced)."""

    def local(session: Session) -> SnapshotReport:
        triage.apply_rules(session)
        return rollup.snapshot_rollups(session)

    report = fetch(local, lambda r: revive(SnapshotReport, r.request("POST", "/risk/snapshot")))
    if json:
        emit_json(report)
        return
    console.print(
        f"snapshot {report.day}: {report.applications} applications, {report.domains} domains "
        f"({report.created} new, {report.updated} updated, {report.removed} removed)"
    )


@risk_app.command("status")
def status(json: bool = JsonOption) -> None:
    """Which exploitation evidence is loaded."""
    info = fetch(exploitation.exploitation_status, lambda r: r.get("/risk/status"))
    if json:
        emit_json(info)
        return
    kev, epss = info["kev"], info["epss"]
    console.print(f"KEV: {kev['catalog_version'] or 'not loaded'} ({kev['entries']} entries)")
    console.print(f"EPSS: {epss['score_date'] or 'not loaded'} ({epss['scores']} scores)")
