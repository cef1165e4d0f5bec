"""``meshward tickets ...``: trackers (Jira, GitHub) and the sync of control tasks and
findings with them. Runs where the database is: tracker tokens come from its environment."""

from __future__ import annotations

import typer
from rich.table import Table

from meshward.cli.common import JsonOption, console, emit_json, open_store, session_scope
from meshward.cli.remote import local_only
from meshward.services import tickets
from meshward.services.notifications import default_web_url

tickets_app = typer.Typer(
    help="Control tasks and findings as Jira or GitHub issues, in sync both ways.",
    no_args_is_help=True,
)
target_app = typer.Typer(help="Trackers meshward may write to.", no_args_is_help=True)
tickets_app.add_typer(target_app, name="target")

LOCAL = "it talks to the trackers with tokens from the environment where the database is"
VERBS = {
    "create": "created",
    "update": "updated",
    "close": "closed",
    "reopen": "reopened",
    "comment": "commented",
    "adopt": "adopted",
    "task_done": "task done",
    "task_reopened": "task reopened",
}


@target_app.command("add")
def target_add(
    name: str,
    kind: str = typer.Argument(..., help="jira or github"),
    base_url: str = typer.Argument(
        ..., help="https://acme.atlassian.net, https://jira.internal or https://api.github.com"
    ),
    project: str = typer.Argument(..., help="Jira project key (SEC) or GitHub OWNER/REPO."),
    secret_env: str = typer.Option(
        ..., "--secret-env", help="NAME of the environment variable holding the token."
    ),
    auth: str = typer.Option(
        "bearer", help="basic (Jira Cloud: --user + API token) or bearer (Data Center PAT, GitHub)."
    ),
    user: str | None = typer.Option(None, help="Account email, for basic auth."),
    api_version: str = typer.Option("3", help="Jira REST API: 3 (Cloud, ADF) or 2 (wiki markup)."),
    grouping: str = typer.Option(
        "control_service", help="control_service or vulnerability_application."
    ),
    label: list[str] = typer.Option([], "--label", help="Extra label on every ticket."),
    min_priority: str | None = typer.Option(None, help="Only controls of this priority or higher."),
    issue_type: str = typer.Option("Task", help="Jira issue type."),
    done_transition: str = typer.Option("Done", help="Jira transition that closes."),
    reopen_transition: str = typer.Option("To Do", help="Jira transition that reopens."),
    web_url: str = typer.Option(
        None, help="meshward's address for back-links (default: MESHWARD_PUBLIC_URL)."
    ),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Allow a loopback address (a tracker on this host)."
    ),
    json: bool = JsonOption,
) -> None:
    """Configure a tracker (again: change it). The token itself is never stored."""
    with session_scope() as session:
        view = tickets.add_target(
            session,
            name,
            kind,
            base_url,
            project,
            secret_env=secret_env,
            auth_kind=auth,
            auth_user=user,
            api_version=api_version,
            grouping=grouping,
            labels=label,
            min_priority=min_priority,
            issue_type=issue_type,
            done_transition=done_transition,
            reopen_transition=reopen_transition,
            web_url=web_url or default_web_url(),
            allow_private=allow_private,
        )
    if json:
        emit_json(view)
    else:
        console.print(f"ticket target {name}: {kind} {view['base_url']} {project}", markup=False)


@target_app.command("list")
def target_list(json: bool = JsonOption) -> None:
    """Configured trackers (the names of their secrets' variables, never the secrets)."""
    with session_scope() as session:
        rows = tickets.list_targets(session)
    if json:
        emit_json(rows)
        return
    table = Table("name", "kind", "url", "project", "grouping", "secret from", "last sync")
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            r["base_url"],
            r["project"],
            r["grouping"],
            f"${r['secret_env']}",
            r["last_sync_at"] or "",
        )
    console.print(table)


@target_app.command("remove")
def target_remove(name: str) -> None:
    """Forget a tracker, its links and its queue (the tickets stay where they are)."""
    with session_scope() as session:
        tickets.remove_target(session, name)
    console.print(f"ticket target {name} removed")


@tickets_app.command("sync")
def sync(
    target: str | None = typer.Option(None, "--target", help="Only this tracker."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would be created, updated, closed, reopened."
    ),
    json: bool = JsonOption,
) -> None:
    """Push tasks (or findings) to the trackers and take back what people did there. Changes
    that fail wait in a queue and are retried by the next sync."""
    local_only(LOCAL)
    store = open_store()
    try:
        with tickets.durable_session(store) as session:
            reports = tickets.sync_all(session, name=target, dry_run=dry_run)
    finally:
        store.dispose()
    if json:
        emit_json([r.to_dict() for r in reports])
        return
    for report in reports:
        data = report.to_dict()
        counts = ", ".join(f"{n} {VERBS[a]}" for a, n in data["counts"].items() if n) or "nothing"
        head = "would do" if report.dry_run else "did"
        console.print(
            f"[b]{report.target}[/b]: {head} {counts}; {report.pending} queued"
            + (f", {report.dead} given up" if report.dead else ""),
        )
        table = Table("action", "subject", "ticket")
        for a in report.actions:
            table.add_row(a["action"], a["subject"] or a["key"], a.get("ticket") or "")
        if report.actions:
            console.print(table)
        for error in report.errors:
            console.print(f"[yellow]{error}[/yellow]", markup=True, highlight=False)


@tickets_app.command("links")
def links(
    target: str | None = typer.Option(None, "--target"),
    json: bool = JsonOption,
) -> None:
    """Which ticket stands for which task or vulnerability, and its state."""
    with session_scope() as session:
        rows = tickets.list_links(session, target=target)
    if json:
        emit_json(rows)
        return
    table = Table("target", "subject", "ticket", "remote", "meshward", "url")
    for r in rows:
        table.add_row(
            r["target"],
            r["subject"],
            r["ticket"],
            r["remote_status"],
            r["local_state"],
            r["url"] or "",
        )
    console.print(table)


@tickets_app.command("queue")
def queue(target: str | None = typer.Option(None, "--target"), json: bool = JsonOption) -> None:
    """Changes waiting to be made remotely, with their attempts and last error."""
    with session_scope() as session:
        rows = tickets.list_outbox(session, target)
    if json:
        emit_json(rows)
        return
    table = Table("target", "kind", "subject", "status", "attempts", "next attempt", "last error")
    for r in rows:
        table.add_row(
            r["target"],
            r["kind"],
            r["subject"] or r["key"],
            r["status"],
            str(r["attempts"]),
            r["next_attempt_at"] or "",
            (r["last_error"] or "")[:80],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(tickets_app, name="tickets")
