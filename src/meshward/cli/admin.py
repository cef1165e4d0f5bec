"""``meshward audit ...``, ``meshward token ...`` and ``meshward serve``."""

from __future__ import annotations

import getpass
import itertools

import typer
from rich.table import Table

from meshward.cli.common import JsonOption, console, emit_json, err_console, session_scope, state
from meshward.cli.remote import fetch, local_only, quote, revive
from meshward.services import auth
from meshward.services.audit import list_audit_events
from meshward.services.catalog import parse_time

audit_app = typer.Typer(help="The audit trail: every change, by CLI or API.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@audit_app.command("list")
def audit_list(
    since: str | None = typer.Option(None, help="ISO 8601 time."),
    kind: str | None = typer.Option(None, help="Entity kind (component, finding, ...)."),
    actor: str | None = typer.Option(None),
    limit: int = typer.Option(200),
    json: bool = JsonOption,
) -> None:
    """Changes, newest first: who, through what, what, and before/after in short."""
    rows = fetch(
        lambda s: list_audit_events(
            s,
            since=parse_time(since) if since else None,
            entity_kind=kind,
            actor=actor,
            limit=limit,
        ),
        lambda r: list(
            itertools.islice(
                r.pages("/audit", {"since": since, "kind": kind, "actor": actor}), limit
            )
        ),
    )
    if json:
        emit_json(rows)
        return
    table = Table("at", "actor", "via", "action", "entity", "change")
    for r in rows:
        change = ", ".join(
            f"{k}: {(r['before'] or {}).get(k)} -> {v}" for k, v in (r["after"] or {}).items()
        )
        table.add_row(
            r["at"], r["actor"], r["via"], r["action"], r["entity_key"] or "", change[:120]
        )
    console.print(table)


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="viewer, editor or admin."),
    domain: str | None = typer.Option(None, help="Domain subtree (default: the whole estate)."),
    scope: list[str] = typer.Option([], help="read, write, admin (default: what the role has)."),
    name: str | None = typer.Option(None, help="Default: ROLE-DOMAIN-<random>."),
    expires: str | None = typer.Option(None, help="ISO 8601 time the token stops working."),
    json: bool = JsonOption,
) -> None:
    """A bearer token for the API. The secret is printed once and never stored."""
    import secrets

    local_only(
        "a token is made where the database is, so that no token can mint another "
        "(list and revoke work remotely)"
    )
    label = name or f"{role}-{domain or 'estate'}-{secrets.token_hex(3)}"
    with session_scope() as session:
        view, secret = auth.create_token(
            session,
            label,
            role=role,
            domain=domain,
            scopes=scope or None,
            expires_at=parse_time(expires) if expires else None,
            created_by=_os_user(),
        )
    if json:
        emit_json({**view.to_dict(), "token": secret})
        return
    console.print(f"token {view.name} ({role} on {domain or 'the estate'}):")
    console.print(secret, markup=False, soft_wrap=True)
    err_console.print("keep it now: it is not stored and cannot be shown again")


@token_app.command("list")
def token_list(json: bool = JsonOption) -> None:
    """Tokens (never their secrets), with roles and when they were last used."""
    views = fetch(auth.list_tokens, lambda r: [revive(auth.TokenView, v) for v in r.all("/tokens")])
    if json:
        emit_json([v.to_dict() for v in views])
        return
    table = Table("name", "prefix", "roles", "scopes", "expires", "revoked", "last used")
    for v in views:
        roles = ", ".join(f"{r['role']}@{r['domain'] or 'estate'}" for r in v.roles)
        table.add_row(
            v.name,
            v.prefix,
            roles,
            ",".join(v.scopes),
            v.expires_at or "",
            v.revoked_at or "",
            v.last_used_at or "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Stop a token from working, now."""
    fetch(
        lambda s: auth.revoke_token(s, name),
        lambda r: r.request("DELETE", f"/tokens/{quote(name)}"),
    )
    console.print(f"token {name} revoked")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Processes serving requests (one per core is a good start).",
    ),
) -> None:
    """Run the REST API (OpenAPI at /openapi.json, docs at /docs) under uvicorn."""
    local_only("it serves a database of its own (--db or MESHWARD_DATABASE_URL)")
    import uvicorn

    from meshward.api.app import create_app, tune_gc
    from meshward.store.db import resolve_database_url

    url = resolve_database_url(state.db_url)
    if workers == 1:
        tune_gc()
        uvicorn.run(create_app(url), host=host, port=port, log_level="info")
        return
    import os
    import secrets

    from meshward.web.session import SECRET_ENV

    # the workers are new processes: they read the database and the session key from the
    # environment, so a cookie signed by one worker is good at every other
    os.environ["MESHWARD_DATABASE_URL"] = url
    os.environ.setdefault(SECRET_ENV, secrets.token_urlsafe(48))
    create_app(url).state.store.dispose()  # migrates once, before any worker starts
    uvicorn.run(
        "meshward.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    """Add ``audit``, ``token`` and ``serve`` to the root command."""
    app.add_typer(audit_app, name="audit")
    app.add_typer(token_app, name="token")
    app.command("serve")(serve)
