"""``meshward blast-radius QUERY [--env E] [--json]``: who is hit by an advisory or a package.

QUERY is an advisory id or alias (``CVE-2021-44228``, ``GHSA-jfh8-c2jp-5v3q``), a purl with or
without a version (``pkg:pypi/django``, ``pkg:pypi/django@3.2.4``), a purl with a version
range (``pkg:pypi/django@>=3.0,<3.2.5``: comma-separated ``>=``, ``>``, ``<=``, ``<``, ``=``,
``!=``, in the ecosystem's own version order), or a bare package name matched in every
ecosystem (``log4j-core``). ``--env E`` narrows the answer to what runs in E now.

A large answer (thousands of affected versions, most of an estate as consumers) can be read a
page at a time: ``--limit N [--offset K]`` lists N affected versions from the K-th, and
``--consumers N`` the N nearest consumers; the summary always counts everything. A paged
answer carries ``"page": {"offset", "limit", "total", "next_offset"}`` (``next_offset``:
null on the last page), and the tree ends with the command for the next page.

By default a Rich tree; ``--json`` prints this stable shape (lists sorted as shown)::

    {
      "query": "CVE-2021-44228",
      "kind": "advisory",                 # advisory | purl | package (bare name)
      "vulnerability": "CVE-2021-44228",  # advisory queries; else null
      "package": null,                    # purl/name queries: {"ecosystem", "name",
                                          #   "version", "range", "type"}
      "environment": null,                # the --env filter
      "at": "2026-11-24T10:00:00Z",       # the moment "runs now" refers to
      "packages": ["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"],
      "advisories": [                     # by score, highest first
        {"vulnerability": "CVE-2021-44228", "ids": ["GHSA-jfh8-c2jp-5v3q"],
         "aliases": ["CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q"], "summary": "...",
         "severity": "critical", "score": 10.0, "withdrawn": false,
         "fixes": [{"purl": "pkg:maven/...log4j-core@2.14.1", "fixed_version": "2.15.0"}]}
      ],
      "components": [                     # by component, then version age, then purl
        {"component": "search", "key": "component:default/search", "owner": "group:...",
         "version": "4.2.0", "purl": "pkg:maven/...log4j-core@2.14.1",
         "package": "org.apache.logging.log4j:log4j-core", "ecosystem": "Maven",
         "installed": "2.14.1",
         "dependency": "direct",          # direct | transitive | root | unknown
         "path": ["pkg:maven/com.acme/search@4.2.0", "pkg:maven/...log4j-core@2.14.1"],
         "vulnerabilities": [{"vulnerability": "CVE-2021-44228", "severity": "critical",
                              "score": 10.0, "fixed_version": "2.15.0", "state": "open"}],
         "upgrade_to": "2.15.0",          # clears every listed vulnerability; null: no fix
         "environments": ["prod"]}        # where this version runs now
      ],
      "applications": [                   # by application, latest version first
        {"application": "webshop", "version": "2026.09", "seq": 2, "latest": false,
         "components": ["search@4.2.0"]}
      ],
      "environments": [                   # production first, then by name
        {"environment": "prod", "production": true, "component": "search",
         "version": "4.2.0", "since": "2026-08-15T14:00:00Z"}
      ],
      "consumers": [                      # by depth, then name
        {"component": "web-frontend", "key": "component:default/web-frontend",
         "owner": "group:...", "depth": 1, "via": "search",
         "path": ["search", "search-api", "web-frontend"]}
      ],
      "summary": {"components": 1, "component_versions": 1, "applications": 1,
                  "application_versions": 2, "environments": 1, "running": 1,
                  "consumers": 1}
    }
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from meshward.cli.common import JsonOption, console, emit_json
from meshward.cli.remote import fetch, revive
from meshward.services.impact import AdvisoryView, BlastRadius, blast_radius

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def register(app: typer.Typer, app_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `app` group."""
    app.command("blast-radius")(blast_radius_command)


def blast_radius_command(
    query: str = typer.Argument(
        ...,
        help="CVE/GHSA/OSV id, purl (pkg:pypi/django, pkg:pypi/django@3.2.4, "
        "'pkg:pypi/django@>=3.0,<3.2.5') or a bare package name (log4j-core).",
    ),
    env: str | None = typer.Option(None, "--env", help="Only what runs in this environment."),
    consumers: int | None = typer.Option(
        None, "--consumers", min=0, help="List only the N nearest consumers (all are counted)."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="List N affected versions (all are counted)."
    ),
    offset: int = typer.Option(0, "--offset", min=0, help="...from the K-th (see --limit)."),
    applications: int | None = typer.Option(
        None, "--applications", min=0, help="List only N application versions (all are counted)."
    ),
    environments: int | None = typer.Option(
        None, "--environments", min=0, help="List only N running deployments (all are counted)."
    ),
    json: bool = JsonOption,
) -> None:
    """Who is hit: affected component versions and how the package comes in, application
    versions, environments running them now, consumers over API links, and the upgrade."""

    def remote(r: Any) -> BlastRadius:
        from meshward.api.deps import encode_cursor

        return revive(
            BlastRadius,
            r.get(
                "/blast-radius",
                q=query,
                env=env,
                consumers=consumers,
                limit=limit,
                cursor=encode_cursor(offset) if offset else None,
                applications=applications,
                environments=environments,
            ),
        )

    result = fetch(
        lambda s: blast_radius(
            s,
            query,
            environment=env,
            consumer_limit=consumers,
            limit=limit,
            offset=offset,
            application_limit=applications,
            environment_limit=environments,
        ),
        remote,
    )
    if json:
        emit_json(result.json_fields())
    else:
        console.print(render_tree(result))
        if result.page is not None and result.page.next_offset is not None:
            console.print(
                f"[dim]{result.page.total - result.page.next_offset} more: "
                f"--limit {result.page.limit} --offset {result.page.next_offset}[/dim]"
            )


