"""What the Python lockfile readers share: pyproject.toml's declared dependencies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from meshward.formats.manifests.support import find_sibling, load_toml, stronger_scope
from meshward.limits import Limits


def declared_in_pyproject(
    siblings: Mapping[str, bytes], source: str, limits: Limits
) -> dict[str, str] | None:
    """Canonical name -> scope for the dependencies pyproject.toml beside ``source``
    declares (PEP 621 ``project``, PEP 735 ``dependency-groups``, ``tool.poetry``), or None
    when there is no pyproject.toml."""
    found = find_sibling(siblings, source, "pyproject.toml")
    if found is None:
        return None
    doc = load_toml(found[1], found[0], limits)
    declared: dict[str, str] = {}

    def add(name: str, scope: str) -> None:
        key = canonicalize_name(name)
        if key != "python":
            declared[key] = stronger_scope(declared.get(key), scope) or scope

    def add_pep508(items: Any, scope: str) -> None:
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                try:
                    add(Requirement(item).name, scope)
                except InvalidRequirement:
                    continue

    project = doc.get("project")
    if isinstance(project, dict):
        add_pep508(project.get("dependencies"), "required")
        extras = project.get("optional-dependencies")
        for items in extras.values() if isinstance(extras, dict) else []:
            add_pep508(items, "optional")
    groups = doc.get("dependency-groups")
    for items in groups.values() if isinstance(groups, dict) else []:
        add_pep508(items, "excluded")
    tool = doc.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        for name, spec in _table(poetry.get("dependencies")).items():
            optional = isinstance(spec, dict) and spec.get("optional") is True
            add(name, "optional" if optional else "required")
        for name in _table(poetry.get("dev-dependencies")):
            add(name, "excluded")
        for group in _table(poetry.get("group")).values():
            for name in _table(group.get("dependencies") if isinstance(group, dict) else None):
                add(name, "excluded")
    return declared


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
