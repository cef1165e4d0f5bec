"""From a purl to what advisories are keyed by: (OSV ecosystem, package name, version)."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from packageurl import PackageURL

from meshward.ecosystems.registry import ecosystem_for_purl, get_ecosystem

JOINED_NAMESPACE = {"maven": ":", "golang": "/", "composer": "/", "npm": "/", "swift": "/"}
"""purl types whose advisory name joins namespace and name (``org.slf4j:slf4j-api``)."""


class PackageCoordinates(NamedTuple):
    type: str
    ecosystem: str | None
    name: str
    version: str | None


@lru_cache(maxsize=65536)
def coordinates(purl: str) -> PackageCoordinates:
    """Parse once per distinct purl string (parsing dominates ingest time otherwise)."""
    p = PackageURL.from_string(purl)
    qualifiers = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    ecosystem = ecosystem_for_purl(p.type, p.namespace, qualifiers)
    sep = JOINED_NAMESPACE.get(p.type)
    name = f"{p.namespace}{sep}{p.name}" if sep and p.namespace else p.name
    if ecosystem is not None:
        name = get_ecosystem(ecosystem).normalize_name(name)
    version = p.version
    if version and p.type == "rpm" and qualifiers.get("epoch") and ":" not in version:
        version = f"{qualifiers['epoch']}:{version}"
    return PackageCoordinates(p.type, ecosystem, name, version)
