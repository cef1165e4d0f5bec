"""MSBuild projects (``*.csproj``, ``*.fsproj``, ``*.vbproj``): NuGet ``PackageReference``.

Versions come from the reference itself or, with central package management, from the
nearest ``Directory.Packages.props`` (``PackageVersion``; ``VersionOverride`` wins) found
in the project's directory or a parent among the given files. ``$(Property)`` values are
taken from the props files and the project. References with ``PrivateAssets="all"``
(analyzers, build tools), ``GlobalPackageReference`` and every reference of a test
project (``IsTestProject``, or one referencing Microsoft.NET.Test.Sdk) get scope
``excluded``. Version
ranges and floating versions are reported without version. The restore graph
(transitive packages) lives in obj/project.assets.json, not in the project file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    find_upwards,
    local_name,
    new_package,
    parse_xml,
)
from meshward.limits import DEFAULT_LIMITS, Limits

_PROPERTY = re.compile(r"\$\(([A-Za-z_][\w.-]*)\)")


class CsprojReader(ManifestReader):
    name = "csproj"

    def matches(self, path: Path) -> bool:
        return path.suffix.lower() in (".csproj", ".fsproj", ".vbproj")

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        project = _project(data, source, limits)
        build_props = _props_file(siblings, source, "Directory.Build.props", limits)
        packages_props = _props_file(siblings, source, "Directory.Packages.props", limits)
        props: dict[str, str] = {}
        for root in (build_props, packages_props, project):
            if root is not None:
                _collect_properties(root, props)
        central = _true(props.get("ManagePackageVersionsCentrally"))
        central_versions: dict[str, str] = {}
        index = PackageIndex()
        direct: dict[str, None] = {}
        if packages_props is not None:
            for item in _items(packages_props, "PackageVersion"):
                name = item.get("Include")
                if name:
                    version = _attr_or_child(item, "Version")
                    central_versions[name.strip().lower()] = _substitute(version, props) or ""
            if central:
                for item in _items(packages_props, "GlobalPackageReference"):
                    self._add(index, direct, item, props, central_versions, True, "excluded")
        references = list(_items(project, "PackageReference"))
        if build_props is not None:
            references = list(_items(build_props, "PackageReference")) + references
        test_project = _true(props.get("IsTestProject")) or any(
            (item.get("Include") or "").strip().lower() == "microsoft.net.test.sdk"
            for item in references
        )
        for item in references:
            scope = "excluded" if test_project else None
            self._add(index, direct, item, props, central_versions, central, scope)
        return ManifestResult(packages=index.packages, direct_refs=list(direct))

    @staticmethod
    def _add(
        index: PackageIndex,
        direct: dict[str, None],
        item: Any,
        props: Mapping[str, str],
        central_versions: Mapping[str, str],
        central: bool,
        scope: str | None,
    ) -> None:
        include = item.get("Include")
        if not include:
            return  # Update= / Remove= items change references declared elsewhere
        override = _substitute(_attr_or_child(item, "VersionOverride"), props)
        own = _substitute(_attr_or_child(item, "Version"), props)
        names = _substitute(include, props, keep=True) or ""
        for name in (n.strip() for n in names.split(";")):
            if not name:
                continue
            version = own
            if central:  # VersionOverride only means something under central management
                version = override or central_versions.get(name.lower()) or own
            private = (_attr_or_child(item, "PrivateAssets") or "").strip().lower() == "all"
            package = index.add(
                new_package(
                    "nuget",
                    name,
                    _pinned(version),
                    scope=scope or ("excluded" if private else "required"),
                )
            )
            direct[package.ref] = None


def _project(data: bytes, source: str, limits: Limits) -> Any:
    root = parse_xml(data, source, limits)
    if local_name(root.tag) != "Project":
        raise InputError(source, f"<{local_name(root.tag)}>", "not an MSBuild project")
    return root


def _props_file(
    siblings: Mapping[str, bytes], source: str, file_name: str, limits: Limits
) -> Any | None:
    found = find_upwards(siblings, source, file_name)
    return None if found is None else _project(found[1], found[0], limits)


def _collect_properties(root: Any, props: dict[str, str]) -> None:
    """Unconditional properties override; conditional ones only fill gaps."""
    conditional: dict[str, str] = {}
    for group in root:
        if local_name(group.tag) != "PropertyGroup":
            continue
        group_conditional = bool(group.get("Condition"))
        for prop in group:
            name = local_name(prop.tag)
            if not name:
                continue
            value = _substitute((prop.text or "").strip(), props, keep=True) or ""
            if group_conditional or prop.get("Condition"):
                conditional.setdefault(name, value)
            else:
                props[name] = value
    for name, value in conditional.items():
        props.setdefault(name, value)


def _items(root: Any, kind: str) -> list[Any]:
    return [
        item
        for group in root
        if local_name(group.tag) == "ItemGroup"
        for item in group
        if local_name(item.tag) == kind
    ]


def _attr_or_child(item: Any, name: str) -> str | None:
    value = item.get(name)
    if value is not None:
        return str(value)
    for child in item:
        if local_name(child.tag) == name:
            return (child.text or "").strip()
    return None


def _substitute(value: str | None, props: Mapping[str, str], keep: bool = False) -> str | None:
    """``$(Name)`` from props; unresolved references give None (or stay, with keep)."""
    if value is None:
        return None
    for _ in range(10):
        if "$(" not in value:
            return value.strip() or None
        replaced = _PROPERTY.sub(lambda m: props.get(m.group(1), m.group(0)), value)
        if replaced == value:
            return value if keep else None
        value = replaced
    return value if keep else None


def _pinned(version: str | None) -> str | None:
    """An exact NuGet version; ranges (``[1.0,2.0)``) and floating ``1.*`` are not."""
    if not version or version[0] in "[(" or "*" in version or "," in version:
        return None
    return version


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"
