"""Gradle build scripts: ``build.gradle`` (Groovy DSL) and ``build.gradle.kts`` (Kotlin DSL).

A build script is a program, so this reads the common declaration shapes only:
``implementation "g:a:v"`` (with comma continuations), ``implementation("g:a:v")``,
``implementation group: 'g', name: 'a', version: 'v'`` (and Kotlin's ``group = ...``),
``platform(...)`` / ``enforcedPlatform(...)`` BOMs, and version-catalog accessors
(``libs.grpc.stub``, from ``gradle/libs.versions.toml``). ``$var`` / ``${var}`` are
substituted from ``def`` / ``val`` / ``var`` / ``ext`` / ``extra`` values and
gradle.properties when they resolve; otherwise the package is reported without version.
``buildscript`` and ``plugins`` blocks and ``constraints`` are not dependencies. When a
``gradle.lockfile`` sits beside the script, the lockfile (resolved versions, transitive
packages) is the truth and this reader gives nothing.
Scopes: test configurations and compile-only ones (``compileOnly``, annotation
processors) -> ``excluded``; everything else -> ``required``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    decode_text,
    find_sibling,
    load_toml,
    new_package,
)
from meshward.limits import DEFAULT_LIMITS, Limits

LOCKFILE = "gradle.lockfile"
_IDENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(.*)\Z", re.DOTALL)
_STRING = re.compile(
    # ${...} inside a double-quoted string may hold quotes: "${property("v")}"
    r'"""(.*?)"""|\'\'\'(.*?)\'\'\'|"((?:[^"\\\n$]|\\.|\$\{[^}\n]*\}|\$)*)"'
    r"|'((?:[^'\\\n]|\\.)*)'",
    re.DOTALL,
)
_COORDINATE = re.compile(r"^([^:\s/]+):([^:\s/]+)(?::([^:@\s]*))?(?::[^:@\s]+)?(?:@[\w.]+)?$")
_CATALOG_REF = re.compile(r"\blibs\.((?:bundles\.)?[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_KEYWORDS = frozenset(
    {
        "if",
        "else",
        "for",
        "while",
        "try",
        "catch",
        "finally",
        "return",
        "def",
        "val",
        "var",
        "exclude",
        "because",
        "force",
        "transitive",
        "components",
        "modules",
        "configurations",
        "project",
        "files",
        "fileTree",
        "gradleApi",
        "localGroovy",
        "add",
        "println",
    }
)
_NOT_DEPENDENCIES = frozenset({"buildscript", "plugins", "pluginManagement", "constraints"})
_COMPILE_ONLY = (
    "compileonly",
    "annotationprocessor",
    "kapt",
    "ksp",
    "developmentonly",
    "lintchecks",
    "detektplugins",
)


@dataclass(frozen=True, slots=True)
class Declaration:
    group: str
    artifact: str
    version: str | None
    configuration: str
    platform: bool = False


class GradleReader(ManifestReader):
    name = "gradle"

    def matches(self, path: Path) -> bool:
        return path.name in ("build.gradle", "build.gradle.kts")

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        text = decode_text(data, source, limits)
        if find_sibling(siblings, source, LOCKFILE) is not None:
            return ManifestResult(direct_refs=[])
        index = PackageIndex()
        direct: dict[str, None] = {}
        for dec in declarations(text, source, siblings, limits):
            package = index.add(
                new_package(
                    "maven",
                    dec.artifact,
                    dec.version,
                    dec.group,
                    display_name=f"{dec.group}:{dec.artifact}",
                    scope=configuration_scope(dec.configuration),
                )
            )
            direct[package.ref] = None
        return ManifestResult(packages=index.packages, direct_refs=list(direct))


def configuration_scope(configuration: str) -> str:
    lower = configuration.lower()
    if "test" in lower or lower.startswith(_COMPILE_ONLY):
        return "excluded"
    return "required"


def declarations(
    text: str, source: str, siblings: Mapping[str, bytes], limits: Limits
) -> list[Declaration]:
    """Every dependency the script declares, in order."""
    code = _strip_comments(text)
    variables = _variables(code)
    props = find_sibling(siblings, source, "gradle.properties")
    if props is not None:
        for line in decode_text(props[1], props[0], limits).splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith(("#", "!")):
                variables.setdefault(key.strip(), value.strip())
    catalog = _catalog(siblings, source, limits)
    found: list[Declaration] = []
    for head, block in _statements(code):
        match = _IDENT.match(head)
        if match and match.group(1) == "dependencies" and block is not None:
            _collect(block, variables, catalog, found)
        elif match and match.group(1) in _NOT_DEPENDENCIES:
            continue
        elif block is not None:
            # allprojects { dependencies { ... } }, subprojects, if-blocks ...
            for inner_head, inner_block in _statements(block):
                inner = _IDENT.match(inner_head)
                if inner and inner.group(1) == "dependencies" and inner_block is not None:
                    _collect(inner_block, variables, catalog, found)
    return found


# ----------------------------------------------------------------------------- lexing


def _strip_comments(text: str) -> str:
    """Drop // and /* */ comments, keeping string literals (and line numbers) intact."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            chunk = text[i : n if end < 0 else end + 2]
            out.append("\n" * chunk.count("\n"))
            i = n if end < 0 else end + 2
        elif ch in "\"'":
            match = _STRING.match(text, i)
            if match is None:
                out.append(ch)
                i += 1
            else:
                out.append(match.group(0))
                i = match.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _statements(code: str) -> Iterator[tuple[str, str | None]]:
    """(head, block) for each statement: the text before an optional ``{ ... }`` block.

    A newline ends a statement unless brackets are open or the line ends with a comma
    (Groovy's multi-coordinate continuation) or an operator."""
    head: list[str] = []
    depth = 0
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in "\"'":
            match = _STRING.match(code, i)
            if match is not None:
                head.append(match.group(0))
                i = match.end()
                continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "{" and depth == 0:
            end = _matching_brace(code, i)
            yield "".join(head), code[i + 1 : end]
            head = []
            i = end + 1
            continue
        elif ch == "}" and depth == 0:
            i += 1
            continue
        elif ch in "\n;" and depth == 0:
            stripped = "".join(head).rstrip()
            if stripped.endswith((",", "+", "=", "(")) or (
                ch == "\n" and code[i + 1 :].lstrip(" \t").startswith(".")
            ):
                head.append(" ")
                i += 1
                continue
            if stripped.strip():
                yield stripped, None
            head = []
            i += 1
            continue
        head.append(ch)
        i += 1
    if "".join(head).strip():
        yield "".join(head).strip(), None


