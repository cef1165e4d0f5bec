"""Poetry ``poetry.lock`` (lock versions 1.x and 2.x).

Every locked package with its dependencies by name, so the edges are known; the project's
own declared dependencies come from pyproject.toml beside the lock when present. Dev-only
packages (``category = "dev"``, or ``groups`` without ``main``) get scope ``excluded``,
extras-only ones ``optional``. The sdist hash, when listed, is kept as the package hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from meshward.errors import InputError
from meshward.formats.manifests._python import declared_in_pyproject
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    hex_digest,
    load_toml,
    new_package,
    propagate_scopes,
)
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits


class PoetryLockReader(ManifestReader):
    name = "poetry.lock"

    def matches(self, path: Path) -> bool:
        return path.name == "poetry.lock"

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
        metadata = doc.get("metadata")
        legacy_files = metadata.get("files") if isinstance(metadata, dict) else None
        index = PackageIndex()
        refs_by_name: dict[str, list[str]] = {}
        parsed: list[tuple[str, dict[str, Any]]] = []
        for number, entry in enumerate(entries):
            place = f"package[{number}]"
            if not isinstance(entry, dict):
                raise InputError(source, place, "not a table")
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                raise InputError(source, place, "package without name or version")
            files = entry.get("files")
            if files is None and isinstance(legacy_files, dict):
                files = legacy_files.get(name)
            package = index.add(_package(entry, name, version, _sdist_hash(files)))
            refs_by_name.setdefault(canonicalize_name(name), []).append(package.ref)
            parsed.append((package.ref, entry))
        for ref, entry in parsed:
            deps = entry.get("dependencies")
            for dep in deps if isinstance(deps, dict) else {}:
                for target in refs_by_name.get(canonicalize_name(dep), []):
                    index.edge(ref, target)
        declared = declared_in_pyproject(siblings, source, limits)
        direct: list[str] | None = None
        if declared is not None:
            scopes: dict[str, str] = {}
            for name, scope in declared.items():
                for ref in refs_by_name.get(name, []):
                    scopes[ref] = scope
            direct = list(scopes)
            # Lock 2.0 files written by Poetry 1.2-1.8 carry neither category nor groups:
            # reachability from pyproject's main / extras / dev groups tells the scope.
            reached = propagate_scopes(scopes, index.dependencies)
            for ref, entry in parsed:
                if "category" not in entry and "groups" not in entry and ref in reached:
                    package = index.by_ref[ref]
                    package.scope = reached[ref]
        return ManifestResult(
            packages=index.packages, dependencies=index.dependencies, direct_refs=direct
        )


def _scope(entry: Mapping[str, Any]) -> str:
    groups = entry.get("groups")
    if entry.get("category") == "dev" or (
        isinstance(groups, list) and groups and "main" not in groups
    ):
        return "excluded"
    if entry.get("optional") is True:
        return "optional"
    return "required"


def _package(
    entry: Mapping[str, Any], name: str, version: str, sdist: dict[str, str]
) -> SbomPackage:
    source = entry.get("source")
    if isinstance(source, dict) and source.get("type") == "directory":
        # A path dependency: the project's own code, nothing to match on PyPI.
        return SbomPackage(
            ref=f"poetry.lock:directory:{source.get('url', name)}",
            name=name,
            version=version,
            scope=_scope(entry),
            type="library",
        )
    return new_package(
        "pypi",
        name,
        version,
        scope=_scope(entry),
        hashes=sdist,
        fallback_ref=f"poetry.lock:{canonicalize_name(name)}@{version}",
    )


def _sdist_hash(files: Any) -> dict[str, str]:
    """The source distribution's hash: the one artifact every platform shares."""
    for item in files if isinstance(files, list) else []:
        if not isinstance(item, dict):
            continue
        file_name, digest = item.get("file"), item.get("hash")
        if (
            isinstance(file_name, str)
            and isinstance(digest, str)
            and file_name.endswith((".tar.gz", ".zip", ".tar.bz2"))
        ):
            alg, _, value = digest.partition(":")
            return hex_digest(alg, value)
    return {}
