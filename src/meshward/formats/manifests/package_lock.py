"""npm ``package-lock.json`` / ``npm-shrinkwrap.json``, lockfile versions 1, 2 and 3.

v2 and v3 carry a flat ``packages`` map keyed by install path (``node_modules/a``,
``node_modules/a/node_modules/b``); a dependency name is resolved the way Node resolves
``require``: the nearest ``node_modules`` folder up the path. v1 only has the nested
``dependencies`` tree, resolved the same way up the tree; its direct dependencies come from
package.json beside it when present. ``dev`` packages get scope ``excluded``, optional ones
``optional``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    find_sibling,
    looks_like_npm_version,
    npm_alias,
    npm_package,
    sri_hashes,
)
from meshward.formats.sbom.common import json_pointer, load_json
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits

_DEP_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies")
_ROOT_DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


class PackageLockReader(ManifestReader):
    name = "package-lock"

    def matches(self, path: Path) -> bool:
        return path.name in ("package-lock.json", "npm-shrinkwrap.json")

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        doc = load_json(data, source, limits)
        if not isinstance(doc, dict):
            raise InputError(source, "", "a package-lock.json is a JSON object")
        lock_version = doc.get("lockfileVersion", 1)
        if not isinstance(lock_version, int) or isinstance(lock_version, bool):
            raise InputError(source, "/lockfileVersion", "lockfileVersion is not a number")
        subject = _subject(doc)
        packages = doc.get("packages")
        if packages is not None:
            if not isinstance(packages, dict):
                raise InputError(source, "/packages", "packages is not an object")
            if packages:
                return _read_packages(packages, source, subject)
        dependencies = doc.get("dependencies", {})
        if not isinstance(dependencies, dict):
            raise InputError(source, "/dependencies", "dependencies is not an object")
        manifest = _package_json(siblings, source, limits)
        return _read_tree(dependencies, source, manifest, subject)


def _subject(doc: dict[str, Any]) -> SbomPackage | None:
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        return None
    version = doc.get("version")
    package = npm_package(name, version if isinstance(version, str) else None)
    package.type = "application"
    return package


def _scope(entry: Mapping[str, Any]) -> str:
    if entry.get("dev") is True:
        return "excluded"
    if entry.get("optional") is True or entry.get("devOptional") is True:
        return "optional"
    return "required"


def _dep_names(entry: Mapping[str, Any], fields: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for field in fields:
        value = entry.get(field)
        if isinstance(value, dict):
            names.extend(k for k in value if isinstance(k, str))
    return names


# ----------------------------------------------------------------------------- v2 / v3


def _name_from_key(key: str) -> str:
    marker = key.rfind("node_modules/")
    return key[marker + len("node_modules/") :] if marker >= 0 else key.rsplit("/", 1)[-1]


def _read_packages(
    packages: dict[str, Any], source: str, subject: SbomPackage | None
) -> ManifestResult:
    for key, entry in packages.items():
        if not isinstance(entry, dict):
            raise InputError(source, json_pointer("packages", key), "entry is not an object")

    def follow(key: str) -> str:
        seen = 0
        while packages.get(key, {}).get("link") is True and seen < 64:
            target = packages[key].get("resolved")
            if not isinstance(target, str) or target not in packages:
                break
            key, seen = target, seen + 1
        return key

    def resolve(from_key: str, name: str) -> str | None:
        base = from_key
        while True:
            candidate = f"{base}/node_modules/{name}" if base else f"node_modules/{name}"
            if candidate in packages:
                return follow(candidate)
            if not base:
                return None
            cut = base.rfind("/node_modules/")
            base = base[:cut] if cut >= 0 else ""

    index = PackageIndex()
    ref_of: dict[str, str] = {}
    local: list[str] = []
    for key, entry in packages.items():
        if key == "" or entry.get("link") is True:
            continue
        name = entry.get("name") if isinstance(entry.get("name"), str) else _name_from_key(key)
        version = entry.get("version") if isinstance(entry.get("version"), str) else None
        integrity = entry.get("integrity") if isinstance(entry.get("integrity"), str) else None
        package = index.add(
            npm_package(name, version, scope=_scope(entry), hashes=sri_hashes(integrity))
        )
        ref_of[key] = package.ref
        if "node_modules/" not in key:
            local.append(key)

    for key, entry in packages.items():
        if key == "" or key not in ref_of:
            continue
        for dep in _dep_names(entry, _DEP_FIELDS):
            target = resolve(key, dep)
            if target is not None and target in ref_of:
                index.edge(ref_of[key], ref_of[target])

    direct: dict[str, None] = {}
    root = packages.get("", {})
    for dep in _dep_names(root, _ROOT_DEP_FIELDS):
        target = resolve("", dep)
        if target is not None and target in ref_of:
            direct[ref_of[target]] = None
    for key in local:  # workspace members and file: packages are the project's own
        direct.setdefault(ref_of[key], None)
    return ManifestResult(
        packages=index.packages,
        dependencies=index.dependencies,
        direct_refs=list(direct),
        subject=subject,
    )


# ----------------------------------------------------------------------------- v1


def _package_json(
    siblings: Mapping[str, bytes], source: str, limits: Limits
) -> dict[str, Any] | None:
    found = find_sibling(siblings, source, "package.json")
    if found is None:
        return None
    doc = load_json(found[1], found[0], limits)
    return doc if isinstance(doc, dict) else None


def _read_tree(
    top: dict[str, Any],
    source: str,
    manifest: dict[str, Any] | None,
    subject: SbomPackage | None,
) -> ManifestResult:
    index = PackageIndex()
    # Each node: (path of names from the top, entry, ref); children keyed per node.
    nodes: list[tuple[tuple[str, ...], dict[str, Any], str]] = []
    children: dict[tuple[str, ...], dict[str, Any]] = {(): top}
    stack: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), top)]
    while stack:
        path, level = stack.pop()
        if len(path) > 256:
            raise InputError(source, json_pointer("dependencies", *path), "nested too deep")
        for name, entry in level.items():
            pointer = json_pointer(*_pointer_path((*path, name)))
            if not isinstance(entry, dict):
                raise InputError(source, pointer, "entry is not an object")
            spec = entry.get("version")
            spec = spec if isinstance(spec, str) else ""
            real_name, version = npm_alias(spec)
            version_or_none = version if looks_like_npm_version(version) else None
            integrity = entry.get("integrity") if isinstance(entry.get("integrity"), str) else None
            package = index.add(
                npm_package(
                    real_name or name,
                    version_or_none,
                    scope=_scope(entry),
                    hashes=sri_hashes(integrity),
                )
            )
            node_path = (*path, name)
            nodes.append((node_path, entry, package.ref))
            nested = entry.get("dependencies")
            if isinstance(nested, dict):
                children[node_path] = nested
                stack.append((node_path, nested))
    ref_of = {path: ref for path, _, ref in nodes}

    def resolve(from_path: tuple[str, ...], name: str) -> str | None:
        path = from_path
        while True:
            if name in children.get(path, {}):
                return ref_of.get((*path, name))
            if not path:
                return None
            path = path[:-1]

    for path, entry, ref in nodes:
        requires = entry.get("requires")
        if isinstance(requires, dict):
            for dep in requires:
                target = resolve(path, dep)
                if target is not None:
                    index.edge(ref, target)

    direct: list[str] | None = None
    if manifest is not None:
        direct = []
        for dep in _dep_names(manifest, _ROOT_DEP_FIELDS):
            target = resolve((), dep)
            if target is not None and target not in direct:
                direct.append(target)
    return ManifestResult(
        packages=index.packages,
        dependencies=index.dependencies,
        direct_refs=direct,
        subject=subject,
    )


def _pointer_path(names: tuple[str, ...]) -> list[str]:
    parts: list[str] = []
    for name in names:
        parts.extend(("dependencies", name))
    return parts