def _matching_brace(code: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(code):
        ch = code[i]
        if ch in "\"'":
            match = _STRING.match(code, i)
            if match is not None:
                i = match.end()
                continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(code)


def _string_value(match: re.Match[str]) -> tuple[str, bool]:
    """(content, interpolated): double-quoted strings interpolate ``$x``, single ones not."""
    for group, interpolated in ((1, True), (2, False), (3, True), (4, False)):
        value = match.group(group)
        if value is not None:
            return value, interpolated
    return "", False


# ----------------------------------------------------------------------------- values

_VAR_PATTERNS = (
    re.compile(r"\b(?:def|val|var)\s+(\w+)\s*(?::\s*String\s*)?=\s*(\"[^\"\n]*\"|'[^'\n]*')"),
    re.compile(
        r"\b(?:(?:rootProject|project)\.)?(?:ext|extra)\.(\w+)\s*=\s*(\"[^\"\n]*\"|'[^'\n]*')"
    ),
    re.compile(r"\b(?:ext|extra)\s*\[\s*[\"'](\w+)[\"']\s*\]\s*=\s*(\"[^\"\n]*\"|'[^'\n]*')"),
    re.compile(r"\b(?:ext|extra)?\.?set\(\s*[\"'](\w+)[\"']\s*,\s*(\"[^\"\n]*\"|'[^'\n]*')"),
    re.compile(r"\bval\s+(\w+)\s*(?::\s*String\s*)?by\s+extra\(\s*(\"[^\"\n]*\")\s*\)"),
)
_EXT_ASSIGN = re.compile(r"^\s*(\w+)\s*=\s*(\"[^\"\n]*\"|'[^'\n]*')", re.MULTILINE)
_INTERPOLATION = re.compile(r"\$\{\s*([^}]+?)\s*\}|\$([A-Za-z_][\w.]*)")


def _variables(code: str) -> dict[str, str]:
    raw: dict[str, str] = {}
    for pattern in _VAR_PATTERNS:
        for name, literal in pattern.findall(code):
            raw.setdefault(name, literal)
    for head, block in _statements(code):
        if block is not None and head.strip() in ("ext", "extra.apply", "extra", "project.ext"):
            for name, literal in _EXT_ASSIGN.findall(block):
                raw.setdefault(name, literal)
    values: dict[str, str] = {}
    for name, literal in raw.items():
        values[name] = literal[1:-1]
    for _ in range(5):  # values may interpolate one another
        for name, value in values.items():
            if "$" in value:
                values[name] = _interpolate(value, values) or value
    return values


def _lookup(expression: str, variables: Mapping[str, str]) -> str | None:
    expression = expression.strip()
    for wrapper in (
        r"^(?:project\.)?(?:findProperty|property)\(\s*[\"'](\w+)[\"']\s*\)",
        r"^(?:project\.)?properties\[\s*[\"'](\w+)[\"']\s*\]",
    ):
        match = re.match(wrapper, expression)
        if match:
            return variables.get(match.group(1))
    parts = [p for p in expression.split(".") if p]
    while parts and parts[0] in ("rootProject", "project", "ext", "extra"):
        parts = parts[1:]
    if len(parts) == 1:
        return variables.get(parts[0])
    return None


def _interpolate(value: str, variables: Mapping[str, str]) -> str | None:
    """``$x`` / ``${x}`` substituted, or None when any reference does not resolve."""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        found = _lookup(match.group(1) or match.group(2), variables)
        if found is None:
            unresolved = True
            return match.group(0)
        return found

    result = _INTERPOLATION.sub(replace, value)
    return None if unresolved else result


# ----------------------------------------------------------------------------- declarations


def _collect(
    block: str,
    variables: Mapping[str, str],
    catalog: Mapping[str, list[tuple[str, str, str | None]]],
    found: list[Declaration],
    depth: int = 0,
) -> None:
    if depth > 32:  # if-blocks nested this deep are not a build script worth reading
        return
    for head, inner in _statements(block):
        match = _IDENT.match(head)
        if match is None:
            continue
        configuration, args = match.group(1), match.group(2)
        if configuration in _NOT_DEPENDENCIES:
            continue
        if configuration in _KEYWORDS:
            if configuration in ("if", "else", "for", "while", "try", "finally") and inner:
                _collect(inner, variables, catalog, found, depth + 1)
            continue
        if not args.strip():
            continue
        found.extend(_declared(configuration, args, variables, catalog))


def _declared(
    configuration: str,
    args: str,
    variables: Mapping[str, str],
    catalog: Mapping[str, list[tuple[str, str, str | None]]],
) -> list[Declaration]:
    platform = "platform(" in args.replace(" ", "")
    named = _named_arguments(args, variables)
    if named is not None:
        group, artifact, version = named
        return [Declaration(group, artifact, version, configuration, platform)]
    result: list[Declaration] = []
    for match in _STRING.finditer(args):
        literal, interpolated = _string_value(match)
        value = _interpolate(literal, variables) if interpolated else literal
        coordinate = _COORDINATE.match(value if value is not None else literal)
        if coordinate is None:
            continue
        group, artifact, version = coordinate.groups()
        if value is None or (version and "$" in version):
            version = None
        result.append(Declaration(group, artifact, version or None, configuration, platform))
    for ref in _CATALOG_REF.findall(_STRING.sub("", args)):
        for group, artifact, version in catalog.get(_catalog_key(ref), []):
            result.append(Declaration(group, artifact, version, configuration, platform))
    return result


def _named_arguments(args: str, variables: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """``group: 'g', name: 'a', version: 'v'`` (Groovy) or ``group = "g", ...`` (Kotlin)."""
    values: dict[str, str | None] = {}
    for key in ("group", "name", "version"):
        match = re.search(rf"\b{key}\s*[:=]\s*(\"[^\"]*\"|'[^']*'|[A-Za-z_][\w.]*)", args)
        if match is None:
            continue
        token = match.group(1)
        if token[0] in "\"'":
            values[key] = _interpolate(token[1:-1], variables) if token[0] == '"' else token[1:-1]
        else:
            values[key] = _lookup(token, variables)
    group, name = values.get("group"), values.get("name")
    if not group or not name:
        return None
    return group, name, values.get("version") or None


# ----------------------------------------------------------------------------- catalogs


def _catalog_key(accessor: str) -> str:
    return re.sub(r"[-_.]", ".", accessor).lower()


def _catalog(
    siblings: Mapping[str, bytes], source: str, limits: Limits
) -> dict[str, list[tuple[str, str, str | None]]]:
    """``libs.x.y`` accessor -> coordinates, from the nearest gradle/libs.versions.toml."""
    directory = posixpath.dirname(source)
    found: tuple[str, bytes] | None = None
    for _ in range(32):
        found = find_sibling(siblings, posixpath.join(directory, "x"), "gradle/libs.versions.toml")
        if found is not None or directory in ("", "/"):
            break
        directory = posixpath.dirname(directory)
    if found is None:
        return {}
    doc = load_toml(found[1], found[0], limits)
    versions = _table(doc.get("versions"))
    libraries: dict[str, list[tuple[str, str, str | None]]] = {}
    for alias, spec in _table(doc.get("libraries")).items():
        coordinate = _catalog_library(spec, versions)
        if coordinate is not None:
            libraries[_catalog_key(alias)] = [coordinate]
    for alias, members in _table(doc.get("bundles")).items():
        bundle = [
            lib
            for member in (members if isinstance(members, list) else [])
            if isinstance(member, str)
            for lib in libraries.get(_catalog_key(member), [])
        ]
        libraries["bundles." + _catalog_key(alias)] = bundle
    return libraries


def _catalog_library(spec: Any, versions: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) >= 2:
            return parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else None
        return None
    if not isinstance(spec, dict):
        return None
    if isinstance(spec.get("module"), str) and ":" in spec["module"]:
        group, artifact = spec["module"].split(":", 1)
    elif isinstance(spec.get("group"), str) and isinstance(spec.get("name"), str):
        group, artifact = spec["group"], spec["name"]
    else:
        return None
    version = spec.get("version")
    if isinstance(version, dict):
        ref = version.get("ref")
        version = versions.get(ref) if isinstance(ref, str) else version.get("strictly")
        if isinstance(version, dict):
            version = version.get("strictly") or version.get("require")
    elif "version.ref" in spec:
        version = versions.get(spec["version.ref"])
    return group, artifact, version if isinstance(version, str) else None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
