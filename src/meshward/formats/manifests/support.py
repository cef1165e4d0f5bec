"""Small helpers the manifest readers share: purls, sibling files, hashes, scopes."""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from packageurl import PackageURL

from meshward.errors import InputError
from meshward.formats.sbom.common import (
    check_size,
    normalize_hash_alg,
    normalize_hex,
    normalize_purl,
)
from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import Limits

SCOPE_RANK = {"required": 3, "optional": 2, "excluded": 1}
"""A package reached both as a runtime and as a dev dependency is a runtime dependency."""

SRI_ALGORITHMS = {"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}


def make_purl(
    type_: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
    qualifiers: Mapping[str, str] | None = None,
) -> str | None:
    """Canonical purl string, or None when the parts do not make a valid purl."""
    try:
        raw = PackageURL(
            type=type_,
            namespace=namespace or None,
            name=name,
            version=version or None,
            qualifiers=dict(qualifiers) if qualifiers else None,
        ).to_string()
        return normalize_purl(raw)
    except ValueError:
        return None


def new_package(
    type_: str,
    name: str,
    version: str | None,
    namespace: str | None = None,
    *,
    display_name: str | None = None,
    scope: str | None = None,
    hashes: dict[str, str] | None = None,
    fallback_ref: str | None = None,
) -> SbomPackage:
    """A library package whose ref is its purl (so merging files dedupes by purl)."""
    purl = make_purl(type_, name, version, namespace)
    full_name = display_name or (f"{namespace}/{name}" if namespace else name)
    ref = purl or fallback_ref or f"{type_}:{full_name}@{version or ''}"
    return SbomPackage(
        ref=ref,
        name=full_name,
        version=version or None,
        purl=purl,
        hashes=dict(hashes or {}),
        scope=scope,
        type="library",
        group=namespace if type_ == "maven" else None,
    )


def decode_text(data: bytes, source: str, limits: Limits) -> str:
    """UTF-8 text of a manifest (BOM dropped); InputError when too big or not text."""
    check_size(data, source, limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(source, f"line {line}", "not valid UTF-8 text") from None
    if "\x00" in text:
        raise InputError(source, None, "binary content, not a text manifest")
    return text


def resolve_sibling(source: str, relative: str) -> str:
    """Path of ``relative`` (posix or Windows separators) seen from the directory of source."""
    rel = relative.replace("\\", "/")
    base = posixpath.dirname(source)
    return posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)


def find_sibling(
    siblings: Mapping[str, bytes], source: str, relative: str
) -> tuple[str, bytes] | None:
    key = resolve_sibling(source, relative)
    try:
        return key, siblings[key]
    except KeyError:
        return None


def find_upwards(
    siblings: Mapping[str, bytes], source: str, file_name: str
) -> tuple[str, bytes] | None:
    """The nearest ``file_name`` in the directory of source or any parent directory."""
    directory = posixpath.dirname(posixpath.normpath(source))
    seen: set[str] = set()
    while directory not in seen:
        seen.add(directory)
        key = posixpath.join(directory, file_name) if directory else file_name
        try:
            return key, siblings[key]
        except KeyError:
            pass
        if directory in ("", "/"):
            break
        directory = posixpath.dirname(directory)
    return None


def sri_hashes(integrity: str | None) -> dict[str, str]:
    """Subresource-integrity strings (``sha512-BASE64 sha1-BASE64``) as hex digests."""
    hashes: dict[str, str] = {}
    for token in (integrity or "").split():
        alg, _, value = token.partition("-")
        if alg.lower() not in SRI_ALGORITHMS or not value:
            continue
        try:
            hashes.setdefault(normalize_hash_alg(alg), base64.b64decode(value, validate=True).hex())
        except (binascii.Error, ValueError):
            continue
    return hashes


def hex_digest(algorithm: str, value: str) -> dict[str, str]:
    """``{"SHA-256": hex}`` from a pip/poetry/uv style ``sha256:hex`` hash, else empty."""
    digest = normalize_hex(value)
    return {normalize_hash_alg(algorithm): digest} if digest else {}


def stronger_scope(a: str | None, b: str | None) -> str | None:
    return a if SCOPE_RANK.get(a or "", 0) >= SCOPE_RANK.get(b or "", 0) else b


def propagate_scopes(direct: Mapping[str, str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Scope of every package reachable from the direct ones: the strongest scope of any
    direct dependency it is reached from (runtime beats optional beats dev-only)."""
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    scopes: dict[str, str] = {}
    for scope in ("required", "optional", "excluded"):
        queue = deque(ref for ref, s in direct.items() if s == scope and ref not in scopes)
        for ref in queue:
            scopes[ref] = scope
        while queue:
            for child in children.get(queue.popleft(), ()):
                if child not in scopes:
                    scopes[child] = scope
                    queue.append(child)
    return scopes


class PackageIndex:
    """Packages of one file keyed by ref; adding a ref twice merges scope and hashes."""

    def __init__(self) -> None:
        self.by_ref: dict[str, SbomPackage] = {}
        self.edges: dict[tuple[str, str], None] = {}

    def add(self, package: SbomPackage) -> SbomPackage:
        existing = self.by_ref.get(package.ref)
        if existing is None:
            self.by_ref[package.ref] = package
            return package
        existing.scope = stronger_scope(existing.scope, package.scope)
        for alg, digest in package.hashes.items():
            existing.hashes.setdefault(alg, digest)
        return existing

    def edge(self, parent: str, child: str) -> None:
        if parent != child:
            self.edges[(parent, child)] = None

    @property
    def packages(self) -> list[SbomPackage]:
        return list(self.by_ref.values())

    @property
    def dependencies(self) -> list[tuple[str, str]]:
        return list(self.edges)


def npm_package(
    name: str,
    version: str | None,
    *,
    scope: str | None = None,
    hashes: dict[str, str] | None = None,
) -> SbomPackage:
    """An npm package; ``@scope/name`` becomes purl namespace ``@scope``."""
    namespace, _, bare = name.rpartition("/") if name.startswith("@") else ("", "", name)
    return new_package(
        "npm",
        bare,
        version,
        namespace or None,
        display_name=name,
        scope=scope,
        hashes=hashes,
        fallback_ref=f"npm:{name}@{version or ''}",
    )


def npm_alias(spec: str) -> tuple[str | None, str]:
    """``npm:@babel/code-frame@7.0.0`` -> (``@babel/code-frame``, ``7.0.0``); else (None, spec)."""
    if not spec.startswith("npm:"):
        return None, spec
    target = spec[4:]
    at = target.rfind("@")
    if at <= 0:
        return target, ""
    return target[:at], target[at + 1 :]


def looks_like_npm_version(value: str) -> bool:
    """A registry version (``1.2.3``, ``2.0.0-rc.1+build``), not a URL, path or git spec."""
    return bool(value) and value[0].isdigit() and ":" not in value and "/" not in value


def load_toml(data: bytes, source: str, limits: Limits) -> dict[str, Any]:
    """A TOML document; InputError naming the line when it is not valid TOML."""
    text = decode_text(data, source, limits)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        place = f"line {found.group(1)} column {found.group(2)}" if found else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise InputError(source, place, f"not valid TOML: {message}") from None
    except RecursionError:
        raise InputError(source, None, "nesting too deep") from None


def parse_xml(data: bytes, source: str, limits: Limits) -> Any:
    """An XML root element, parsed with defusedxml (no DTD, no entities, no external
    references); InputError naming the line when malformed, hostile or nested too deep."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DefusedET
    from defusedxml import DefusedXmlException

    check_size(data, source, limits)
    try:
        root = DefusedET.fromstring(data, forbid_dtd=True)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise InputError(
            source, f"line {line} column {column}", f"not valid XML: {message}"
        ) from None
    except DefusedXmlException as exc:
        raise InputError(source, None, f"refused XML: {exc}") from None
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limits.max_depth:
            raise InputError(
                source, f"<{local_name(element.tag)}>", f"nesting deeper than {limits.max_depth}"
            )
        stack.extend((child, depth + 1) for child in element)
    return root


def local_name(tag: Any) -> str:
    """``{namespace}project`` -> ``project``; comments and PIs have no str tag."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children(element: Any, name: str) -> list[Any]:
    return [child for child in element if local_name(child.tag) == name]


def child_text(element: Any, name: str) -> str | None:
    for child in element:
        if local_name(child.tag) == name:
            return (child.text or "").strip() or None
    return None
