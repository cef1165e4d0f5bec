"""CycloneDX 1.6 JSON for one application version: its services and what is in them.

A pure function over plain values (the export view gathers them from the store): no I/O,
no database. The shape:

- ``metadata.component`` is the application version (type ``application``);
- each service is a top-level component of type ``application`` (so it may nest
  ``components``), its packages nested inside it, keeping their own nesting;
- package refs are prefixed with the service's ref (``<service ref>|<package ref>``), so two
  services that both contain ``pkg:npm/lodash@4.17.21`` stay two components, each with its
  own place in the graph;
- ``dependencies`` lists every component: the application depends on its services, each
  service on its direct packages, packages on packages as their SBOMs said; components
  without dependencies appear with an empty ``dependsOn``, as the spec asks.

Only values the 1.6 schema accepts are written: package types outside its list become
``library``, scopes outside required/optional/excluded are left out, hashes the schema has
no algorithm or length for are left out. A lone licence that reads as an SPDX id or
expression is written as ``expression``; several licences each become a ``license.name``
(we do not ship the SPDX id list, and the schema checks ``license.id`` against it).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import meshward
from meshward.formats.sbom.interface import SbomPackage

SPEC_VERSION = "1.6"
REF_SEPARATOR = "|"

_COMPONENT_TYPES = frozenset(
    {
        "application",
        "framework",
        "library",
        "container",
        "platform",
        "operating-system",
        "device",
        "device-driver",
        "firmware",
        "file",
        "machine-learning-model",
        "data",
        "cryptographic-asset",
    }
)
_SCOPES = frozenset({"required", "optional", "excluded"})
# Our canonical (upper-case) algorithm -> the 1.6 schema's spelling.
_HASH_ALGS = {
    "MD5": "MD5",
    "SHA-1": "SHA-1",
    "SHA-256": "SHA-256",
    "SHA-384": "SHA-384",
    "SHA-512": "SHA-512",
    "SHA3-256": "SHA3-256",
    "SHA3-384": "SHA3-384",
    "SHA3-512": "SHA3-512",
    "BLAKE2B-256": "BLAKE2b-256",
    "BLAKE2B-384": "BLAKE2b-384",
    "BLAKE2B-512": "BLAKE2b-512",
    "BLAKE3": "BLAKE3",
}
_HASH_CONTENT = re.compile(r"[a-f0-9]{32}|[a-f0-9]{40}|[a-f0-9]{64}|[a-f0-9]{96}|[a-f0-9]{128}")
_SPDX_EXPRESSION = re.compile(
    r"\(*[A-Za-z0-9.+-]+(?::[A-Za-z0-9.+-]+)?\)*"
    r"(?:\s+(?:AND|OR|WITH)\s+\(*[A-Za-z0-9.+-]+(?::[A-Za-z0-9.+-]+)?\)*)*"
)


@dataclass(slots=True)
class ServiceSbom:
    """One service version of the application, with the packages its SBOM listed."""

    name: str
    version: str | None
    bom_ref: str
    """Unique among the application's services; a purl such as
    ``pkg:oci/payments@sha256:...`` or ``pkg:generic/acme/payments@1.4.2`` reads best."""
    packages: list[SbomPackage] = field(default_factory=list)
    dependencies: list[tuple[str, str]] = field(default_factory=list)
    """Edges between the refs of ``packages`` (first depends on second)."""
    direct_refs: list[str] = field(default_factory=list)
    """Refs of the packages the service itself depends on."""
    purl: str | None = None
    group: str | None = None


@dataclass(slots=True)
class ApplicationSbom:
    name: str
    version: str
    services: list[ServiceSbom] = field(default_factory=list)
    bom_ref: str | None = None
    """Defaults to ``<name>@<version>``."""
    group: str | None = None


def package_ref(service: ServiceSbom, ref: str) -> str:
    """The exported bom-ref of one of a service's packages."""
    return f"{service.bom_ref}{REF_SEPARATOR}{ref}"


