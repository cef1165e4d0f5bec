"""What blast radius keeps between calls (the API graph, dependency paths) and the consumer
cap: the answers must stay exactly those of a fresh walk, before and after the catalog or an
SBOM changes. The estate is the hand-built one of ``test_impact``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from meshward.services import impact
from meshward.services.catalog_import import import_catalog
from meshward.services.impact import blast_radius
from meshward.services.sboms import store_sbom
from meshward.store.models import Relation
from tests.services.test_impact import (
    CELERY,
    DJANGO_OLD,
    FIXTURES,
    INVENTORY_CONSUMERS,
    KOMBU,
    estate,
    sbom,
    t,
)

__all__ = ["estate"]  # the fixture, shared with test_impact


def names(estate: Session, query: str = "CVE-2099-1001") -> list[str]:
    return [c.component for c in blast_radius(estate, query).consumers]


def forget_kept_answers() -> None:
    """As a process that has never answered a blast radius."""
    impact._API_GRAPH.clear()
    impact._placements_by_engine.clear()


def test_consumer_limit_lists_the_nearest_and_counts_them_all(estate: Session) -> None:
    whole = blast_radius(estate, "CVE-2099-1001")
    capped = blast_radius(estate, "CVE-2099-1001", consumer_limit=3)
    assert [asdict(c) for c in whole.consumers] == INVENTORY_CONSUMERS
    assert [asdict(c) for c in capped.consumers] == INVENTORY_CONSUMERS[:3]
    assert capped.summary == whole.summary
    assert capped.summary["consumers"] == 6
    assert blast_radius(estate, "CVE-2099-1001", consumer_limit=0).consumers == []


def test_kept_answers_equal_a_fresh_walk(estate: Session) -> None:
    for query in ("CVE-2099-1001", "CVE-2099-1003", "pkg:pypi/django", "log4j-core"):
        forget_kept_answers()
        fresh = blast_radius(estate, query, at=t("2024-06-01")).to_dict()
        again = blast_radius(estate, query, at=t("2024-06-01")).to_dict()
        assert again == fresh, query


def test_a_removed_api_link_is_seen_at_once(estate: Session) -> None:
    assert "web" in names(estate)
    estate.execute(
        delete(Relation).where(
            Relation.source_key == "component:default/web", Relation.type == "consumesApi"
        )
    )
    assert "web" not in names(estate)


def test_a_catalog_import_that_changes_links_is_seen(estate: Session, tmp_path: Path) -> None:
    assert "web" in names(estate)
    text = (FIXTURES / "catalog.yaml").read_text()
    changed = tmp_path / "catalog.yaml"
    # web now calls inventory itself: one hop instead of three
    changed.write_text(
        text.replace("consumesApis: [checkout-api]", "consumesApis: [inventory-api]")
    )
    import_catalog(estate, [changed])
    web = next(c for c in blast_radius(estate, "CVE-2099-1001").consumers if c.component == "web")
    assert (web.depth, web.path) == (1, ["inventory", "inventory-api", "web"])


@pytest.mark.parametrize("query", ["CVE-2099-1001", "pkg:pypi/django@3.2.4"])
def test_a_new_sbom_brings_its_own_paths(estate: Session, query: str) -> None:
    """An advisory's paths come with its findings (the matcher places them again for the
    new document); a package's from the placements kept by document."""

    def inventory() -> tuple[str, list[str]]:
        r = blast_radius(estate, query)
        return next((c.dependency, c.path) for c in r.components if c.component == "inventory")

    assert inventory() == ("transitive", ["inventory@1.0", CELERY, KOMBU, DJANGO_OLD])
    # the same version gets a new document in which django is a direct dependency
    store_sbom(
        estate, "inventory", "1.0", sbom("inventory", "1.0", [("root", DJANGO_OLD)]), "new", None
    )
    assert inventory() == ("direct", ["inventory@1.0", DJANGO_OLD])
