"""Yarn ``yarn.lock``: the classic v1 format and the YAML lockfiles of Yarn 2+ (berry).

Each entry lists the descriptors (``name@range``) it satisfies, its exact version and its
own dependencies as descriptors, so the edges are exact. The lockfile does not say which
dependencies the project declares, nor which are dev-only: package.json beside it does
(berry also records workspaces as ``@workspace:`` entries). Dev-only reachability gives
scope ``excluded``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    decode_text,
    find_sibling,
    npm_alias,
    npm_package,
    propagate_scopes,
    sri_hashes,
)
from meshward.formats.sbom.common import load_json
from meshward.limits import DEFAULT_LIMITS, Limits

_SHA1_FRAGMENT = re.compile(r"\.tgz#([0-9a-f]{40})$")
_DEP_SECTIONS = ("dependencies", "optionalDependencies")


@dataclass(slots=True)
class _Entry:
    line: int
    descriptors: list[str]
    fields: dict[str, str] = field(default_factory=dict)
    deps: dict[str, str] = field(default_factory=dict)


class YarnLockReader(ManifestReader):
    name = "yarn.lock"

    def matches(self, path: Path) -> bool:
        return path.name == "yarn.lock"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        text = decode_text(data, source, limits)
        manifest = _package_json(siblings, source, limits)
        if re.search(r"^\"?__metadata\"?:", text, re.MULTILINE):
            return _read_berry(text, source, manifest)
        return _read_classic(text, source, manifest)


def _package_json(
    siblings: Mapping[str, bytes], source: str, limits: Limits
) -> dict[str, Any] | None:
    found = find_sibling(siblings, source, "package.json")
    if found is None:
        return None
    doc = load_json(found[1], found[0], limits)
    return doc if isinstance(doc, dict) else None


def _descriptor_name(descriptor: str) -> str:
    at = descriptor.find("@", 1)
    return descriptor[:at] if at > 0 else descriptor


def _declared(manifest: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """(name, range, scope) for each dependency package.json declares."""
    found: list[tuple[str, str, str]] = []
    if manifest is None:
        return found
    for section, scope in (
        ("dependencies", "required"),
        ("optionalDependencies", "optional"),
        ("peerDependencies", "required"),
        ("devDependencies", "excluded"),
    ):
        value = manifest.get(section)
        if isinstance(value, dict):
            found.extend(
                (name, spec, scope)
                for name, spec in value.items()
                if isinstance(name, str) and isinstance(spec, str)
            )
    return found


def _finish(
    index: PackageIndex,
    direct: dict[str, str] | None,
) -> ManifestResult:
    if direct is not None:
        scopes = propagate_scopes(direct, index.dependencies)
        for ref, package in index.by_ref.items():
            package.scope = scopes.get(ref)
    return ManifestResult(
        packages=index.packages,
        dependencies=index.dependencies,
        direct_refs=None if direct is None else list(direct),
    )


# ----------------------------------------------------------------------------- v1


def _split_tokens(text: str, source: str, line: int) -> list[str]:
    """Whitespace-separated tokens, double-quoted ones unquoted (yarn's own lexer)."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
        elif ch == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise InputError(source, f"line {line}", "unterminated string")
            tokens.append(text[i + 1 : end].replace('\\"', '"'))
            i = end + 1
        else:
            end = i
            while end < len(text) and text[end] not in " \t":
                end += 1
            tokens.append(text[i:end])
            i = end
    return tokens


def _parse_classic(text: str, source: str) -> list[_Entry]:
    entries: list[_Entry] = []
    current: _Entry | None = None
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        place = f"line {number}"
        if indent == 0:
            if not line.endswith(":"):
                raise InputError(source, place, "expected 'descriptor[, descriptor]:'")
            descriptors = [
                d.strip().strip('"') for d in line[:-1].split(",") if d.strip().strip('"')
            ]
            if not descriptors:
                raise InputError(source, place, "entry without descriptor")
            current = _Entry(line=number, descriptors=descriptors)
            entries.append(current)
            section = None
        elif current is None:
            raise InputError(source, place, "indented line outside an entry")
        elif indent == 2:
            if line.endswith(":") and " " not in line.rstrip(":").strip('"'):
                section = line[:-1].strip('"')
                continue
            section = None
            tokens = _split_tokens(line, source, number)
            if len(tokens) < 2:
                raise InputError(source, place, f"expected 'key value', got {line!r}")
            current.fields[tokens[0].rstrip(":")] = tokens[1]
        elif indent >= 4 and section is not None:
            tokens = _split_tokens(line, source, number)
            if len(tokens) < 2:
                raise InputError(source, place, f"expected 'name range', got {line!r}")
            if section in _DEP_SECTIONS:
                current.deps[tokens[0]] = tokens[1]
        else:
            raise InputError(source, place, "unexpected indentation")
    return entries


def _read_classic(text: str, source: str, manifest: dict[str, Any] | None) -> ManifestResult:
    index = PackageIndex()
    by_descriptor: dict[str, str] = {}
    entries = _parse_classic(text, source)
    refs: list[str] = []
    for entry in entries:
        version = entry.fields.get("version")
        if version is None:
            raise InputError(source, f"line {entry.line}", "entry has no version")
        first = entry.descriptors[0]
        name = _descriptor_name(first)
        real, _ = npm_alias(first[len(name) + 1 :])
        resolved = entry.fields.get("resolved", "")
        hashes = sri_hashes(entry.fields.get("integrity"))
        sha1 = _SHA1_FRAGMENT.search(resolved)
        if sha1 and "SHA-1" not in hashes:
            hashes["SHA-1"] = sha1.group(1)
        package = index.add(npm_package(real or name, version, hashes=hashes))
        refs.append(package.ref)
        for descriptor in entry.descriptors:
            by_descriptor[descriptor] = package.ref
    for entry, ref in zip(entries, refs, strict=True):
        for dep, spec in entry.deps.items():
            target = by_descriptor.get(f"{dep}@{spec}")
            if target is not None:
                index.edge(ref, target)
    direct: dict[str, str] | None = None
    if manifest is not None:
        direct = {}
        for name, spec, scope in _declared(manifest):
            target = by_descriptor.get(f"{name}@{spec}")
            if target is not None:
                direct[target] = _stronger(direct.get(target), scope)
    return _finish(index, direct)


def _stronger(current: str | None, scope: str) -> str:
    order = {"required": 3, "optional": 2, "excluded": 1}
    if current is None or order[scope] > order[current]:
        return scope
    return current


# ----------------------------------------------------------------------------- berry


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: a lockfile never needs them, a bomb does."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _read_berry(text: str, source: str, manifest: dict[str, Any] | None) -> ManifestResult:
    try:
        doc = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(source, place, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(source, None, "a yarn.lock is a mapping of entries")
    index = PackageIndex()
    by_descriptor: dict[str, str] = {}
    workspaces: list[dict[str, Any]] = []
    pending: list[tuple[str, dict[str, Any]]] = []
    for key, entry in doc.items():
        if key == "__metadata":
            continue
        if not isinstance(key, str) or not isinstance(entry, dict):
            raise InputError(source, str(key), "entry is not a mapping")
        resolution = entry.get("resolution")
        version = entry.get("version")
        if not isinstance(resolution, str) or version is None:
            raise InputError(source, key, "entry has no resolution or version")
        descriptors = [d.strip() for d in key.split(",") if d.strip()]
        if "@workspace:" in resolution:
            workspaces.append(entry)
            continue
        name = _descriptor_name(resolution)
        package = index.add(npm_package(name, str(version)))
        for descriptor in descriptors:
            by_descriptor[descriptor] = package.ref
        pending.append((package.ref, entry))

    def lookup(name: str, spec: str) -> str | None:
        found = by_descriptor.get(f"{name}@{spec}")
        if found is None and ":" not in spec:
            found = by_descriptor.get(f"{name}@npm:{spec}")
        return found

    for ref, entry in pending:
        for section in _DEP_SECTIONS:
            deps = entry.get(section)
            if isinstance(deps, dict):
                for dep, spec in deps.items():
                    target = lookup(str(dep), str(spec))
                    if target is not None:
                        index.edge(ref, target)

    direct: dict[str, str] | None = None
    dev_names: set[str] = set()
    if manifest is not None and isinstance(manifest.get("devDependencies"), dict):
        dev_names = set(manifest["devDependencies"])
    if workspaces:
        direct = {}
        for entry in workspaces:
            deps = entry.get("dependencies")
            if not isinstance(deps, dict):
                continue
            for dep, spec in deps.items():
                target = lookup(str(dep), str(spec))
                if target is not None:
                    scope = "excluded" if dep in dev_names else "required"
                    direct[target] = _stronger(direct.get(target), scope)
    elif manifest is not None:
        direct = {}
        for name, spec, scope in _declared(manifest):
            target = lookup(name, spec)
            if target is not None:
                direct[target] = _stronger(direct.get(target), scope)
    return _finish(index, direct)