def _licenses(values: list[str]) -> list[dict[str, Any]]:
    if len(values) == 1 and _SPDX_EXPRESSION.fullmatch(values[0].strip()):
        return [{"expression": values[0].strip()}]
    return [{"license": {"name": value}} for value in values if value.strip()]


def _package_component(package: SbomPackage, ref: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": package.type if package.type in _COMPONENT_TYPES else "library",
        "bom-ref": ref,
    }
    if package.supplier:
        component["supplier"] = {"name": package.supplier}
    if package.group:
        component["group"] = package.group
    component["name"] = package.name
    if package.version:
        component["version"] = package.version
    if package.scope in _SCOPES:
        component["scope"] = package.scope
    hashes = [
        {"alg": _HASH_ALGS[alg], "content": content}
        for alg, content in package.hashes.items()
        if alg in _HASH_ALGS and _HASH_CONTENT.fullmatch(content)
    ]
    if hashes:
        component["hashes"] = hashes
    licenses = _licenses(package.licenses)
    if licenses:
        component["licenses"] = licenses
    if package.cpe:
        component["cpe"] = package.cpe
    if package.purl:
        component["purl"] = package.purl
    return component


def _service_component(service: ServiceSbom, graph: dict[str, list[str]]) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "application", "bom-ref": service.bom_ref}
    if service.group:
        component["group"] = service.group
    component["name"] = service.name
    if service.version:
        component["version"] = service.version
    if service.purl:
        component["purl"] = service.purl

    by_ref: dict[str, dict[str, Any]] = {}
    for package in service.packages:
        if package.ref in by_ref:
            raise ValueError(f"service {service.name!r}: package ref {package.ref!r} repeats")
        ref = package_ref(service, package.ref)
        if ref in graph:
            raise ValueError(f"bom-ref {ref!r} is used twice")
        by_ref[package.ref] = _package_component(package, ref)
        graph[ref] = []
    nested: list[dict[str, Any]] = []
    for package in service.packages:
        parent = by_ref.get(package.parent_ref) if package.parent_ref else None
        siblings = nested if parent is None else parent.setdefault("components", [])
        siblings.append(by_ref[package.ref])
    if nested:
        component["components"] = nested

    def known(ref: str) -> str:
        if ref not in by_ref:
            raise ValueError(f"service {service.name!r}: dependency on unknown ref {ref!r}")
        return package_ref(service, ref)

    graph[service.bom_ref] = list(dict.fromkeys(known(r) for r in service.direct_refs))
    for dependent, dependency in dict.fromkeys(service.dependencies):
        targets = graph[known(dependent)]
        target = known(dependency)
        if target not in targets:
            targets.append(target)
    return component


def application_bom(
    application: ApplicationSbom,
    *,
    serial: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The CycloneDX 1.6 document as a dict (serialise it with orjson).

    ``serial`` and ``timestamp`` default to a fresh UUID and now; pass them for
    reproducible output. Raises ``ValueError`` for refs that repeat or point nowhere.
    """
    app_ref = application.bom_ref or f"{application.name}@{application.version}"
    graph: dict[str, list[str]] = {app_ref: []}
    components: list[dict[str, Any]] = []
    for service in application.services:
        if service.bom_ref in graph:
            raise ValueError(f"bom-ref {service.bom_ref!r} is used twice")
        graph[app_ref].append(service.bom_ref)
        components.append(_service_component(service, graph))

    subject: dict[str, Any] = {"type": "application", "bom-ref": app_ref}
    if application.group:
        subject["group"] = application.group
    subject["name"] = application.name
    subject["version"] = application.version
    when = (timestamp or datetime.now(UTC)).astimezone(UTC)
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": (serial or uuid.uuid4()).urn,
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [
                    {"type": "application", "name": "meshward", "version": meshward.__version__}
                ]
            },
            "component": subject,
        },
        "components": components,
        "dependencies": [
            {"ref": ref, "dependsOn": depends_on} for ref, depends_on in graph.items()
        ],
    }
