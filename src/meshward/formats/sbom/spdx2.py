"""What the SPDX 2 JSON and tag-value readers share: field rules and the graph builder.

The two encodings carry the same model, so they turn into ``SbomDocument`` through one
builder; a test reads the spec example in both encodings and expects the same result.
Readers validate shapes and types themselves (they know the place to report); what
reaches this module is already plain strings.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import (
    json_pointer,
    normalize_hash_alg,
    normalize_hex,
    spdx_license_expression,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage

SPDX_FORMAT = "SPDX"

NO_VALUE = frozenset({"NOASSERTION", "NONE", ""})
"""SPDX's "we don't know" / "there is none": kept out of versions, licences, suppliers."""

_VERSION = re.compile(r"SPDX-(2\.[0-3])")

# relationship type -> True when the edge runs from the related element to the element
# ("b DEPENDENCY_OF a" is "a depends on b"). Other types carry no dependency meaning we use.
EDGE_TYPES: dict[str, bool] = {
    "DEPENDS_ON": False,
    "DEPENDENCY_OF": True,
    "CONTAINS": False,
    "CONTAINED_BY": True,
    # linking and scoped dependencies are dependencies too (SPDX 2.3 section 11.1)
    "DYNAMIC_LINK": False,
    "STATIC_LINK": False,
    "BUILD_DEPENDENCY_OF": True,
    "DEV_DEPENDENCY_OF": True,
    "OPTIONAL_DEPENDENCY_OF": True,
    "PROVIDED_DEPENDENCY_OF": True,
    "TEST_DEPENDENCY_OF": True,
    "RUNTIME_DEPENDENCY_OF": True,
}

PURL_TYPE = "purl"
CPE_TYPES = ("cpe23Type", "cpe22Type")


