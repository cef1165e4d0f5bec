"""``meshward sbom ...``: upload, show, export, from-manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import typer
from rich.table import Table

from meshward.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    session_scope,
)
from meshward.cli.remote import fetch, local_only, quote, revive
from meshward.errors import InputError
from meshward.limits import Limits
from meshward.services import catalog, sboms

sbom_app = typer.Typer(help="SBOMs per component version.", no_args_is_help=True)


def read_input(path: Path, limits: Limits) -> bytes:
    """A file's bytes, refusing what is over the size limit before reading it all."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(limits.max_bytes + 1)
    else:
        try:
            if path.stat().st_size > limits.max_bytes:
                raise InputError(str(path), None, f"larger than the {limits.max_bytes}-byte limit")
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), None, exc.strerror or str(exc)) from exc
    if len(data) > limits.max_bytes:
        raise InputError(str(path), None, f"larger than the {limits.max_bytes}-byte limit")
    return data


@sbom_app.command("upload")
def sbom_upload(
    component: str,
    version: str,
    file: Path = typer.Argument(..., help="CycloneDX or SPDX document ('-' for stdin)."),
    json: bool = JsonOption,
) -> None:
    """Attach an SBOM to COMPONENT VERSION (created if needed). Format and spec version come
    from the content. The same file again is a no-op; another file replaces the current one
    and keeps it in history."""
    limits = Limits.from_env()
    data = read_input(file, limits)
    result = fetch(
        lambda s: sboms.upload_sbom(s, component, version, data, str(file), limits),
        lambda r: sboms.UploadResult(
            **r.request("PUT", sbom_path(component, version), content=data)
        ),
    )
    if json:
        emit_json(result.to_dict())
        return
    head = (
        f"{result.component} {result.version}: "
        f"{result.format} {result.spec_version} ({result.encoding})"
    )
    if not result.changed:
        console.print(f"{head}: unchanged (same document already current)")
        return
    console.print(
        f"{head}: {result.packages} packages, {result.direct} direct, "
        f"{result.transitive} transitive"
        + (f", replaced document {result.replaced_document}" if result.replaced_document else "")
    )
    if result.unmatchable:
        console.print(
            f"[yellow]{result.unmatchable} packages have no purl: kept, but they cannot be "
            "matched against advisories[/yellow]"
        )


def sbom_path(component: str, version: str) -> str:
    return f"/components/{quote(component)}/versions/{quote(version)}/sbom"


@sbom_app.command("show")
def sbom_show(component: str, version: str, json: bool = JsonOption) -> None:
    """The packages of a component version's current SBOM."""
    view = fetch(
        lambda s: sboms.show_sbom(s, component, version),
        lambda r: revive(sboms.SbomView, r.get(sbom_path(component, version))),
    )
    if json:
        emit_json(view.to_dict())
        return
    console.print(
        f"[b]{view.component} {view.version}[/b]: {view.format} {view.spec_version} "
        f"({view.encoding}), {len(view.packages)} packages, {view.unmatchable} without purl"
    )
    table = Table("purl", "name", "version", "dependency", "licences")
    for p in view.packages:
        table.add_row(
            p["purl"] or "[yellow](no purl)[/]",
            p["name"],
            p["version"] or "",
            p["dependency"],
            ", ".join(p["licenses"]),
        )
    console.print(table)


@sbom_app.command("from-manifest")
def sbom_from_manifest(
    component: str,
    version: str,
    paths: list[Path] = typer.Argument(..., help="Lockfiles, manifests or folders of them."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write CycloneDX."),
    json: bool = JsonOption,
) -> None:
    """Build COMPONENT VERSION's SBOM from requirements.txt, poetry.lock, uv.lock,
    package-lock.json, yarn.lock, go.mod/go.sum, pom.xml, build.gradle(.kts), *.csproj."""
    local_only(
        "the server takes SBOM documents, not manifests: have a generator (cyclonedx-py, "
        "syft ...) write one here and `sbom upload` it"
    )
    with session_scope() as session:
        result, parsed = sboms.sbom_from_manifest_paths(session, component, version, paths)
        if output is not None:
            cv = catalog.get_component_version(session, component, version)
            bom = sboms.export_component_sbom(session, cv)
    if output is not None:
        output.write_bytes(orjson.dumps(bom, option=orjson.OPT_INDENT_2))
    if json:
        emit_json(result.to_dict())
        return
    console.print(
        f"{result.component} {result.version}: {result.packages} packages from "
        f"{parsed.encoding or 'no manifests'}"
        + ("" if result.changed else " (unchanged)")
        + (f"; CycloneDX written to {output}" if output else "")
    )


@sbom_app.command("export")
def sbom_export(
    application: str,
    version: str | None = typer.Option(None, "--version", help="Default: the latest."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: stdout."),
) -> None:
    """One CycloneDX 1.6 JSON for an application version: each service a component with its
    packages nested and the dependency graph kept."""
    bom = fetch(
        lambda s: sboms.export_application_sbom(s, application, version),
        lambda r: r.get(f"/apps/{quote(application)}/sbom", version=version),
    )
    data = orjson.dumps(bom, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {output}")
