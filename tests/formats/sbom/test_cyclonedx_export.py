"""CycloneDX 1.6 export of an application version: structure (always), the official schema
(when ../shared is present), and a round trip through our own reader."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from meshward.formats.sbom.cyclonedx_export import (
    ApplicationSbom,
    ServiceSbom,
    application_bom,
    package_ref,
)
from meshward.formats.sbom.cyclonedx_json import CycloneDxJsonReader
from meshward.formats.sbom.interface import SbomDocument, SbomPackage

FIXTURES = Path(__file__).parent / "fixtures" / "cyclonedx"
SERIAL = uuid.UUID("0b7c6a3e-4f1d-4c5e-9a8b-7c6d5e4f3a2b")
WHEN = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)


def service_from(document: SbomDocument, name: str, version: str, ref: str) -> ServiceSbom:
    """A service made from an SBOM the way the export view does: the described subject is
    the service itself, the packages it depends on are its direct packages."""
    roots = set(document.root_refs)
    packages = []
    for package in document.packages:
        if package.ref in roots:
            continue
        parent = None if package.parent_ref in roots else package.parent_ref
        packages.append(
            SbomPackage(
                **{**{s: getattr(package, s) for s in package.__slots__}, "parent_ref": parent}
            )
        )
    return ServiceSbom(
        name=name,
        version=version,
        bom_ref=ref,
        packages=packages,
        dependencies=[e for e in document.dependencies if e[0] not in roots and e[1] not in roots],
        direct_refs=[b for a, b in document.dependencies if a in roots],
        purl=f"pkg:generic/acme/{name}@{version}",
        group="acme",
    )


def shop_application() -> ApplicationSbom:
    shop = CycloneDxJsonReader().read((FIXTURES / "shop-1.6.cdx.json").read_bytes(), "shop")
    lodash = SbomPackage(
        ref="pkg:npm/lodash@4.17.21",
        name="lodash",
        version="4.17.21",
        purl="pkg:npm/lodash@4.17.21",
        licenses=["MIT"],
        hashes={"SHA-512": "ab" * 64, "STREEBOG-256": "cd" * 32, "SHA-1": "short"},
        scope="bogus",
        type="INSTALL",
    )
    shared = SbomPackage(
        ref="pkg:pypi/django@4.2.1", name="Django", version="4.2.1", purl="pkg:pypi/django@4.2.1"
    )
    web = ServiceSbom(
        name="web",
        version="1.0.0",
        bom_ref="pkg:generic/acme/web@1.0.0",
        packages=[lodash, shared],
        dependencies=[("pkg:npm/lodash@4.17.21", "pkg:pypi/django@4.2.1")],
        direct_refs=["pkg:npm/lodash@4.17.21"],
    )
    return ApplicationSbom(
        name="shop",
        version="2024.06",
        group="acme",
        services=[service_from(shop, "shop-api", "2.4.0", "pkg:generic/acme/shop-api@2.4.0"), web],
    )


def all_components(bom: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [bom["metadata"]["component"], *bom["components"]]
    while stack:
        component = stack.pop()
        found.append(component)
        stack.extend(component.get("components", []))
    return found


# --------------------------------------------------------------------------- structure


def test_structure() -> None:
    bom = application_bom(shop_application(), serial=SERIAL, timestamp=WHEN)
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"] == "1.6"
    assert bom["serialNumber"] == f"urn:uuid:{SERIAL}"
    assert bom["version"] == 1
    assert bom["metadata"]["timestamp"] == "2024-06-01T12:30:00Z"
    assert bom["metadata"]["component"] == {
        "type": "application",
        "bom-ref": "shop@2024.06",
        "group": "acme",
        "name": "shop",
        "version": "2024.06",
    }
    assert bom["metadata"]["tools"]["components"][0]["name"] == "meshward"

    services = bom["components"]
    assert [(s["type"], s["bom-ref"], s["name"], s["version"]) for s in services] == [
        ("application", "pkg:generic/acme/shop-api@2.4.0", "shop-api", "2.4.0"),
        ("application", "pkg:generic/acme/web@1.0.0", "web", "1.0.0"),
    ]
    shop_api = services[0]
    assert [c["name"] for c in shop_api["components"]] == ["Django", "core", "log4j-core"]
    assert [c["name"] for c in shop_api["components"][0]["components"]] == [
        "django-contrib-vendored"
    ]

    # refs are unique across services although both contain Django
    refs = [c["bom-ref"] for c in all_components(bom)]
    assert len(refs) == len(set(refs)) == 1 + 2 + 4 + 2
    assert "pkg:generic/acme/shop-api@2.4.0|pkg:pypi/django@4.2.1" in refs
    assert "pkg:generic/acme/web@1.0.0|pkg:pypi/django@4.2.1" in refs

    graph = {entry["ref"]: entry["dependsOn"] for entry in bom["dependencies"]}
    assert set(graph) == set(refs)  # every component appears, leaves with []
    assert all(target in graph for targets in graph.values() for target in targets)
    assert graph["shop@2024.06"] == [
        "pkg:generic/acme/shop-api@2.4.0",
        "pkg:generic/acme/web@1.0.0",
    ]
    web = "pkg:generic/acme/web@1.0.0"
    assert graph[web] == [f"{web}|pkg:npm/lodash@4.17.21"]
    assert graph[f"{web}|pkg:npm/lodash@4.17.21"] == [f"{web}|pkg:pypi/django@4.2.1"]
    assert graph[f"{web}|pkg:pypi/django@4.2.1"] == []


def test_only_schema_values_are_written() -> None:
    bom = application_bom(shop_application(), serial=SERIAL, timestamp=WHEN)
    lodash = bom["components"][1]["components"][0]
    assert lodash["type"] == "library"  # "INSTALL" is not a CycloneDX type
    assert "scope" not in lodash
    assert lodash["hashes"] == [{"alg": "SHA-512", "content": "ab" * 64}]
    assert lodash["licenses"] == [{"expression": "MIT"}]
    django = bom["components"][0]["components"][0]
    assert django["licenses"] == [{"expression": "BSD-3-Clause"}]
    assert django["supplier"] == {"name": "Django Software Foundation"}
    vendored = django["components"][0]
    assert vendored["licenses"] == [{"license": {"name": "Django licence (vendored)"}}]


def test_several_licences_become_names() -> None:
    package = SbomPackage(ref="a", name="a", licenses=["MIT", "GPL-2.0-only OR MIT", " "])
    service = ServiceSbom(name="s", version=None, bom_ref="s", packages=[package])
    bom = application_bom(ApplicationSbom(name="app", version="1", services=[service]))
    assert bom["components"][0]["components"][0]["licenses"] == [
        {"license": {"name": "MIT"}},
        {"license": {"name": "GPL-2.0-only OR MIT"}},
    ]
    assert "version" not in bom["components"][0]


def test_defaults_give_a_fresh_serial_and_now() -> None:
    first = application_bom(ApplicationSbom(name="app", version="1"))
    second = application_bom(ApplicationSbom(name="app", version="1"))
    assert first["serialNumber"] != second["serialNumber"]
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", first["serialNumber"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["metadata"]["timestamp"])
    assert first["components"] == []
    assert first["dependencies"] == [{"ref": "app@1", "dependsOn": []}]


def svc(name: str, ref: str, **more: Any) -> ServiceSbom:
    return ServiceSbom(name=name, version="1", bom_ref=ref, **more)


P = SbomPackage(ref="p", name="p")


@pytest.mark.parametrize(
    "services",
    [
        [svc("a", "x"), svc("b", "x")],
        [svc("a", "app@1")],
        [svc("a", "s", packages=[P, P])],
        [svc("a", "s", direct_refs=["ghost"])],
        [svc("a", "s", packages=[P], dependencies=[("p", "ghost")])],
        [svc("a", "s|p"), svc("b", "s", packages=[P])],
    ],
)
def test_refs_that_repeat_or_point_nowhere_are_value_errors(services: list[ServiceSbom]) -> None:
    with pytest.raises(ValueError):
        application_bom(ApplicationSbom(name="app", version="1", services=services))


def test_round_trip_through_our_reader() -> None:
    application = shop_application()
    bom = application_bom(application, serial=SERIAL, timestamp=WHEN)
    document = CycloneDxJsonReader().read(orjson.dumps(bom), "export.json")
    assert document.spec_version == "1.6"
    assert document.root_refs == ["shop@2024.06"]
    assert len(document.packages) == 1 + 2 + sum(len(s.packages) for s in application.services)
    by_ref = {p.ref: p for p in document.packages}
    shop_api = application.services[0]
    for package in shop_api.packages:
        exported = by_ref[package_ref(shop_api, package.ref)]
        assert (exported.name, exported.version, exported.purl, exported.hashes) == (
            package.name,
            package.version,
            package.purl,
            package.hashes,
        )
        expected_parent = (
            package_ref(shop_api, package.parent_ref) if package.parent_ref else shop_api.bom_ref
        )
        assert exported.parent_ref == expected_parent
    assert (shop_api.bom_ref, package_ref(shop_api, "pkg:pypi/django@4.2.1")) in set(
        document.dependencies
    )


# --------------------------------------------------------------------------- official schema


def schema_validator(shared_data: Path) -> Any:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = shared_data / "sboms" / "cyclonedx" / "schema"

    def retrieve(uri: str) -> Any:
        # bom-1.6 refers to spdx.schema.json and jsf-0.82.schema.json beside it
        return json.loads((schemas / uri.rsplit("/", 1)[-1]).read_text())

    schema = json.loads((schemas / "bom-1.6.schema.json").read_text())
    return jsonschema_rs.validator_for(schema, retriever=retrieve)


@pytest.mark.shared
def test_export_validates_against_the_official_schema(shared_data: Path) -> None:
    validator = schema_validator(shared_data)
    bom = json.loads(orjson.dumps(application_bom(shop_application())))
    errors = [str(error) for error in validator.iter_errors(bom)]
    assert errors == []
    broken = dict(bom, specVersion=16)
    assert not validator.is_valid(broken)  # the validator does check


@pytest.mark.shared
def test_export_of_real_sboms_validates(shared_data: Path) -> None:
    validator = schema_validator(shared_data)
    base = shared_data / "sboms" / "cyclonedx"
    reader = CycloneDxJsonReader()
    services = []
    for index, path in enumerate(
        [
            base / "bom-examples/SBOM/juice-shop/via_npm/bare/bom.1.4.json",
            base / "bom-examples/SBOM/dropwizard-1.3.15/bom.json",
            base / "guac-exampledata/alpine-cyclonedx.json",
            base / "bom-examples/SBOM/proton-bridge/proton-bridge-v1.8.0.bom.json",
        ]
    ):
        document = reader.read(path.read_bytes(), path.name)
        services.append(
            service_from(document, f"svc{index}", "1.0", f"pkg:generic/acme/svc{index}@1.0")
        )
    bom = application_bom(ApplicationSbom(name="estate", version="1", services=services))
    errors = [str(error)[:300] for error in validator.iter_errors(json.loads(orjson.dumps(bom)))]
    assert errors == []
    back = reader.read(orjson.dumps(bom), "estate.json")
    assert len(back.packages) == 1 + len(services) + sum(len(s.packages) for s in services)