def _severity(value: str | None, score: float | None = None) -> str:
    if value is None:
        return "[dim]unrated[/]"
    text = f"{value} {score:.1f}" if score is not None else value
    style = SEVERITY_STYLE.get(value, "")
    return f"[{style}]{text}[/]" if style else text


def _headline(r: BlastRadius) -> str:
    if r.kind == "advisory" and r.advisories:
        a = r.advisories[0]
        names = ", ".join(n for n in a.aliases if n != a.vulnerability)
        title = f"[b]{escape(a.vulnerability)}[/b]" + (f" ({escape(names)})" if names else "")
        title += f"  {_severity(a.severity, a.score)}"
        if a.withdrawn:
            title += "  [yellow]withdrawn[/]"
        if a.summary:
            title += f"\n[dim]{escape(a.summary)}[/dim]"
    else:
        title = f"[b]{escape(r.query)}[/b]"
    where = f" in [b]{escape(r.environment)}[/b]" if r.environment else ""
    s = r.summary
    return (
        f"blast radius of {title}\n"
        f"{_plural(s['component_versions'], 'component version')} of "
        f"{_plural(s['components'], 'component')}{where}, "
        f"{_plural(s['application_versions'], 'application version')}, "
        f"{s['running']} running now, {_plural(s['consumers'], 'consumer')}"
    )


def _advisory_node(parent: Tree, a: AdvisoryView) -> None:
    summary = f" [dim]{escape(a.summary)}[/dim]" if a.summary else ""
    node = parent.add(f"{escape(a.vulnerability)} {_severity(a.severity, a.score)}{summary}")
    for f in a.fixes:
        fix = escape(f.fixed_version) if f.fixed_version else "[yellow]no fix[/]"
        node.add(f"{escape(f.purl)} -> {fix}")


def _of(listed: int, summary: dict[str, int], total: str) -> str:
    """``12``, or ``10 of 12`` when a list was cut short."""
    count = summary.get(total, listed)
    return str(listed) if listed >= count else f"{listed} of {count}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def render_tree(r: BlastRadius) -> Tree:
    root = Tree(_headline(r))
    if r.kind != "advisory":
        adv = root.add(f"[b]advisories[/b] ({len(r.advisories)})")
        for a in r.advisories:
            _advisory_node(adv, a)
        if not r.advisories:
            adv.add("[green]no known vulnerability in the versions held[/]")
    shown = len(r.components)
    total = r.page.total if r.page else shown
    span = f"{r.page.offset + 1}-{r.page.offset + shown} of " if r.page and shown else ""
    comps = root.add(f"[b]components[/b] ({span}{total})")
    for c in r.components:
        runs = f"  runs in {', '.join(c.environments)}" if c.environments else ""
        node = comps.add(
            f"[cyan]{escape(c.component)}[/cyan] {escape(c.version)}"
            f"  [dim]{escape(c.owner or '')}[/dim]{runs}"
        )
        node.add(f"{escape(c.purl)}  [magenta]{c.dependency}[/magenta]")
        if len(c.path) > 1:
            node.add("path: " + " -> ".join(escape(p) for p in c.path))
        for v in c.vulnerabilities:
            state = "" if v.state == "open" else f" [dim]({v.state})[/dim]"
            node.add(f"{escape(v.vulnerability)} {_severity(v.severity, v.score)}{state}")
        if c.upgrade_to:
            node.add(f"[green]upgrade to {escape(c.upgrade_to)}[/green]")
        elif c.vulnerabilities:
            node.add("[yellow]no fixed version known[/yellow]")
    listed_apps = _of(len(r.applications), r.summary, "application_versions")
    apps = root.add(f"[b]application versions[/b] ({listed_apps})")
    for av in r.applications:
        latest = " [b](latest)[/b]" if av.latest else ""
        apps.add(
            f"{escape(av.application)} {escape(av.version)}{latest}: "
            + ", ".join(escape(m) for m in av.components)
        )
    envs = root.add(f"[b]running now[/b] ({_of(len(r.environments), r.summary, 'running')})")
    for d in r.environments:
        prod = " [red](production)[/red]" if d.production else ""
        envs.add(
            f"{escape(d.environment)}{prod}: {escape(d.component)} {escape(d.version)}"
            f" since {d.since}"
        )
    listed = len(r.consumers)
    count = r.summary.get("consumers", listed)
    cons = root.add(
        f"[b]consumers[/b] ({listed if listed == count else f'{listed} nearest of {count}'})"
    )
    for k in r.consumers:
        cons.add(
            f"[cyan]{escape(k.component)}[/cyan] [dim]depth {k.depth}, "
            f"{escape(k.owner or '')}[/dim]\n" + " -> ".join(escape(p) for p in k.path)
        )
    return root
