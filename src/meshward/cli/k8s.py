"""``meshward k8s import``: what runs in an environment, from manifests or a live cluster."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from meshward.cli.common import JsonOption, console, emit_json
from meshward.cli.remote import RemoteClient, fetch, quote, revive
from meshward.errors import InputError, MeshwardError
from meshward.formats.k8s import live
from meshward.formats.k8s.objects import K8sRead
from meshward.formats.k8s.reader import (
    DEFAULT_NAMESPACE,
    manifest_files,
    read_bytes,
    read_manifests,
)
from meshward.formats.k8s.rules import MappingRules, read_rules
from meshward.limits import Limits
from meshward.services.k8s_import import ImportResult, import_k8s
from meshward.store.types import utcnow

k8s_app = typer.Typer(help="Kubernetes: deployments, mesh and policy facts.", no_args_is_help=True)


@k8s_app.command("import")
def k8s_import(
    files: list[Path] = typer.Argument(
        None, help="Manifests, kubectl get -o json output, or folders of them."
    ),
    env: str = typer.Option(..., "--env", help="The environment these workloads run in."),
    rules: Path | None = typer.Option(None, "--rules", help="Image-to-component rules (YAML)."),
    cluster: str | None = typer.Option(None, "--cluster", help="Cluster name, kept as a fact."),
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="Read a live cluster (needs meshward[k8s])."
    ),
    context: str | None = typer.Option(None, "--context", help="The kubeconfig context."),
    namespace: str = typer.Option(
        DEFAULT_NAMESPACE, "--namespace", help="For manifests that name none."
    ),
    source: str | None = typer.Option(
        None, "--source", help="Whose facts these are (default k8s, or k8s:CLUSTER)."
    ),
    no_prune: bool = typer.Option(
        False, "--no-prune", help="Keep deployments this import no longer shows."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would change; change nothing."
    ),
    json: bool = JsonOption,
) -> None:
    """Record the component versions that FILE... (or the cluster) show running in --env,
    end the ones that are gone, and keep the mesh, gateway and network-policy facts the
    threat model uses."""
    limits = Limits.from_env()
    source = source or (f"k8s:{cluster}" if cluster else "k8s")

    def local(session: Session) -> ImportResult:
        read = _read(files or [], kubeconfig, context, namespace, limits)
        mapping = read_rules(rules, limits) if rules else MappingRules()
        return import_k8s(
            session,
            read,
            env,
            mapping,
            source=source,
            now=utcnow(),
            cluster=cluster,
            prune=not no_prune,
            dry_run=dry_run,
        )

    def remote(client: RemoteClient) -> ImportResult:
        if kubeconfig is not None:
            raise MeshwardError(
                "--kubeconfig reads the cluster next to the database; against --server, send "
                "`kubectl get ... -o json` output as a file"
            )
        texts = [_text(read_bytes(f, str(f), limits), str(f)) for f in manifest_files(files or [])]
        if not texts:
            raise MeshwardError("give manifest files or folders")
        body = {
            "manifests": texts,
            "rules": _text(read_bytes(rules, str(rules), limits), str(rules)) if rules else None,
            "cluster": cluster,
            "source": source,
            "namespace": namespace,
            "prune": not no_prune,
            "dry_run": dry_run,
        }
        path = f"/environments/{quote(env)}/k8s-import"
        return revive(ImportResult, client.request("POST", path, json=body))

    result = fetch(local, remote)
    if json:
        emit_json(result.to_dict())
    else:
        show(result)


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(source, f"byte {error.start}", "not valid UTF-8 text") from None


def _read(
    files: list[Path], kubeconfig: Path | None, context: str | None, namespace: str, limits: Limits
) -> K8sRead:
    if kubeconfig is not None and files:
        raise MeshwardError("give files or --kubeconfig, not both")
    if kubeconfig is not None:
        return live.read_cluster(kubeconfig, context)
    if not files:
        raise MeshwardError("give manifest files or folders, or --kubeconfig")
    return read_manifests(files, limits, default_namespace=namespace)


def show(result: ImportResult) -> None:
    head = "[b]dry run[/b]: nothing recorded. " if result.dry_run else ""
    console.print(
        f"{head}{result.environment} ({result.source}): {result.workloads} workloads, "
        f"{result.containers} containers, {len(result.mapped)} mapped, "
        f"{len(result.unmapped)} unmapped"
        + (f", {result.sidecars} mesh sidecars" if result.sidecars else "")
    )
    table = Table("change", "component", "version", "detail")
    for d in result.deployments_started:
        table.add_row("started", d["component"], d["version"], f"was {d['previous'] or '-'}")
    for d in result.deployments_ended:
        table.add_row("ended", d["component"], d["version"], "")
    for v in result.versions_created:
        table.add_row("version created", v["component"], v["version"], v["image"])
    for p in result.platforms:
        before, after = ", ".join(p["before"]) or "-", ", ".join(p["after"]) or "-"
        table.add_row("platform", p["name"], "", f"{before} -> {after}")
    if table.row_count:
        console.print(table)
    console.print(
        f"{result.deployments_unchanged} deployments unchanged; facts: "
        f"{result.facts_written} written, {result.facts_removed} removed"
    )
    if result.unmapped:
        unmapped = Table("workload", "container", "image", "why not mapped", title="unmapped")
        for u in result.unmapped:
            unmapped.add_row(u["workload"], u["container"], u["image"], u["reason"])
        console.print(unmapped)
    for warning in result.warnings:
        console.print(f"[yellow]{warning}[/yellow]")