def json_kind(value: Any) -> str:
    """How an error message names a JSON value's type: ``expected a string, got a number``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def spdx2_version(value: str) -> str | None:
    """``SPDX-2.3`` -> ``2.3``; None for anything that is not SPDX 2.0-2.3."""
    match = _VERSION.fullmatch(value.strip())
    return match.group(1) if match else None


@lru_cache(maxsize=256)
def relationship_type(value: str) -> str:
    """Producers write ``DEPENDS_ON``, ``depends_on`` and ``DEPENDS-ON``: one spelling."""
    return value.strip().upper().replace("-", "_")


@lru_cache(maxsize=4096)
def _chosen_licenses(concluded: str | None, declared: str | None) -> tuple[str, ...]:
    for value in (concluded, declared):
        if value is not None:
            expression = spdx_license_expression(value)
            if expression not in NO_VALUE:
                return (expression,)
    return ()


def chosen_licenses(concluded: str | None, declared: str | None) -> list[str]:
    """The concluded licence when someone concluded one, else the declared one.

    A concluded licence is what a reviewer decided after looking; the declared one is what
    the package says about itself, so it is the fallback, not an addition. Cached: an
    SBOM repeats a few dozen expressions thousands of times."""
    return list(_chosen_licenses(concluded, declared))


@lru_cache(maxsize=4096)
def supplier_name(value: str | None) -> str | None:
    """``Organization: Acme (x@acme.org)`` -> ``Acme (x@acme.org)``; NOASSERTION -> None."""
    if value is None:
        return None
    value = value.strip()
    if value in NO_VALUE:
        return None
    for prefix in ("Organization:", "Person:", "Tool:"):
        if value.startswith(prefix):
            value = value[len(prefix) :].strip()
            break
    if value.endswith("()"):
        value = value[:-2].rstrip()
    return value or None


@lru_cache(maxsize=256)
def package_type(purpose: str | None) -> str | None:
    """``OPERATING_SYSTEM`` (JSON) / ``OPERATING-SYSTEM`` (tag-value) -> ``operating-system``,
    the spelling CycloneDX uses for the same idea."""
    if purpose is None:
        return None
    purpose = purpose.strip()
    if not purpose:
        return None
    return purpose.lower().replace("_", "-")


def version_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in NO_VALUE else value


hash_algorithm = lru_cache(maxsize=256)(normalize_hash_alg)


def add_hash(hashes: dict[str, str], algorithm: str, value: str) -> None:
    """Record one checksum, skipping values that are not hex rather than failing over them."""
    digest = normalize_hex(value)
    if digest is not None:
        hashes.setdefault(hash_algorithm(algorithm), digest)


def creator_tool(creator: str) -> str | None:
    """``Tool: syft-0.33.0`` -> ``syft-0.33.0``; people and organisations are not tools."""
    creator = creator.strip()
    if creator.startswith("Tool:"):
        return creator[5:].strip() or None
    return None


class Spdx2Graph:
    """Collects packages, relationships and DESCRIBES, then keeps what links packages."""

    __slots__ = ("describes", "document_ref", "packages", "refs", "relationships")

    def __init__(self) -> None:
        self.document_ref = "SPDXRef-DOCUMENT"
        self.packages: list[SbomPackage] = []
        self.refs: set[str] = set()
        self.relationships: list[tuple[str, str, str]] = []
        """(element, normalised relationship type, related element)"""
        self.describes: list[str] = []
        """documentDescribes entries (JSON); DESCRIBES relationships go in ``relationships``."""

    def document(
        self,
        *,
        spec_version: str,
        encoding: str,
        name: str | None,
        serial: str | None,
        created: str | None,
        tools: list[str],
    ) -> SbomDocument:
        refs = self.refs
        document_ref = self.document_ref
        roots: dict[str, None] = {}
        edges: dict[tuple[str, str], None] = {}
        for ref in self.describes:
            if ref in refs:
                roots[ref] = None
        for element, kind, related in self.relationships:
            if kind == "DESCRIBES":
                if element == document_ref and related in refs:
                    roots[related] = None
                continue
            if kind == "DESCRIBED_BY":
                if related == document_ref and element in refs:
                    roots[element] = None
                continue
            reverse = EDGE_TYPES.get(kind)
            if reverse is None or element not in refs or related not in refs:
                continue
            if element == related:
                continue
            edges[(related, element) if reverse else (element, related)] = None
        return SbomDocument(
            format=SPDX_FORMAT,
            spec_version=spec_version,
            encoding=encoding,
            packages=self.packages,
            dependencies=list(edges),
            root_refs=list(roots),
            name=name,
            serial=serial,
            created=created,
            tools=tools,
        )


def purl_error(value: str, exc: ValueError) -> str:
    """One readable line: packageurl-python's messages often repeat the purl already."""
    reason = str(exc)
    if value and value in reason:
        message = f"bad purl: {reason}"
    else:
        message = f"bad purl {value[:200]!r}: {reason}"
    return message if len(message) <= 400 else message[:397] + "..."


class JsonFields:
    """Typed field checks over decoded JSON that raise ``InputError`` with a JSON pointer;
    shared by the SPDX 2 JSON and SPDX 3 JSON-LD readers."""

    __slots__ = ("source",)
    strip_required = False
    """Return required strings stripped of surrounding whitespace."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: tuple[str | int, ...], message: str) -> InputError:
        return InputError(self.source, json_pointer(*path) or "/", message)

    def opt_str(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> str | None:
        value = obj.get(key)
        if value is None or type(value) is str:
            return value
        raise self.fail((*path, key), f"expected a string, got {json_kind(value)}")

    def req_str(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> str:
        value = obj.get(key)
        if type(value) is str:
            if value.strip():
                return value.strip() if self.strip_required else value
            raise self.fail((*path, key), "must not be empty")
        if value is None:
            raise self.fail((*path, key), f"missing required field {key!r}")
        raise self.fail((*path, key), f"expected a string, got {json_kind(value)}")
