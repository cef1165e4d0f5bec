"""Maven ``pom.xml``: the dependencies a project declares.

``${property}`` references are substituted from ``<properties>`` and the ``project.*`` /
``parent.*`` values; ``<dependencyManagement>`` gives versions and scopes to dependencies
declared without them. Parent POMs and imported BOMs live in a repository, not in the
file, so a version they manage stays unknown (the package is reported without version),
with one exception: a Spring Boot parent versions every ``org.springframework.boot``
artifact at its own version. Transitive dependencies are not in a pom at all.
Scopes: compile/runtime/system -> ``required``, provided -> ``optional``,
test -> ``excluded``; ``<optional>true</optional>`` -> ``optional``.
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
    child_text,
    children,
    local_name,
    new_package,
    parse_xml,
)
from meshward.limits import DEFAULT_LIMITS, Limits

_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_SCOPES = {
    None: "required",
    "compile": "required",
    "runtime": "required",
    "system": "required",
    "provided": "optional",
    "test": "excluded",
}
_SPRING_BOOT_PARENTS = {
    ("org.springframework.boot", "spring-boot-starter-parent"),
    ("org.springframework.boot", "spring-boot-dependencies"),
}


class PomReader(ManifestReader):
    name = "pom"

    def matches(self, path: Path) -> bool:
        return path.name == "pom.xml" or path.suffix == ".pom"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        root = parse_xml(data, source, limits)
        if local_name(root.tag) != "project":
            raise InputError(source, f"<{local_name(root.tag)}>", "not a Maven POM")
        props = _properties(root)
        parent = (children(root, "parent") or [None])[0]
        parent_group = child_text(parent, "groupId") if parent is not None else None
        parent_artifact = child_text(parent, "artifactId") if parent is not None else None
        parent_version = child_text(parent, "version") if parent is not None else None

        def resolve(value: str | None) -> str | None:
            return _substitute(value, props)

        managed: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        for management in children(root, "dependencyManagement"):
            for deps in children(management, "dependencies"):
                for dep in children(deps, "dependency"):
                    key = (
                        resolve(child_text(dep, "groupId")),
                        resolve(child_text(dep, "artifactId")),
                    )
                    if key[0] and key[1]:
                        managed[(key[0], key[1])] = (
                            resolve(child_text(dep, "version")),
                            resolve(child_text(dep, "scope")),
                        )

        boot_version = None
        if (parent_group, parent_artifact) in _SPRING_BOOT_PARENTS:
            boot_version = resolve(parent_version)

        index = PackageIndex()
        direct: dict[str, None] = {}
        for deps in children(root, "dependencies"):
            for number, dep in enumerate(children(deps, "dependency")):
                place = f"/project/dependencies/dependency[{number + 1}]"
                group = resolve(child_text(dep, "groupId"))
                artifact = resolve(child_text(dep, "artifactId"))
                if not group or not artifact:
                    raise InputError(source, place, "dependency without groupId or artifactId")
                managed_version, managed_scope = managed.get((group, artifact), (None, None))
                declared = child_text(dep, "version")
                version = resolve(declared) if declared else managed_version
                if version is None and declared is None and group == "org.springframework.boot":
                    version = boot_version
                scope_name = resolve(child_text(dep, "scope")) or managed_scope
                if scope_name == "import":
                    continue
                scope = _SCOPES.get(scope_name, "required")
                if (child_text(dep, "optional") or "").lower() == "true" and scope == "required":
                    scope = "optional"
                package = index.add(
                    new_package(
                        "maven",
                        artifact,
                        _pinned(version),
                        group,
                        display_name=f"{group}:{artifact}",
                        scope=scope,
                    )
                )
                direct[package.ref] = None

        subject = None
        group = resolve(child_text(root, "groupId")) or resolve(parent_group)
        artifact = resolve(child_text(root, "artifactId"))
        if group and artifact:
            version = resolve(child_text(root, "version")) or resolve(parent_version)
            subject = new_package(
                "maven", artifact, _pinned(version), group, display_name=f"{group}:{artifact}"
            )
            subject.type = "application"
        return ManifestResult(packages=index.packages, direct_refs=list(direct), subject=subject)


def _properties(root: Any) -> dict[str, str]:
    props: dict[str, str] = {}
    parent = (children(root, "parent") or [None])[0]
    for prefix, element in (("project.parent.", parent), ("parent.", parent)):
        if element is not None:
            for field in ("groupId", "artifactId", "version"):
                value = child_text(element, field)
                if value:
                    props[prefix + field] = value
    for field in ("groupId", "artifactId", "version", "name", "packaging"):
        value = child_text(root, field) or (
            child_text(parent, field) if parent is not None and field != "artifactId" else None
        )
        if value:
            for prefix in ("project.", "pom.", ""):
                props[prefix + field] = value
    for block in children(root, "properties"):
        for prop in block:
            name = local_name(prop.tag)
            if name:
                props[name] = (prop.text or "").strip()
    return props


def _substitute(value: str | None, props: Mapping[str, str]) -> str | None:
    """``${name}`` replaced from props (recursively, a few rounds); None when unresolved."""
    if value is None:
        return None
    for _ in range(10):
        if "${" not in value:
            return value.strip() or None
        replaced = _PROPERTY.sub(lambda m: props.get(m.group(1).strip(), m.group(0)), value)
        if replaced == value:
            return None
        value = replaced
    return None


def _pinned(version: str | None) -> str | None:
    """A concrete version; ranges (``[1.0,2.0)``) and LATEST/RELEASE are not one."""
    if not version or version[0] in "[(" or "," in version or version in ("LATEST", "RELEASE"):
        return None
    return version
