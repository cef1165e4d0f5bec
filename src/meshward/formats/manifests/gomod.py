"""Go modules: ``go.mod`` (``require`` / ``replace`` / ``exclude``) with ``go.sum`` hashes.

go.mod lists every module the build needs from Go 1.17 on; ``// indirect`` marks the ones
the main module does not import itself, so direct vs transitive is known but the edges are
not. ``replace`` directives are applied: the package reported is the module actually built
(a fork, or a local directory, which has no version and no purl). The ``h1:`` hash from
go.sum is kept as SHA-256 hex, as cdxgen does (it is Go's dirhash of the module, not a
file digest).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import (
    PackageIndex,
    decode_text,
    find_sibling,
    make_purl,
)
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits

_DIRECTIVES = frozenset(
    {
        "module",
        "go",
        "toolchain",
        "godebug",
        "require",
        "exclude",
        "replace",
        "retract",
        "tool",
        "ignore",
    }
)
_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|=>|\(|\)|[^\s()"`]+')


@dataclass(slots=True)
class _Require:
    path: str
    version: str
    indirect: bool
    line: int


@dataclass(slots=True)
class _Replace:
    old_path: str
    old_version: str | None
    new_path: str
    new_version: str | None
    line: int


class GoModReader(ManifestReader):
    name = "go.mod"

    def matches(self, path: Path) -> bool:
        return path.name == "go.mod"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        text = decode_text(data, source, limits)
        module, requires, replaces, excludes = _parse(text, source)
        sums: dict[tuple[str, str], str] = {}
        go_sum = find_sibling(siblings, source, "go.sum")
        if go_sum is not None:
            sums = _parse_go_sum(decode_text(go_sum[1], go_sum[0], limits))

        index = PackageIndex()
        direct: dict[str, None] = {}
        for req in requires:
            if (req.path, req.version) in excludes:
                continue
            package = _package(req, replaces, sums)
            index.add(package)
            if not req.indirect:
                direct[package.ref] = None
        subject = None
        if module:
            subject = SbomPackage(
                ref=make_purl(*_golang_parts(module)) or f"golang:{module}",
                name=module,
                purl=make_purl(*_golang_parts(module)),
                type="application",
            )
        return ManifestResult(packages=index.packages, direct_refs=list(direct), subject=subject)


def _golang_parts(path: str, version: str | None = None) -> tuple[str, str, str | None, str]:
    namespace, _, name = path.rpartition("/")
    return "golang", name, version, namespace


def _package(
    req: _Require, replaces: list[_Replace], sums: dict[tuple[str, str], str]
) -> SbomPackage:
    path, version = req.path, req.version
    # A version-specific replace wins over a path-wide one; among equals, the last one.
    specific = [r for r in replaces if r.old_path == path and r.old_version == version]
    general = [r for r in replaces if r.old_path == path and r.old_version is None]
    chosen = specific or general
    if chosen:
        rep = chosen[-1]
        if rep.new_version is None:  # a local directory: first-party code, no version
            return SbomPackage(ref=f"go.mod:local:{rep.new_path}", name=path, type="library")
        path, version = rep.new_path, rep.new_version
    purl = make_purl(*_golang_parts(path, version))
    h1 = sums.get((path, version))
    return SbomPackage(
        ref=purl or f"golang:{path}@{version}",
        name=path,
        version=version,
        purl=purl,
        hashes={"SHA-256": h1} if h1 else {},
        type="library",
    )


def _unquote(token: str, source: str, line: int) -> str:
    if token.startswith("`"):
        return token[1:-1]
    if token.startswith('"'):
        try:
            value = bytes(token[1:-1], "utf-8").decode("unicode_escape")
        except UnicodeDecodeError:
            raise InputError(source, f"line {line}", f"bad quoted string {token}") from None
        return value
    return token


def _parse(
    text: str, source: str
) -> tuple[str | None, list[_Require], list[_Replace], set[tuple[str, str]]]:
    module: str | None = None
    requires: list[_Require] = []
    replaces: list[_Replace] = []
    excludes: set[tuple[str, str]] = set()
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        code, _, comment = raw.partition("//")
        if '"' in code or "`" in code:  # a // inside a quoted path is not a comment
            code, comment = _split_comment(raw)
        tokens = _TOKEN_RE.findall(code)
        if not tokens:
            continue
        place = f"line {number}"
        if block is None:
            verb, args = tokens[0], tokens[1:]
            if verb not in _DIRECTIVES:
                raise InputError(source, place, f"unknown directive: {verb}")
            if args == ["("]:
                block = verb
                continue
            if "(" in args or ")" in args:
                raise InputError(source, place, f"malformed {verb} directive")
        else:
            if tokens == [")"]:
                block = None
                continue
            verb, args = block, tokens
        args = [_unquote(a, source, number) for a in args]
        indirect = comment.strip().startswith("indirect") or "; indirect" in comment
        if verb == "module":
            if len(args) != 1:
                raise InputError(source, place, "usage: module module/path")
            module = args[0]
        elif verb == "require":
            if len(args) != 2:
                raise InputError(source, place, "usage: require module/path v1.2.3")
            requires.append(_Require(args[0], args[1], indirect, number))
        elif verb == "exclude":
            if len(args) != 2:
                raise InputError(source, place, "usage: exclude module/path v1.2.3")
            excludes.add((args[0], args[1]))
        elif verb == "replace":
            replaces.append(_parse_replace(args, source, place, number))
    if block is not None:
        raise InputError(source, None, f"unterminated {block} block")
    return module, requires, replaces, excludes


def _split_comment(raw: str) -> tuple[str, str]:
    in_quote: str | None = None
    for i, ch in enumerate(raw):
        if in_quote:
            if ch == in_quote and (ch == "`" or raw[i - 1] != "\\"):
                in_quote = None
        elif ch in '"`':
            in_quote = ch
        elif raw.startswith("//", i):
            return raw[:i], raw[i + 2 :]
    return raw, ""


def _parse_replace(args: list[str], source: str, place: str, number: int) -> _Replace:
    if "=>" not in args:
        raise InputError(source, place, "usage: replace module/path [v1.2.3] => other [v1.2.3]")
    arrow = args.index("=>")
    old, new = args[:arrow], args[arrow + 1 :]
    if len(old) not in (1, 2) or len(new) not in (1, 2):
        raise InputError(source, place, "usage: replace module/path [v1.2.3] => other [v1.2.3]")
    if len(new) == 1 and not _is_local_path(new[0]):
        raise InputError(source, place, f"replacement module {new[0]} needs a version")
    return _Replace(
        old_path=old[0],
        old_version=old[1] if len(old) == 2 else None,
        new_path=new[0],
        new_version=new[1] if len(new) == 2 else None,
        line=number,
    )


def _is_local_path(path: str) -> bool:
    return (
        path.startswith(("./", "../", "/", ".\\", "..\\"))
        or path in (".", "..")
        or (len(path) > 2 and path[1] == ":" and path[2] in "\\/")
    )


def _parse_go_sum(text: str) -> dict[tuple[str, str], str]:
    """``module version h1:base64`` lines; the ``/go.mod`` lines hash only the go.mod file."""
    sums: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1].endswith("/go.mod") or not parts[2].startswith("h1:"):
            continue
        try:
            digest = base64.b64decode(parts[2][3:], validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) == 32:
            sums[(parts[0], parts[1])] = digest.hex()
    return sums
