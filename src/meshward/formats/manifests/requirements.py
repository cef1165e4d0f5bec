"""pip requirements files (``requirements.txt``, ``requirements-dev.txt`` ...).

Follows pip's own reading rules: backslash continuations are joined before comments are
stripped, ``-r``/``-c`` name files relative to the including file, per-requirement
``--hash`` options are kept. Only ``==``/``===`` pins give a version; any other line is
reported as a package without version (it cannot be matched, but it is not dropped).
pip-compile and ``uv pip compile`` annotations (``# via pkg`` / ``# via -r file``) say which
pins are direct and give the dependency edges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    decode_text,
    hex_digest,
    new_package,
    resolve_sibling,
)
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits

_NAME_RE = re.compile(r"^(?:.*[-_.])?requirements(?:[-_.].*)?\.txt$", re.IGNORECASE)
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_PEP508_URL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@\s*\S")
_HASH_RE = re.compile(r"--hash(?:\s*=\s*|\s+)([A-Za-z0-9-]+):([0-9A-Fa-f]+)")
_OPTION_RE = re.compile(r"\s--?[A-Za-z]")
_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_SINGLE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?$")


@dataclass(slots=True)
class _Entry:
    source: str
    line: int
    name: str
    """As written (``Twisted``), or the path/URL when the line names no package."""
    version: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    named: bool = True
    pinnable: bool = True
    """False for paths and URLs: a constraint file cannot give them a version."""
    via: list[str] | None = None
    """pip-compile "# via" annotation: package names and "-r file" origins."""


@dataclass(slots=True)
class _Parsed:
    entries: list[_Entry] = field(default_factory=list)
    constraints: dict[str, _Entry] = field(default_factory=dict)
    annotated_sources: set[str] = field(default_factory=set)


class RequirementsReader(ManifestReader):
    name = "requirements"

    def matches(self, path: Path) -> bool:
        if _NAME_RE.match(path.name):
            return True
        return path.suffix.lower() == ".txt" and path.parent.name.lower() == "requirements"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        parsed = _Parsed()
        _read_file(data, source, siblings, limits, parsed, visited=set(), constraint=False)
        return _to_result(parsed)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's ``join_lines``: a trailing backslash continues the line, unless it is a comment."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                line = " " + line
            if pending:
                pending.append(line)
                yield first, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        yield first, "".join(pending)


def _read_file(
    data: bytes,
    source: str,
    siblings: Mapping[str, bytes],
    limits: Limits,
    parsed: _Parsed,
    visited: set[str],
    constraint: bool,
) -> None:
    visited.add(source)
    if len(visited) > 1000:
        raise InputError(source, None, "too many included requirements files")
    text = decode_text(data, source, limits)
    last: _Entry | None = None
    via_open = False
    for number, raw in _logical_lines(text):
        stripped = raw.strip()
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            if last is not None and comment.startswith("via"):
                rest = comment[3:].strip()
                _annotate(last, rest, parsed)
                via_open = not rest
            elif last is not None and via_open and comment:
                _annotate(last, comment, parsed)
            else:
                via_open = False
            continue
        via_open = False
        inline = _inline_via(raw)
        line = _COMMENT_RE.sub("", raw).strip()
        if not line:
            continue
        place = f"line {number}"
        include = _option_value(line, ("--requirement", "-r", "--constraint", "-c"))
        if include:
            last = None
            _include(*include, source, place, siblings, limits, parsed, visited, constraint)
            continue
        editable = _option_value(line, ("--editable", "-e"))
        if editable:
            last = _location_entry(editable[1], source, number)
        elif line.startswith("-"):
            last = None  # global option (--index-url, --no-binary ...): nothing to report
            continue
        else:
            last = _requirement_entry(line, source, number, place)
        if inline is not None:
            _annotate(last, inline, parsed)
        if constraint:
            if last.named and last.version:
                parsed.constraints.setdefault(canonicalize_name(last.name), last)
            last = None
        else:
            parsed.entries.append(last)


def _inline_via(raw: str) -> str | None:
    """Old pip-compile style ``pkg==1.0  # via a, b`` annotation, if any."""
    match = re.search(r"\s#\s*via\b(.*)$", raw)
    return match.group(1).strip() if match else None


def _annotate(entry: _Entry, text: str, parsed: _Parsed) -> None:
    parsed.annotated_sources.add(entry.source)
    if entry.via is None:
        entry.via = []
    for part in text.split(","):
        part = part.strip()
        if part:
            entry.via.append(part)


def _option_value(line: str, options: tuple[str, ...]) -> tuple[str, str] | None:
    """(option, value) for a line like ``-r x``, ``-rx`` or ``--requirement=x``."""
    for option in options:
        if not line.startswith(option):
            continue
        rest = line[len(option) :]
        if option.startswith("--") and rest[:1] not in (" ", "\t", "="):
            continue
        value = rest.lstrip(" \t=" if option.startswith("--") else " \t").strip()
        if value:
            return option, value
    return None


