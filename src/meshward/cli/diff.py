"""``meshward app diff``, ``meshward app fix-plan`` and ``meshward component diff``.

The component diff lives in the ``component`` group beside ``component add`` and
``component version``, where a reader looks for it; ``register`` finds that group among the
root app's groups, and only when it is missing falls back to a top-level ``component-diff``.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from meshward.cli.common import JsonOption, console, emit_json
from meshward.cli.remote import fetch, quote, revive
from meshward.services.diff import (
    AppDiff,
    ComponentDiff,
    PackageChange,
    VulnerabilityChange,
    app_diff,
    component_diff,
)
from meshward.services.fixplan import FixPlan, fix_plan

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def register(app: typer.Typer, app_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `app` group."""
    app_app.command("diff")(app_diff_command)
    app_app.command("fix-plan")(app_fix_plan_command)
    component_app = next(
        (
            group.typer_instance
            for group in app.registered_groups
            if group.name == "component" and group.typer_instance is not None
        ),
        None,
    )
    if component_app is not None:
        component_app.command("diff")(component_diff_command)
    else:
        app.command("component-diff")(component_diff_command)


# ---------------------------------------------------------------- commands


def app_diff_command(
    application: str = typer.Argument(..., help="Application (name or system reference)."),
    from_version: str = typer.Argument(..., metavar="V1", help="The version to compare from."),
    to_version: str = typer.Argument(..., metavar="V2", help="The version to compare to."),
    json: bool = JsonOption,
) -> None:
    """What changed between two application versions.

    Components added, removed and changed; per changed component the packages added,
    removed, upgraded and downgraded; vulnerabilities introduced and fixed; the risk delta."""
    diff = fetch(
        lambda s: app_diff(s, application, from_version, to_version),
        lambda r: revive(
            AppDiff,
            r.get(f"/apps/{quote(application)}/diff", **{"from": from_version, "to": to_version}),
        ),
    )
    if json:
        emit_json(diff.to_dict())
        return
    _print_app_diff(diff)


def component_diff_command(
    component: str = typer.Argument(..., help="Component (name or reference)."),
    from_version: str = typer.Argument(..., metavar="V1", help="The version to compare from."),
    to_version: str = typer.Argument(..., metavar="V2", help="The version to compare to."),
    json: bool = JsonOption,
) -> None:
    """What changed between two versions of a component.

    Packages added, removed, upgraded and downgraded (in each ecosystem's own version
    order), vulnerabilities introduced and fixed, and the risk delta."""
    diff = fetch(
        lambda s: component_diff(s, component, from_version, to_version),
        lambda r: revive(
            ComponentDiff,
            r.get(
                f"/components/{quote(component)}/diff", **{"from": from_version, "to": to_version}
            ),
        ),
    )
    if json:
        emit_json(diff.to_dict())
        return
    console.print(
        f"[b]{escape(diff.component)}[/b] {escape(diff.from_version or '-')} → "
        f"{escape(diff.to_version or '-')}: risk {_risk_change(diff)}"
    )
    console.print(_component_tree(diff, with_title=False))


def app_fix_plan_command(
    application: str = typer.Argument(..., help="Application (name or system reference)."),
    version: str | None = typer.Option(None, "--version", help="Default: the latest version."),
    json: bool = JsonOption,
) -> None:
    """Which package upgrades clear the most risk in an application version.

    Per component: each upgrade's target version, the risk and the advisories it clears, and
    what stays open because no fix exists yet."""
    plan = fetch(
        lambda s: fix_plan(s, application, version),
        lambda r: revive(FixPlan, r.get(f"/apps/{quote(application)}/fix-plan", version=version)),
    )
    if json:
        emit_json(plan.to_dict())
        return
    _print_fix_plan(plan)


# ---------------------------------------------------------------- rendering


def _severity(value: str | None) -> str:
    if not value:
        return "-"
    style = SEVERITY_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def _number(value: float) -> str:
    """Risk to one decimal, the precision a reader compares at (JSON keeps it whole)."""
    return f"{value:.1f}"


def _delta(value: float) -> str:
    text = _number(value)
    if value > 0:
        return f"[red]+{text}[/]"
    if value < 0 and text != "-0.0":
        return f"[green]{text}[/]"
    return "0.0"


def _risk_change(diff: AppDiff | ComponentDiff) -> str:
    return f"{_number(diff.risk_before)} → {_number(diff.risk_after)} ({_delta(diff.risk_delta)})"


def _package_line(change: PackageChange) -> str:
    name = escape(f"{change.name}" + (f" ({change.ecosystem})" if change.ecosystem else ""))
    before = ", ".join(change.from_versions) or "-"
    after = ", ".join(change.to_versions) or "-"
    return f"{name} {escape(before)} → {escape(after)}"


def _vulnerability_line(v: VulnerabilityChange) -> str:
    return f"{escape(v.vulnerability)} {_severity(v.severity)} risk {_number(v.risk)}"


