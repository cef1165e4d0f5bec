"""``meshward notify ...``: channels, rules on the event feed, runs and the daily digest."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from rich.table import Table

from meshward.cli.common import JsonOption, console, emit_json, open_store, session_scope
from meshward.cli.remote import local_only
from meshward.errors import MeshwardError
from meshward.services import notifications as nt
from meshward.services.catalog import parse_time
from meshward.services.tickets import durable_session

notify_app = typer.Typer(
    help="Notifications: webhook, Slack, Teams and email, routed by the catalog.",
    no_args_is_help=True,
)
channel_app = typer.Typer(help="Where notifications may go.", no_args_is_help=True)
rule_app = typer.Typer(help="Which events go where.", no_args_is_help=True)
notify_app.add_typer(channel_app, name="channel")
notify_app.add_typer(rule_app, name="rule")

LOCAL = "it sends with secrets from the environment where the database is"


@channel_app.command("add")
def channel_add(
    name: str,
    kind: str = typer.Argument(..., help="webhook, slack, teams or email"),
    url: str | None = typer.Option(None, help="Webhook URL (a generic webhook's)."),
    url_env: str | None = typer.Option(
        None, help="NAME of a variable holding the URL (Slack and Teams URLs are secrets)."
    ),
    secret_env: str | None = typer.Option(
        None, help="NAME of the variable holding the webhook HMAC key, or the SMTP password."
    ),
    smtp_host: str | None = typer.Option(None, help="email: the SMTP server."),
    smtp_port: int = typer.Option(587, help="email: its port."),
    sender: str | None = typer.Option(None, help="email: the From address."),
    username: str | None = typer.Option(None, help="email: SMTP login."),
    starttls: str = typer.Option("auto", help="email: auto (when offered) or require."),
    recipient: list[str] = typer.Option(
        [], "--recipient", help="email: address for rules routed to the channel itself."
    ),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="teams: host pattern allowed for teams' own webhooks."
    ),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Allow a loopback destination (a receiver on this host)."
    ),
    json: bool = JsonOption,
) -> None:
    """Configure a channel (again: change it)."""
    settings: dict[str, Any] = {}
    if kind == "email":
        if starttls not in ("auto", "require"):
            raise MeshwardError("--starttls is auto or require")
        settings = {
            "host": smtp_host,
            "port": smtp_port,
            "sender": sender,
            "username": username,
            "starttls": starttls,
            "recipients": recipient,
        }
    if allowed_host:
        settings["allowed_hosts"] = allowed_host
    with session_scope() as session:
        view = nt.add_channel(
            session,
            name,
            kind,
            url=url,
            url_env=url_env,
            secret_env=secret_env,
            settings=settings,
            allow_private=allow_private,
        )
    if json:
        emit_json(view)
    else:
        console.print(f"channel {name} ({kind})", markup=False)


@channel_app.command("list")
def channel_list(json: bool = JsonOption) -> None:
    with session_scope() as session:
        rows = nt.list_channels(session)
    if json:
        emit_json(rows)
        return
    table = Table("name", "kind", "destination", "secret from")
    for r in rows:
        where = r["url"] or (f"${r['url_env']}" if r["url_env"] else r["settings"].get("host"))
        table.add_row(
            r["name"], r["kind"], where or "", f"${r['secret_env']}" if r["secret_env"] else ""
        )
    console.print(table)


@rule_app.command("add")
def rule_add(
    name: str,
    event: str = typer.Argument(..., help=", ".join(nt.EVENTS)),
    channel: str = typer.Argument(...),
    route: str = typer.Option("channel", help="channel, or owner: the affected service's team."),
    only_prod: bool = typer.Option(False, "--only-prod", help="Only services running in prod."),
    latest_only: bool = typer.Option(
        False, "--latest-only", help="Only the newest version of a service."
    ),
    min_severity: str | None = typer.Option(None, help="critical, high, medium or low."),
    min_services: int = typer.Option(1, help="kb_update: at least this many services changed."),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Allow a loopback destination for this rule."
    ),
    json: bool = JsonOption,
) -> None:
    """Send EVENT to CHANNEL (again: change the rule)."""
    with session_scope() as session:
        view = nt.add_rule(
            session,
            name,
            event,
            channel,
            route=route,
            only_prod=only_prod,
            latest_only=latest_only,
            min_severity=min_severity,
            min_services=min_services,
            allow_private=allow_private,
        )
    if json:
        emit_json(view)
    else:
        console.print(f"rule {name}: {event} -> {channel} ({route})", markup=False)


@rule_app.command("list")
def rule_list(json: bool = JsonOption) -> None:
    with session_scope() as session:
        rows = nt.list_rules(session)
    if json:
        emit_json(rows)
        return
    table = Table("name", "event", "channel", "route", "filters", "last run")
    for r in rows:
        filters = [
            f for f, on in (("prod", r["only_prod"]), ("latest", r["latest_only"])) if on
        ] + ([f">={r['min_severity']}"] if r["min_severity"] else [])
        table.add_row(
            r["name"],
            r["event"],
            r["channel"],
            r["route"],
            " ".join(filters),
            r["last_run_at"] or "",
        )
    console.print(table)


def _print(report: nt.RunReport, json: bool) -> None:
    if json:
        emit_json(report.to_dict())
        return
    head = "would send" if report.dry_run else "queued"
    console.print(
        f"{report.events} events; {head} {len(report.planned)} deliveries; sent {report.sent}, "
        f"failed {report.failed}, refused {report.refused}; {report.pending} waiting",
        markup=False,
    )
    table = Table("rule", "channel", "recipient", "event", "title")
    for d in report.planned:
        table.add_row(d["rule"] or "digest", d["channel"], d["recipient"], d["event"], d["title"])
    if report.planned:
        console.print(table)
    for line in report.unroutable:
        console.print(f"no address: {line}", markup=False)
    for error in report.errors:
        console.print(f"error: {error}", markup=False)


@notify_app.command("run")
def run(
    since: str | None = typer.Option(None, help="ISO 8601 time (default: each rule's last run)."),
    rule: str | None = typer.Option(None, help="Only this rule."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be sent."),
    json: bool = JsonOption,
) -> None:
    """Evaluate the rules, queue new deliveries and send what is due (retries included)."""
    local_only(LOCAL)
    store = open_store()
    try:
        with durable_session(store) as session:
            report = nt.run_notifications(
                session, since=parse_time(since) if since else None, rule=rule, dry_run=dry_run
            )
    finally:
        store.dispose()
    _print(report, json)


@notify_app.command("digest")
def digest(
    channel: str = typer.Option(..., "--channel", help="Send through this channel, per team."),
    day: str | None = typer.Option(None, help="YYYY-MM-DD (default: yesterday)."),
    dry_run: bool = typer.Option(False, "--dry-run"),
    json: bool = JsonOption,
) -> None:
    """One summary per team of what changed for its services in a day."""
    local_only(LOCAL)
    try:
        which = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise MeshwardError(f"--day takes YYYY-MM-DD, not {day!r}") from exc
    store = open_store()
    try:
        with durable_session(store) as session:
            report = nt.daily_digest(session, channel, day=which, dry_run=dry_run)
    finally:
        store.dispose()
    _print(report, json)


@notify_app.command("deliveries")
def deliveries(
    status: str | None = typer.Option(None, help="pending, sent, refused or dead."),
    json: bool = JsonOption,
) -> None:
    """What was sent (or not), newest first."""
    with session_scope() as session:
        rows = nt.list_deliveries(session, status=status)
    if json:
        emit_json(rows)
        return
    table = Table("id", "channel", "recipient", "event", "status", "tries", "code", "error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["channel"],
            r["recipient"],
            r["event"],
            r["status"],
            str(r["attempts"]),
            str(r["response_code"] or ""),
            (r["last_error"] or "")[:60],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
