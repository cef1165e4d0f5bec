from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.services import catalog
from meshward.services.catalog_import import import_catalog
from meshward.store.db import Store
from meshward.store.models import Api, Application, Component, Domain, Entity, Relation

DEMO = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "catalog"


def snapshot(session: Session) -> dict[str, object]:
    """Everything the import writes, to prove an import changed nothing."""
    return {
        model.__tablename__: sorted(
            tuple(str(v) for k, v in sorted(vars(row).items()) if not k.startswith("_"))
            for row in session.scalars(select(model))
        )
        for model in (Entity, Relation, Component, Api, Application, Domain)
    }


def test_demo_catalog_builds_the_tree(session: Session) -> None:
    report = import_catalog(session, [DEMO / "all.yaml"])
    assert report.files == 6 and not report.warnings
    assert report.created["Component"] == 15 and report.created["System"] == 4
    tree = catalog.catalog_tree(session)
    (acme,) = tree["domains"]
    assert acme["path"] == "acme"
    assert [d["path"] for d in acme["domains"]] == [
        "acme.commerce",
        "acme.fulfilment",
        "acme.identity",
        "acme.payments",
    ]
    payments = acme["domains"][3]
    assert [a["name"] for a in payments["applications"]] == ["payments-platform"]
    assert {c["name"] for c in payments["applications"][0]["components"]} == {
        "checkout",
        "payment-gateway",
        "fraud-detection",
        "ledger",
    }
    comp = catalog.get_component(session, "web-frontend")
    assert comp.kind == "website" and comp.repository == "https://github.com/acme/web-frontend"
    assert comp.owner == "group:default/storefront" and comp.tags[0] == "typescript"
    links = {(link.consumer, link.provider) for link in catalog.api_links(session)}
    assert ("component:default/checkout", "component:default/payment-gateway") in links
    assert catalog.ensure_environment(session, "prod").production


def test_same_files_twice_change_nothing(session: Session) -> None:
    import_catalog(session, [DEMO / "all.yaml"])
    before = snapshot(session)
    again = import_catalog(session, [DEMO])
    assert not again.changed and again.unchanged == 49
    assert snapshot(session) == before


def test_changed_file_updates_in_place(session: Session, tmp_path: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(DEMO, copy)
    import_catalog(session, [copy])
    ids = dict(session.execute(select(Component.key, Component.id)).all())
    path = copy / "payments.yaml"
    path.write_text(
        path.read_text().replace("  - fraud-api\n  - ledger-api\n", "  - ledger-api\n"), "utf-8"
    )
    report = import_catalog(session, [copy])
    assert report.updated == {"Component": 1} and not report.created
    assert dict(session.execute(select(Component.key, Component.id)).all()) == ids
    targets = set(
        session.scalars(
            select(Relation.target_key).where(
                Relation.source_key == "component:default/payment-gateway",
                Relation.type == "consumesApi",
            )
        )
    )
    assert targets == {"api:default/ledger-api"}


def test_bad_file_changes_nothing(store: Store, tmp_path: Path) -> None:
    with store.session() as s:
        import_catalog(s, [DEMO])
    with store.session() as s:
        before = snapshot(s)
    good = tmp_path / "good.yaml"
    good.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: newcomer}\n"
        "spec: {type: service, lifecycle: production, owner: storefront}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: broken}\n"
        "spec: {type: service, owner: storefront}\n"
    )
    with pytest.raises(InputError) as caught, store.session() as s:
        import_catalog(s, [DEMO, good, bad])
    assert "bad.yaml" in str(caught.value) and "lifecycle" in str(caught.value)
    with store.session() as s:
        assert snapshot(s) == before
        assert s.scalar(select(func.count()).select_from(Component)) == 15


def test_reference_to_a_later_entity_resolves_when_it_arrives(
    session: Session, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: early}\n"
        "spec: {type: service, lifecycle: experimental, owner: team-x, system: later,"
        " consumesApis: [later-api]}\n"
    )
    report = import_catalog(session, [tmp_path / "a.yaml"])
    assert any("system:default/later" in w for w in report.warnings)
    assert any("group:default/team-x" in w for w in report.warnings)
    assert catalog.get_component(session, "early").application_id is None
    (tmp_path / "b.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: later}\n"
        "spec: {owner: team-x, domain: far}\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata: {name: far}\n"
        "spec: {owner: team-x}\n"
    )
    import_catalog(session, [tmp_path / "b.yaml"])
    comp = catalog.get_component(session, "early")
    app = catalog.get_application(session, "later")
    assert comp.application_id == app.id and comp.domain_id == app.domain_id is not None
    shown = catalog.show_entity(session, "early")
    resolved = {r["target"]: r["resolved"] for r in shown["relations"]}
    assert resolved["system:default/later"] and not resolved["api:default/later-api"]


@pytest.mark.shared
def test_backstage_examples_import(session: Session, shared_data: Path) -> None:
    examples = shared_data / "backstage" / "examples"
    report = import_catalog(session, [examples])
    assert report.created["Component"] == 18 and report.created["API"] == 18
    again = import_catalog(session, [examples / "all.yaml"])
    assert not again.changed
    spotify = session.scalars(select(Api).where(Api.name == "spotify")).one()
    assert spotify.definition["$text"].startswith("https://github.com/")  # kept, never fetched
    env = catalog.get_environment(session, "prod")
    assert env.production
    shown = catalog.show_entity(session, "artist-lookup")
    assert {r["type"] for r in shown["relations"]} >= {"ownedBy", "partOf"}