def _component_tree(diff: ComponentDiff, *, with_title: bool = True) -> Tree:
    title = (
        f"[b]{escape(diff.component)}[/b] {escape(diff.from_version or '-')} → "
        f"{escape(diff.to_version or '-')}  risk {_delta(diff.risk_delta)}"
        if with_title
        else "changes"
    )
    tree = Tree(title)
    sections: list[tuple[str, list[str]]] = [
        ("upgraded", [_package_line(c) for c in diff.packages_upgraded]),
        ("[yellow]downgraded[/]", [_package_line(c) for c in diff.packages_downgraded]),
        ("added", [_package_line(c) for c in diff.packages_added]),
        ("removed", [_package_line(c) for c in diff.packages_removed]),
        (
            "[red]vulnerabilities introduced[/]",
            [_vulnerability_line(v) for v in diff.vulnerabilities_introduced],
        ),
        (
            "[green]vulnerabilities fixed[/]",
            [_vulnerability_line(v) for v in diff.vulnerabilities_fixed],
        ),
    ]
    for label, lines in sections:
        if lines:
            branch = tree.add(f"{label} ({len(lines)})")
            for line in lines:
                branch.add(line)
    if diff.packages_unchanged:
        tree.add(f"{diff.packages_unchanged} packages unchanged")
    return tree


def _vulnerability_table(title: str, rows: list[VulnerabilityChange]) -> Table:
    table = Table("vulnerability", "severity", "components", "packages", "risk", title=title)
    for v in rows:
        table.add_row(
            escape(v.vulnerability),
            _severity(v.severity),
            escape(", ".join(v.components)),
            escape(", ".join(v.packages[:3]) + (" …" if len(v.packages) > 3 else "")),
            _number(v.risk),
        )
    return table


def _print_app_diff(diff: AppDiff) -> None:
    console.print(
        f"[b]{escape(diff.application)}[/b] {escape(diff.from_version)} → "
        f"{escape(diff.to_version)}: risk {_risk_change(diff)}"
    )
    table = Table("change", "component", "from", "to", "packages ±↑↓", "vulns ±", "risk Δ")
    for m in diff.components_added:
        table.add_row(
            "[green]added[/]",
            escape(m.component),
            "",
            escape(m.version),
            f"+{m.packages}",
            f"+{len(m.vulnerabilities)}",
            _delta(m.risk),
        )
    for m in diff.components_removed:
        table.add_row(
            "[red]removed[/]",
            escape(m.component),
            escape(m.version),
            "",
            f"-{m.packages}",
            f"-{len(m.vulnerabilities)}",
            _delta(-m.risk),
        )
    for d in diff.components_changed:
        table.add_row(
            "changed",
            escape(d.component),
            escape(d.from_version or ""),
            escape(d.to_version or ""),
            f"+{len(d.packages_added)} -{len(d.packages_removed)} "
            f"↑{len(d.packages_upgraded)} ↓{len(d.packages_downgraded)}",
            f"+{len(d.vulnerabilities_introduced)} -{len(d.vulnerabilities_fixed)}",
            _delta(d.risk_delta),
        )
    console.print(table)
    if diff.components_unchanged:
        console.print("unchanged: " + escape(", ".join(diff.components_unchanged)))
    for d in diff.components_changed:
        console.print(_component_tree(d))
    if diff.vulnerabilities_introduced:
        console.print(
            _vulnerability_table("vulnerabilities introduced", diff.vulnerabilities_introduced)
        )
    if diff.vulnerabilities_fixed:
        console.print(_vulnerability_table("vulnerabilities fixed", diff.vulnerabilities_fixed))
    console.print(
        f"{len(diff.vulnerabilities_introduced)} vulnerabilities introduced, "
        f"{len(diff.vulnerabilities_fixed)} fixed; risk delta {_delta(diff.risk_delta)}"
    )


def _print_fix_plan(plan: FixPlan) -> None:
    console.print(
        f"[b]{escape(plan.application)}[/b] {escape(plan.version)}: risk {_number(plan.risk)}, "
        f"[green]{_number(plan.risk_cleared)}[/] cleared by upgrades, "
        f"{_number(plan.risk_open)} stays open"
    )
    clean = []
    for comp in plan.components:
        if not comp.upgrades and not comp.open:
            clean.append(comp.component)
            continue
        table = Table(
            "package",
            "installed",
            "upgrade to",
            "clears",
            "advisories",
            title=(
                f"{comp.component} {comp.version}: clears {_number(comp.risk_cleared)}, "
                f"open {_number(comp.risk_open)}"
            ),
            title_justify="left",
        )
        for u in comp.upgrades:
            table.add_row(
                escape(u.package + (f" ({u.ecosystem})" if u.ecosystem else "")),
                escape(", ".join(u.installed)),
                escape(u.target),
                _number(u.risk_cleared),
                escape(", ".join(u.advisories or u.vulnerabilities)),
            )
        for o in comp.open:
            table.add_row(
                escape(o.package + (f" ({o.ecosystem})" if o.ecosystem else "")),
                escape(o.installed or ""),
                "[yellow]no fix yet[/]",
                f"{_severity(o.severity)} {_number(o.risk)}",
                escape(", ".join(o.advisories or [o.vulnerability])),
            )
        console.print(table)
    if clean:
        console.print("nothing to fix: " + escape(", ".join(clean)))
