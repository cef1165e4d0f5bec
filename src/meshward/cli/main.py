"""The ``meshward`` command: a thin shell over the services."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.tree import Tree
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from meshward import __version__
from meshward.cli import admin as admin_cli
from meshward.cli import diff as diff_cli
from meshward.cli import impact as impact_cli
from meshward.cli import notify as notify_cli
from meshward.cli import risk as risk_cli
from meshward.cli import scans as scans_cli
from meshward.cli import threats as threats_cli
from meshward.cli import tickets as tickets_cli
from meshward.cli.common import JsonOption, console, emit_json, err_console, session_scope, state
from meshward.cli.k8s import k8s_app
from meshward.cli.remote import RemoteClient, fetch, local_only, quote, revive
from meshward.cli.sbom import sbom_app
from meshward.cli.upload import import_catalog_remote
from meshward.cli.vulns import advisories_app, findings_app, triage_app, vex_app
from meshward.errors import MeshwardError
from meshward.services import catalog, findings
from meshward.services.catalog_import import import_catalog
from meshward.services.impact import blast_radius
from meshward.store.db import Store, current_revision, head_revision, upgrade

app = typer.Typer(
    help="meshward: what runs where, what is in it, what is vulnerable, and who is affected.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
catalog_app = typer.Typer(help="The service catalog: import, tree, show.", no_args_is_help=True)
component_app = typer.Typer(help="Components and their versions.", no_args_is_help=True)
component_version_app = typer.Typer(help="Component versions.", no_args_is_help=True)
app_app = typer.Typer(help="Logical applications.", no_args_is_help=True)
app_version_app = typer.Typer(help="Application versions.", no_args_is_help=True)
deploy_app = typer.Typer(help="Environments and deployments.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(component_app, name="component")
component_app.add_typer(component_version_app, name="version")
app.add_typer(app_app, name="app")
app_app.add_typer(app_version_app, name="version")
app.add_typer(deploy_app, name="deploy")
app.add_typer(sbom_app, name="sbom")
app.add_typer(advisories_app, name="advisories")
app.add_typer(findings_app, name="findings")
app.add_typer(vex_app, name="vex")
app.add_typer(triage_app, name="triage")
app.add_typer(k8s_app, name="k8s")
for _module in (impact_cli, risk_cli, diff_cli):
    _module.register(app, app_app)
admin_cli.register(app)
scans_cli.register(app)
threats_cli.register(app)
tickets_cli.register(app)
notify_cli.register(app)


@app.callback()
def _root(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: MESHWARD_DATABASE_URL, else a SQLite file)."
    ),
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="MESHWARD_SERVER",
        help="Act on a central meshward over its API (token in MESHWARD_TOKEN).",
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        console.print(f"meshward {__version__}")
        raise typer.Exit()
    state.db_url = db
    state.server = server


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    local_only("it migrates the database it runs next to (the server's: run it there)")
    store = Store(state.db_url, migrate=False)
    before = current_revision(store.engine)
    upgrade(store.engine)
    after = current_revision(store.engine)
    console.print(f"database at {after}" + (f" (was {before})" if before != after else ""))
    store.dispose()


@db_app.command("status")
def db_status(json: bool = JsonOption) -> None:
    """Show the schema revision and whether it is current."""
    local_only("it reads a local database's schema (a server's readiness: GET /readyz)")
    store = Store(state.db_url, migrate=False)
    info = {
        "url": store.engine.url.render_as_string(hide_password=True),
        "revision": current_revision(store.engine),
        "head": head_revision(store.engine),
    }
    store.dispose()
    if json:
        emit_json(info)
    else:
        for k, v in info.items():
            console.print(f"{k}: {v}")


# ---------------------------------------------------------------- catalog


@catalog_app.command("import")
def catalog_import(
    paths: list[Path] = typer.Argument(..., help="catalog-info.yaml files or directories."),
    json: bool = JsonOption,
) -> None:
    """Import Backstage descriptors (Domain, System, Component, API, Resource, Group, User,
    Location). The same files again change nothing; a bad file changes nothing at all."""
    report = fetch(
        lambda s: import_catalog(s, paths), lambda r: import_catalog_remote(r, list(paths))
    )
    if json:
        emit_json(report.to_dict())
        return
    created = ", ".join(f"{n} {k}" for k, n in sorted(report.created.items())) or "nothing"
    updated = ", ".join(f"{n} {k}" for k, n in sorted(report.updated.items())) or "nothing"
    console.print(
        f"{report.files} files: created {created}; updated {updated}; {report.unchanged} unchanged"
    )
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", markup=False)


@catalog_app.command("tree")
def catalog_tree(json: bool = JsonOption) -> None:
    """Domains, their applications and components."""
    tree = fetch(catalog.catalog_tree, lambda r: r.get("/catalog/tree"))
    if json:
        emit_json(tree)
        return
    root = Tree("[b]catalog[/b]")

    def add_apps_and_components(node: Tree, data: dict[str, Any]) -> None:
        for a in data["applications"]:
            app_node = node.add(f"[cyan]app[/cyan] {a['name']}  [dim]{a['owner'] or ''}[/dim]")
            for c in a["components"]:
                app_node.add(f"{c['name']} [dim]({c['kind']}, {c['lifecycle'] or '-'})[/dim]")
        for c in data["components"]:
            node.add(f"{c['name']} [dim]({c['kind']}, {c['lifecycle'] or '-'})[/dim]")

    def add_domain(node: Tree, d: dict[str, Any]) -> None:
        dn = node.add(
            f"[magenta]domain[/magenta] [b]{d['path']}[/b]  [dim]{d['owner'] or ''}[/dim]"
        )
        for sub in d["domains"]:
            add_domain(dn, sub)
        add_apps_and_components(dn, d)

    for d in tree["domains"]:
        add_domain(root, d)
    if tree["applications"] or tree["components"]:
        add_apps_and_components(root.add("[dim](no domain)[/dim]"), tree)
    console.print(root)


@catalog_app.command("show")
def catalog_show(
    entity: str = typer.Argument(..., help="cart, component:cart, api:default/cart, team-a ..."),
    json: bool = JsonOption,
) -> None:
    """One entity with all its relations, in both directions."""
    view = fetch(
        lambda s: catalog.show_entity(s, entity),
        lambda r: r.get(f"/catalog/entities/{quote(entity)}"),
    )
    if json:
        emit_json(view)
        return
    console.print(f"[b]{view['ref']}[/b]  {view.get('title') or ''}")
    if view.get("description"):
        console.print(view["description"], markup=False)
    for section in ("component", "application", "domain"):
        if section in view:
            for k, v in view[section].items():
                console.print(f"  {k}: {v}", markup=False)
    table = Table("relation", "entity", "resolved", title="relations")
    for rel in view["relations"]:
        table.add_row(rel["type"], rel["target"], "yes" if rel["resolved"] else "[yellow]no[/]")
    console.print(table)
    if view.get("versions"):
        vt = Table(*view["versions"][0].keys(), title="versions")
        for v in view["versions"]:
            vt.add_row(*(str(x) if x is not None else "" for x in v.values()))
        console.print(vt)
    if view.get("deployments"):
        _print_deployments([catalog.DeploymentView(**d) for d in view["deployments"]])


@catalog_app.command("links")
def catalog_links(json: bool = JsonOption) -> None:
    """Runtime API links: which component consumes which API, provided by whom."""
    links = fetch(
        catalog.api_links,
        lambda r: [catalog.ApiLinkView(**x) for x in r.all("/links")],
    )
    if json:
        emit_json([asdict(link) for link in links])
        return
    table = Table("consumer", "api", "provider")
    for link in links:
        table.add_row(link.consumer, link.api, link.provider or "[yellow](unknown)[/]")
    console.print(table)


# ---------------------------------------------------------------- components


@component_app.command("add")
def component_add(
    name: str,
    kind: str = typer.Option("service", help="service, website, library, job"),
    owner: str | None = typer.Option(None),
    domain: str | None = typer.Option(None, help="Domain path, e.g. acme.payments"),
    application: str | None = typer.Option(None, "--app"),
) -> None:
    """Add a component by hand (most come from `catalog import`)."""
    body = {
        "name": name,
        "kind": kind,
        "owner": owner,
        "domain": domain,
        "application": application,
    }
    key = fetch(
        lambda s: (
            catalog.create_component(
                s, name, kind=kind, owner=owner, domain=domain, application=application
            ).key
        ),
        lambda r: r.request("POST", "/components", json=body)["ref"],
    )
    console.print(f"component {key}")


@component_version_app.command("add")
def component_version_add(
    component: str,
    version: str,
    image: str | None = typer.Option(None, help="Image reference, e.g. reg/cart:1.2@sha256:..."),
    digest: str | None = typer.Option(None, help="Image digest (sha256:...)."),
    commit: str | None = typer.Option(None, help="Git commit of the build."),
    json: bool = JsonOption,
) -> None:
    """Record a build of a component. The same values again change nothing."""

    def local(session: Session) -> tuple[catalog.ComponentVersionView, bool]:
        cv, changed = catalog.add_component_version(
            session, component, version, image=image, digest=digest, commit=commit
        )
        return catalog.ComponentVersionView.of(cv.component, cv), changed

    def remote(r: RemoteClient) -> tuple[catalog.ComponentVersionView, bool]:
        body = {"version": version, "image": image, "digest": digest, "commit": commit}
        answer = r.request("POST", f"/components/{quote(component)}/versions", json=body)
        changed = answer.pop("changed")
        return catalog.ComponentVersionView(**answer), changed

    view, changed = fetch(local, remote)
    if json:
        emit_json({**asdict(view), "changed": changed})
    else:
        console.print(f"{view.component} {view.version}" + ("" if changed else " (unchanged)"))


@component_version_app.command("list")
def component_version_list(component: str, json: bool = JsonOption) -> None:
    """The recorded versions of a component, oldest first."""
    views = fetch(
        lambda s: catalog.list_component_versions(s, component),
        lambda r: [
            catalog.ComponentVersionView(**v)
            for v in r.all(f"/components/{quote(component)}/versions")
        ],
    )
    if json:
        emit_json([asdict(v) for v in views])
        return
    table = Table("version", "image", "digest", "commit", "created")
    for v in views:
        table.add_row(v.version, v.image or "", v.digest or "", v.commit or "", v.created_at)
    console.print(table)


# ---------------------------------------------------------------- applications


def _parse_changes(set_: list[str], remove: list[str]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for item in set_:
        comp, sep, version = item.partition("=")
        if not sep or not comp or not version:
            raise MeshwardError(f"--set takes COMPONENT=VERSION, got {item!r}")
        changes[comp] = version
    for comp in remove:
        changes[comp] = None
    return changes


@app_version_app.command("create")
def app_version_create(
    application: str,
    set_: list[str] = typer.Option([], "--set", help="COMPONENT=VERSION to add or replace."),
    remove: list[str] = typer.Option([], "--remove", help="COMPONENT to drop."),
    label: str | None = typer.Option(None, "--version", help="Label (default: 1, 2, 3 ...)."),
    note: str | None = typer.Option(None),
    json: bool = JsonOption,
) -> None:
    """A new application version: the latest one plus the given changes."""
    changes = _parse_changes(set_, remove)

    def remote(r: RemoteClient) -> tuple[catalog.AppVersionView, bool]:
        body = {
            "set": {c: v for c, v in changes.items() if v is not None},
            "remove": [c for c, v in changes.items() if v is None],
            "version": label,
            "note": note,
        }
        answer = r.request("POST", f"/apps/{quote(application)}/versions", json=body)
        return revive(catalog.AppVersionView, answer), answer["created"]

    view, created = fetch(
        lambda s: catalog.create_app_version(s, application, changes, label=label, note=note),
        remote,
    )
    if json:
        emit_json({**view.to_dict(), "created": created})
        return
    if not created:
        console.print(f"{view.application} {view.version}: nothing changed")
        return
    _print_app_version(view)


@app_version_app.command("show")
def app_version_show(
    application: str,
    version: str | None = typer.Argument(None, help="Default: the latest."),
    json: bool = JsonOption,
) -> None:
    """The components of an application version and what changed from its base."""
    view = fetch(
        lambda s: catalog.get_app_version(s, application, version),
        lambda r: revive(
            catalog.AppVersionView,
            r.get(f"/apps/{quote(application)}/versions/{quote(version or 'latest')}"),
        ),
    )
    if json:
        emit_json(view.to_dict())
    else:
        _print_app_version(view)


@app_version_app.command("list")
def app_version_list(application: str, json: bool = JsonOption) -> None:
    """Every version of an application, oldest first."""
    rows = fetch(
        lambda s: catalog.list_app_versions(s, application),
        lambda r: r.all(f"/apps/{quote(application)}/versions"),
    )
    if json:
        emit_json(rows)
        return
    table = Table("version", "components", "created", "note")
    for r in rows:
        table.add_row(r["version"], str(r["components"]), r["created_at"], r["note"] or "")
    console.print(table)


def _print_app_version(view: catalog.AppVersionView) -> None:
    base = f" (base {view.base})" if view.base else ""
    console.print(f"[b]{view.application} {view.version}[/b]{base}  {view.created_at}")
    table = Table("component", "version")
    for m in view.members:
        table.add_row(m.component, m.version)
    console.print(table)
    for ch in view.changes:
        arrow = f"{ch.from_version or ''} -> {ch.to_version or ''}".strip(" ->")
        console.print(f"  {ch.change:9} {ch.component} {arrow}", markup=False)


# ---------------------------------------------------------------- deployments


@deploy_app.command("record")
def deploy_record(
    env: str,
    component: str,
    version: str,
    at: str | None = typer.Option(None, help="ISO 8601 time (default: now)."),
    json: bool = JsonOption,
) -> None:
    """COMPONENT at VERSION runs in ENV from --at on; what ran before there ends then."""

    def remote(r: RemoteClient) -> tuple[catalog.DeploymentView, bool]:
        body = {"environment": env, "component": component, "version": version, "at": at}
        answer = r.request("POST", "/deployments", json=body)
        changed = answer.pop("changed")
        return catalog.DeploymentView(**answer), changed

    view, changed = fetch(
        lambda s: catalog.record_deployment(
            s, env, component, version, catalog.parse_time(at) if at else None
        ),
        remote,
    )
    if json:
        emit_json({**asdict(view), "changed": changed})
    else:
        console.print(
            f"{view.component} {view.version} in {view.environment} since {view.since}"
            + ("" if changed else " (unchanged)")
        )


@deploy_app.command("end")
def deploy_end(
    env: str, component: str, at: str | None = typer.Option(None, help="ISO 8601 time.")
) -> None:
    """COMPONENT stops running in ENV."""
    ended = fetch(
        lambda s: catalog.end_deployment(s, env, component, catalog.parse_time(at) if at else None),
        lambda r: r.request(
            "DELETE",
            f"/environments/{quote(env)}/deployments/{quote(component)}",
            params={"at": at},
        )["ended"],
    )
    console.print("ended" if ended else "it was not running there")


@deploy_app.command("list")
def deploy_list(
    env: str | None = typer.Option(None, "--env", help="Only this environment."),
    at: str | None = typer.Option(None, help="What ran at this ISO 8601 time."),
    history: bool = typer.Option(False, help="Every deployment, past and present."),
    component: str | None = typer.Option(None),
    json: bool = JsonOption,
) -> None:
    """What runs now (or ran at --at, or all of --history), by environment."""
    views = fetch(
        lambda s: catalog.list_deployments(
            s,
            env,
            at=catalog.parse_time(at) if at else None,
            history=history,
            component=component,
        ),
        lambda r: [
            catalog.DeploymentView(**d)
            for d in r.all(
                "/deployments", env=env, at=at, history=history or None, component=component
            )
        ],
    )
    if json:
        emit_json([asdict(v) for v in views])
    else:
        _print_deployments(views)


@deploy_app.command("envs")
def deploy_envs(json: bool = JsonOption) -> None:
    """Environments and how many components run in each."""
    rows = fetch(catalog.list_environments, lambda r: r.all("/environments"))
    if json:
        emit_json(rows)
        return
    table = Table("environment", "production", "running")
    for r in rows:
        table.add_row(r["name"], "yes" if r["production"] else "", str(r["running"]))
    console.print(table)


def _print_deployments(views: list[catalog.DeploymentView]) -> None:
    table = Table("environment", "component", "version", "since", "until")
    for v in views:
        table.add_row(v.environment, v.component, v.version, v.since, v.until or "")
    console.print(table)


# ---------------------------------------------------------------- demo


@app.command("demo")
def demo(
    fresh: bool = typer.Option(False, help="Start from an empty database (SQLite files only)."),
    serve: bool = typer.Option(False, help="Then serve the web UI and API, with a demo token."),
    host: str = typer.Option("127.0.0.1", help="With --serve: address to listen on."),
    port: int = typer.Option(8000, help="With --serve: port to listen on."),
) -> None:
    """Load the bundled demo organisation and show it (in the browser, with --serve)."""
    from meshward.demo.load import load_demo

    if fresh:
        _remove_sqlite_file()
    with session_scope() as session:
        summary = load_demo(session)
    console.print(summary)
    catalog_tree(json=False)
    deploy_list(env="prod", at=None, history=False, component=None, json=False)
    with session_scope() as session:
        counts = findings.count_by_severity(session, findings.FindingFilter(environment="prod"))
    console.print(
        "findings in prod now: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("critical", "high", "medium", "low"))
        + "  (meshward findings list --env prod)"
    )
    console.rule("A critical advisory lands: CVE-2021-44228 (Log4Shell). Who is affected?")
    with session_scope() as session:
        radius = blast_radius(session, "CVE-2021-44228")
    console.print(impact_cli.render_tree(radius))
    console.print(
        "next: meshward blast-radius CVE-2021-44228 --json; meshward app fix-plan webshop"
    )
    if serve:
        _serve_demo(host, port)


def _serve_demo(host: str, port: int) -> None:
    """Today's risk snapshot (the overview's numbers), a fresh estate-admin token to sign in
    with, then the server, in the foreground until Ctrl-C."""
    import secrets

    import uvicorn

    from meshward.api.app import create_app, tune_gc
    from meshward.services import auth, rollup
    from meshward.store.db import resolve_database_url

    with session_scope() as session:
        rollup.snapshot_rollups(session)
        _, token = auth.create_token(
            session, f"demo-{secrets.token_hex(3)}", role="admin", created_by="meshward demo"
        )
    tune_gc()
    app = create_app(resolve_database_url(state.db_url))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    console.rule("The web UI")
    console.print(
        f"sign in with this demo token (admin on the whole estate):\n{token}", markup=False
    )
    console.print(f"open http://{shown}:{port}/ui/  (Ctrl-C stops the server)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _remove_sqlite_file() -> None:
    store = Store(state.db_url, migrate=False)
    url = store.engine.url
    store.dispose()
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise MeshwardError("--fresh only removes a SQLite file database")
    for suffix in ("", "-wal", "-shm"):
        Path(url.database + suffix).unlink(missing_ok=True)


def main() -> None:
    try:
        app()
    except MeshwardError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"database: {exc.orig}")
    except SQLAlchemyError as exc:
        _fail(f"database: {type(exc).__name__}: {exc}")


def _fail(message: str) -> None:
    """One line on stderr, however long, and exit status 1."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    sys.exit(1)
