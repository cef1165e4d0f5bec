"""SBOMs attached to component versions: upload, history, idempotence, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.services import catalog, sboms
from meshward.store.db import Store
from meshward.store.models import Application, Occurrence, SbomDocument

DEMO_MANIFESTS = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "manifests"


def cyclonedx(*, django: str = "4.2.1", extra: list[dict[str, Any]] | None = None) -> bytes:
    components = [
        {
            "type": "library",
            "bom-ref": "django",
            "name": "django",
            "version": django,
            "purl": f"pkg:pypi/django@{django}",
            "licenses": [{"license": {"id": "BSD-3-Clause"}}],
        },
        {
            "type": "library",
            "bom-ref": "asgiref",
            "name": "asgiref",
            "version": "3.7.2",
            "purl": "pkg:pypi/asgiref@3.7.2",
        },
        {"type": "library", "bom-ref": "vendored", "name": "vendored-thing", "version": "1"},
        *(extra or []),
    ]
    return orjson.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {"component": {"type": "application", "bom-ref": "app", "name": "shop"}},
            "components": components,
            "dependencies": [
                {"ref": "app", "dependsOn": ["django", "vendored"]},
                {"ref": "django", "dependsOn": ["asgiref"]},
            ],
        }
    )


@pytest.fixture
def shop(session: Session) -> Session:
    session.add(Application(key="system:default/shop", name="shop"))
    session.flush()
    catalog.create_component(session, "api", application="shop")
    catalog.create_component(session, "web", application="shop")
    return session


def test_upload_stores_packages_with_direct_and_transitive(shop: Session) -> None:
    result = sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    assert (result.format, result.spec_version, result.encoding) == ("CycloneDX", "1.5", "json")
    assert (result.packages, result.direct, result.transitive, result.unmatchable) == (4, 2, 1, 2)
    view = sboms.show_sbom(shop, "api", "1.0")
    kinds = {p["name"]: (p["dependency"], p["licenses"]) for p in view.packages}
    assert kinds["django"] == ("direct", ["BSD-3-Clause"])
    assert kinds["asgiref"][0] == "transitive" and kinds["shop"][0] == "root"
    assert view.unmatchable == 2  # the root and the vendored thing have no purl


def test_same_file_twice_is_a_no_op_and_new_file_replaces_with_history(shop: Session) -> None:
    first = sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    again = sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    assert first.changed and not again.changed and again.document_id == first.document_id
    newer = sboms.upload_sbom(shop, "api", "1.0", cyclonedx(django="4.2.7"), "bom2.json")
    assert newer.changed and newer.replaced_document == first.document_id
    view = sboms.show_sbom(shop, "api", "1.0")
    assert any(p["version"] == "4.2.7" for p in view.packages)
    assert [h["current"] for h in view.history] == [True, False]
    back = sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    assert back.document_id == first.document_id  # the old document becomes current again
    count = shop.scalar(select(func.count()).select_from(SbomDocument))
    assert count == 2


def test_failed_upload_changes_nothing(store: Store) -> None:
    with store.session() as s:
        s.add(Application(key="system:default/shop", name="shop"))
        s.flush()
        catalog.create_component(s, "api")
        sboms.upload_sbom(s, "api", "1.0", cyclonedx(), "bom.json")
    bad_purl = cyclonedx(extra=[{"type": "library", "name": "x", "purl": "pkg:/nonsense"}])
    for data, where in ((bad_purl, "/components/3/purl"), (b'{"bomFormat": "CycloneDX"', None)):
        with pytest.raises(InputError) as caught, store.session() as s:
            sboms.upload_sbom(s, "api", "2.0", data, "bad.json")
        assert "bad.json" in str(caught.value)
        if where:
            assert caught.value.place == where
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(SbomDocument)) == 1
        assert s.scalar(select(func.count()).select_from(Occurrence)) == 4
        assert [v.version for v in catalog.list_component_versions(s, "api")] == ["1.0"]


def test_export_application_keeps_each_service_and_its_graph(shop: Session) -> None:
    sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    sboms.sbom_from_manifest_paths(
        shop, "web", "2.0", [DEMO_MANIFESTS / "recommendation" / "1.0.0"]
    )
    catalog.create_app_version(shop, "shop", {"api": "1.0", "web": "2.0"}, label="r1")
    bom = sboms.export_application_sbom(shop, "shop")
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["component"]["version"] == "r1"
    services = {c["name"]: c for c in bom["components"]}
    assert set(services) == {"api", "web"}
    api_packages = {c["name"] for c in services["api"]["components"]}
    assert api_packages == {"django", "asgiref", "vendored-thing"}
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    api_ref = services["api"]["bom-ref"]
    django_ref = next(c["bom-ref"] for c in services["api"]["components"] if c["name"] == "django")
    assert django_ref in deps[api_ref]
    assert any(r.endswith("asgiref") for r in deps[django_ref])


@pytest.mark.shared
def test_export_validates_against_the_cyclonedx_16_schema(
    shop: Session, cyclonedx16_validator: Any
) -> None:
    sboms.upload_sbom(shop, "api", "1.0", cyclonedx(), "bom.json")
    sboms.sbom_from_manifest_paths(shop, "web", "2.0", [DEMO_MANIFESTS / "search" / "4.2.0"])
    catalog.create_app_version(shop, "shop", {"api": "1.0", "web": "2.0"})
    bom = json.loads(orjson.dumps(sboms.export_application_sbom(shop, "shop")))
    assert [str(e) for e in cyclonedx16_validator.iter_errors(bom)] == []  # type: ignore[attr-defined]


def test_from_manifest_twice_is_a_no_op(shop: Session) -> None:
    folder = DEMO_MANIFESTS / "checkout" / "1.4.0"
    first, parsed = sboms.sbom_from_manifest_paths(shop, "api", "1.4.0", [folder])
    assert first.changed and first.packages == len(parsed.packages) > 5
    again, _ = sboms.sbom_from_manifest_paths(shop, "api", "1.4.0", [folder])
    assert not again.changed


@pytest.mark.shared
def test_real_sboms_upload_with_the_independent_count(session: Session, shared_data: Path) -> None:
    catalog.create_component(session, "juice-shop")
    base = shared_data / "sboms" / "cyclonedx" / "bom-examples" / "SBOM"
    path = next(base.rglob("*juice-shop*11.1.2*.json"), None) or next(base.rglob("*.json"))
    doc = json.loads(path.read_text())

    def count(components: list[dict[str, Any]]) -> int:
        return sum(1 + count(c.get("components", [])) for c in components)

    expected = count(doc.get("components", [])) + (
        1 if doc.get("metadata", {}).get("component") else 0
    )
    result = sboms.upload_sbom(session, "juice-shop", "11.1.2", path.read_bytes(), str(path))
    assert result.packages == expected


def test_concurrent_uploads_of_one_document_store_it_once(store: Store) -> None:
    """Two transactions upload the same file for the same version at the same time: the
    second waits on the unique key, then finds the first one's document (PostgreSQL; SQLite
    serialises writers, so there the second simply sees a finished upload)."""
    import threading

    with store.session() as s:
        s.add(Application(key="system:default/shop", name="shop"))
        catalog.create_component(s, "api")
        catalog.add_component_version(s, "api", "1.0")
    first_flushed, results = threading.Event(), {}

    def second() -> None:
        first_flushed.wait(10)
        with store.session() as s2:
            results["second"] = sboms.upload_sbom(s2, "api", "1.0", cyclonedx(), "bom.json")

    if store.engine.dialect.name == "postgresql":
        thread = threading.Thread(target=second)
        thread.start()
        with store.session() as s1:
            results["first"] = sboms.upload_sbom(s1, "api", "1.0", cyclonedx(), "bom.json")
            first_flushed.set()
            thread.join(0.5)  # the second is now blocked on the unique key
        thread.join(30)
    else:
        with store.session() as s1:
            results["first"] = sboms.upload_sbom(s1, "api", "1.0", cyclonedx(), "bom.json")
        first_flushed.set()
        second()
    assert results["first"].changed and not results["second"].changed
    assert results["second"].document_id == results["first"].document_id
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(SbomDocument)) == 1
