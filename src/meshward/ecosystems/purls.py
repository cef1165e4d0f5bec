"""From a purl to what advisories are keyed by: (OSV ecosystem, package name, version).

Readers hand us canonical purls (normalised once with packageurl-python), so splitting them
needs no second full parse: ``split_canonical`` is a small exact splitter for that form, five
times faster than ``PackageURL.from_string``; the tests check it against packageurl-python.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from meshward.ecosystems.registry import ecosystem_for_purl, get_ecosystem

JOINED_NAMESPACE = {"maven": ":", "golang": "/", "composer": "/", "npm": "/", "swift": "/"}
"""purl types whose advisory name joins namespace and name (``org.slf4j:slf4j-api``)."""


class PurlParts(NamedTuple):
    type: str
    namespace: str | None
    name: str
    version: str | None
    qualifiers: dict[str, str]


def split_canonical(purl: str) -> PurlParts:
    """Split a canonical purl (``pkg:type/ns/name@version?k=v#sub``) into decoded parts."""
    if not purl.startswith("pkg:"):
        raise ValueError(f"not a purl: {purl!r}")
    rest = purl[4:].split("#", 1)[0]
    rest, _, query = rest.partition("?")
    path, at, version = rest.rpartition("@")
    if not at:
        path, version = rest, ""
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) < 2:
        raise ValueError(f"not a purl: {purl!r}")
    purl_type, *namespace, name = segments
    qualifiers = {}
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        qualifiers[key.lower()] = unquote(value)
    return PurlParts(
        purl_type.lower(),
        "/".join(unquote(s) for s in namespace) or None,
        unquote(name),
        unquote(version) or None,
        qualifiers,
    )


class PackageCoordinates(NamedTuple):
    type: str
    ecosystem: str | None
    name: str
    version: str | None


@lru_cache(maxsize=65536)
def coordinates(purl: str) -> PackageCoordinates:
    """Once per distinct canonical purl string."""
    p = split_canonical(purl)
    ecosystem = ecosystem_for_purl(p.type, p.namespace, p.qualifiers)
    sep = JOINED_NAMESPACE.get(p.type)
    name = f"{p.namespace}{sep}{p.name}" if sep and p.namespace else p.name
    if ecosystem is not None:
        name = get_ecosystem(ecosystem).normalize_name(name)
    version = p.version
    if version and p.type == "rpm" and p.qualifiers.get("epoch") and ":" not in version:
        version = f"{p.qualifiers['epoch']}:{version}"
    return PackageCoordinates(p.type, ecosystem, name, version)
