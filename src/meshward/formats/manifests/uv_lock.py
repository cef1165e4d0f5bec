"""uv ``uv.lock``.

Every locked package with its dependencies (by name, and version where a name is locked
more than once), so the edges are exact. Workspace members (``editable`` or ``virtual``
sources, ``[manifest] members``) are the project itself: their dependencies are the direct
ones, their ``dev-dependencies`` dev-only (scope ``excluded``) and their extras optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    hex_digest,
    load_toml,
    new_package,
    propagate_scopes,
    stronger_scope,
)
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits


class UvLockReader(ManifestReader):
    name = "uv.lock"

    def matches(self, path: Path) -> bool:
        return path.name == "uv.lock"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        doc = load_toml(data, source, limits)
        entries = doc.get("package", [])
        if not isinstance(entries, list):
            raise InputError(source, "package", "[[package]] is not an array of tables")
        manifest = doc.get("manifest")
        members_raw = manifest.get("members") if isinstance(manifest, dict) else None
        member_names = {canonicalize_name(m) for m in members_raw or [] if isinstance(m, str)}
        index = PackageIndex()
        by_name: dict[str, list[tuple[str | None, str]]] = {}
        packages: list[tuple[str, dict[str, Any]]] = []
        members: list[dict[str, Any]] = []
        subject: SbomPackage | None = None
        for number, entry in enumerate(entries):
            place = f"package[{number}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise InputError(source, place, "package without a name")
            name = entry["name"]
            version = entry.get("version")
            if version is not None and not isinstance(version, str):
                raise InputError(source, place, "version is not a string")
            src = entry.get("source")
            src = src if isinstance(src, dict) else {}
            if "virtual" in src or "editable" in src or canonicalize_name(name) in member_names:
                members.append(entry)
                if src.get("virtual") == "." or src.get("editable") == ".":
                    subject = new_package("pypi", name, version)
                    subject.type = "application"
                continue
            package = index.add(_package(name, version, src, entry.get("sdist")))
            by_name.setdefault(canonicalize_name(name), []).append((version, package.ref))
            packages.append((package.ref, entry))

        def targets(dep: Any) -> list[str]:
            if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                return []
            candidates = by_name.get(canonicalize_name(dep["name"]), [])
            wanted = dep.get("version")
            if isinstance(wanted, str):
                candidates = [c for c in candidates if c[0] == wanted] or candidates
            return [ref for _, ref in candidates]

        for ref, entry in packages:
            for dep in _all_deps(entry):
                for target in targets(dep):
                    index.edge(ref, target)
        direct: dict[str, str] = {}
        for entry in members:
            for scope, deps in _member_deps(entry):
                for dep in deps:
                    for target in targets(dep):
                        direct[target] = stronger_scope(direct.get(target), scope) or scope
        if members:
            scopes = propagate_scopes(direct, index.dependencies)
            for ref, package in index.by_ref.items():
                package.scope = scopes.get(ref)
        return ManifestResult(
            packages=index.packages,
            dependencies=index.dependencies,
            direct_refs=list(direct) if members else None,
            subject=subject,
        )


def _package(name: str, version: str | None, src: Mapping[str, Any], sdist: Any) -> SbomPackage:
    if "path" in src or "directory" in src:
        location = src.get("path") or src.get("directory")
        return SbomPackage(
            ref=f"uv.lock:path:{location}", name=name, version=version, type="library"
        )
    hashes: dict[str, str] = {}
    if isinstance(sdist, dict) and isinstance(sdist.get("hash"), str):
        alg, _, value = sdist["hash"].partition(":")
        hashes = hex_digest(alg, value)
    return new_package(
        "pypi",
        name,
        version,
        hashes=hashes,
        fallback_ref=f"uv.lock:{canonicalize_name(name)}@{version or ''}",
    )


def _all_deps(entry: Mapping[str, Any]) -> list[Any]:
    deps: list[Any] = list(entry.get("dependencies") or [])
    for section in ("optional-dependencies", "dev-dependencies"):
        groups = entry.get(section)
        if isinstance(groups, dict):
            for items in groups.values():
                deps.extend(items if isinstance(items, list) else [])
    return deps


def _member_deps(entry: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    found: list[tuple[str, list[Any]]] = []
    deps = entry.get("dependencies")
    if isinstance(deps, list):
        found.append(("required", deps))
    for section, scope in (("optional-dependencies", "optional"), ("dev-dependencies", "excluded")):
        groups = entry.get(section)
        if isinstance(groups, dict):
            found.extend((scope, items) for items in groups.values() if isinstance(items, list))
    return found