def _include(
    option: str,
    target: str,
    source: str,
    place: str,
    siblings: Mapping[str, bytes],
    limits: Limits,
    parsed: _Parsed,
    visited: set[str],
    constraint: bool,
) -> None:
    target = target.strip("'\"")
    if "://" in target:
        raise InputError(source, place, f"remote include {target!r} is not fetched")
    key = resolve_sibling(source, target)
    if key in visited:
        return  # pip would loop; a cycle adds nothing new
    try:
        included = siblings[key]
    except KeyError:
        raise InputError(
            source, place, f"included file {target!r} not found among the given files"
        ) from None
    as_constraint = constraint or option in ("-c", "--constraint")
    _read_file(included, key, siblings, limits, parsed, visited, as_constraint)


def _split_options(line: str) -> tuple[str, str]:
    """Requirement text and its per-requirement options (``--hash=...``)."""
    match = _OPTION_RE.search(line)
    if not match:
        return line, ""
    return line[: match.start()].strip(), line[match.start() :]


def _requirement_entry(line: str, source: str, number: int, place: str) -> _Entry:
    text, options = _split_options(line)
    hashes: dict[str, str] = {}
    for alg, digest in _HASH_RE.findall(options):
        for key, value in hex_digest(alg, digest).items():
            hashes.setdefault(key, value)
    if _looks_like_location(text):
        entry = _location_entry(text, source, number)
        entry.hashes = hashes
        return entry
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(source, place, f"invalid requirement {text!r}: {exc}") from None
    version: str | None = None
    if req.url:
        version = _version_from_location(req.url, req.name)
    else:
        for spec in req.specifier:
            if spec.operator in ("==", "===") and "*" not in spec.version:
                version = spec.version
    return _Entry(
        source=source,
        line=number,
        name=req.name,
        version=version,
        hashes=hashes,
        pinnable=req.url is None,
    )


def _looks_like_location(text: str) -> bool:
    head = text.split(";", 1)[0].strip()
    if _PEP508_URL_RE.match(head):
        return False  # "name @ url": a named requirement with a direct reference
    return (
        "://" in head
        or head.startswith((".", "/", "~"))
        or "/" in head
        or "\\" in head
        or head.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2"))
    )


def _version_from_location(location: str, name: str | None) -> str | None:
    file_name = unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1])
    try:
        if file_name.endswith(".whl"):
            wheel_name, wheel_version, _, _ = parse_wheel_filename(file_name)
            if name is None or canonicalize_name(name) == wheel_name:
                return str(wheel_version)
        elif file_name.endswith((".tar.gz", ".zip")):
            sdist_name, sdist_version = parse_sdist_filename(file_name)
            if name is None or canonicalize_name(name) == sdist_name:
                return str(sdist_version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _location_entry(location: str, source: str, number: int) -> _Entry:
    """A path, URL or VCS requirement: named by its wheel/sdist file or ``#egg=``."""
    location = location.split(";", 1)[0].strip()
    file_name = unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1])
    name: str | None = None
    try:
        if file_name.endswith(".whl"):
            name = str(parse_wheel_filename(file_name)[0])
        elif file_name.endswith((".tar.gz", ".zip")):
            name = str(parse_sdist_filename(file_name)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        name = None
    if name is None:
        egg = _EGG_RE.search(location)
        name = egg.group(1) if egg else None
    return _Entry(
        source=source,
        line=number,
        name=name or location,
        version=_version_from_location(location, None) if name else None,
        named=name is not None,
        pinnable=False,
    )


def _to_result(parsed: _Parsed) -> ManifestResult:
    index = PackageIndex()
    refs_by_name: dict[str, list[str]] = {}
    entry_refs: list[tuple[_Entry, str]] = []
    for entry in parsed.entries:
        version, hashes = entry.version, entry.hashes
        if version is None and entry.pinnable and entry.named:
            pin = parsed.constraints.get(canonicalize_name(entry.name))
            if pin is not None:
                version, hashes = pin.version, hashes or pin.hashes
        if entry.named:
            package = new_package(
                "pypi",
                entry.name,
                version,
                hashes=hashes,
                fallback_ref=f"requirements:{canonicalize_name(entry.name)}",
            )
        else:
            package = SbomPackage(ref=f"requirements:{entry.name}", name=entry.name, type="library")
        package = index.add(package)
        entry_refs.append((entry, package.ref))
        if entry.named:
            refs_by_name.setdefault(canonicalize_name(entry.name), []).append(package.ref)
    direct: dict[str, None] = {}
    for entry, ref in entry_refs:
        annotated = entry.source in parsed.annotated_sources
        if not annotated or not entry.via:
            direct[ref] = None
            continue
        has_parent = False
        for origin in entry.via:
            if origin.startswith("-") or origin.endswith((".in", ".txt", ".toml", ".cfg")):
                direct[ref] = None
                continue
            parent_name = origin.split()[0].split("[")[0]
            if not _SINGLE_NAME_RE.match(parent_name):
                continue
            for parent in refs_by_name.get(canonicalize_name(parent_name), []):
                index.edge(parent, ref)
                has_parent = True
        if not has_parent:
            direct[ref] = None  # required by something outside this file: the project's own
    return ManifestResult(
        packages=index.packages, dependencies=index.dependencies, direct_refs=list(direct)
    )
