"""Blast radius paging, scoped callers and the shortest-path chains stored at ingest, on the
hand-built estate of test_impact."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError
from meshward.services import impact
from meshward.services.impact import blast_radius
from meshward.services.matching import rematch_component_versions
from meshward.services.sboms import path_parents
from meshward.store.models import (
    Component,
    ComponentVersion,
    Finding,
    Occurrence,
    SbomDocument,
)
from tests.services.test_impact import (
    CELERY,
    DJANGO_OLD,
    KOMBU,
    LEFT_PAD,
    estate,  # noqa: F401 (the fixture)
    t,
)

QUERIES = ["CVE-2099-1001", "CVE-2099-1003", "pkg:pypi/django", "log4j-core", "left-pad"]


def answer(session: Session, query: str, **kwargs: Any) -> dict[str, Any]:
    impact._placements_by_engine.clear()  # no path known: read from the database
    return blast_radius(session, query, at=t("2025-01-01"), **kwargs).to_dict()


def test_ingest_stores_each_packages_path_parent(estate: Session) -> None:  # noqa: F811
    inventory = estate.scalar(
        select(ComponentVersion.id)
        .where(ComponentVersion.version == "1.0")
        .order_by(ComponentVersion.id)
        .limit(1)
    )
    assert inventory is not None
    rows = dict(
        estate.execute(
            select(Occurrence.ref, Occurrence.path_parent_ref).where(
                Occurrence.component_version_id == inventory
            )
        ).all()
    )
    # root -> celery -> kombu -> django beats root -> flask -> werkzeug -> jinja2 -> django
    assert rows["root"] == "" and rows[CELERY] == "root"
    assert rows[KOMBU] == CELERY and rows[DJANGO_OLD] == KOMBU


def test_stored_chains_give_the_paths_the_walk_gives(estate: Session) -> None:  # noqa: F811
    stored = {q: answer(estate, q) for q in QUERIES}  # advisories: as the matcher placed them
    # findings as before migration 0011: the blast radius places their packages itself
    estate.execute(update(Finding).values(document_id=None, dependency=None, path=None))
    chained = {q: answer(estate, q) for q in QUERIES}
    estate.execute(update(Occurrence).values(path_parent_ref=None))  # as before migration 0009
    walked = {q: answer(estate, q) for q in QUERIES}
    assert stored == chained == walked
    paths = [c["path"] for r in chained.values() for c in r["components"]]
    assert ["inventory@1.0", CELERY, KOMBU, DJANGO_OLD] in paths


def test_the_matcher_stores_each_findings_placement(estate: Session) -> None:  # noqa: F811
    """What a blast radius of an advisory reads with the finding: the placement in the
    version's current SBOM; a finding from before migration 0011 gets it at the next match."""

    def placements() -> dict[tuple[str, str, str], tuple[Any, ...]]:
        rows = estate.execute(
            select(
                Component.name,
                ComponentVersion.version,
                Finding.vulnerability,
                Finding.document_id,
                Finding.dependency,
                Finding.path,
            )
            .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(Finding.active.is_(True))
        ).all()
        return {(name, version, vuln): tuple(rest) for name, version, vuln, *rest in rows}

    placed = placements()
    inventory = placed[("inventory", "1.0", "CVE-2099-1001")]
    assert inventory[1:] == ("transitive", ["inventory@1.0", CELERY, KOMBU, DJANGO_OLD])
    current = estate.scalar(
        select(SbomDocument.id)
        .join(ComponentVersion, ComponentVersion.id == SbomDocument.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .where(Component.name == "inventory", ComponentVersion.version == "1.0")
        .where(SbomDocument.current.is_(True))
    )
    assert inventory[0] == current
    assert all(p[1] is not None for p in placed.values())
    estate.execute(update(Finding).values(document_id=None, dependency=None, path=None))
    versions = list(estate.scalars(select(ComponentVersion.id)))
    report = rematch_component_versions(estate, versions)
    assert report.new == 0  # nothing found anew: only placed
    estate.expire_all()
    assert placements() == placed


def test_path_parents_break_ties_in_ref_order_and_mark_what_they_cannot_spell() -> None:
    kinds = {"r": "root", "b": "direct", "a": "direct", "x": "transitive", "lone": "unknown"}
    kinds["y"] = "transitive"
    edges = [("r", "b"), ("r", "a"), ("b", "x"), ("a", "x"), ("x", "a"), ("r", "ghost")]
    edges.append(("ghost", "y"))  # "ghost" is no package: the chain could not be read back
    assert path_parents(kinds, kinds, edges) == {
        "r": "",
        "a": "r",
        "b": "r",
        "x": "a",  # both a and b are one hop from the root: the first in ref order
        "lone": "lone",  # no root reaches it
        "y": None,
    }


def test_pages_of_affected_versions_keep_the_totals(estate: Session) -> None:  # noqa: F811
    whole = answer(estate, "pkg:pypi/django")
    assert "page" not in whole
    pages, offset = [], 0
    while True:
        part = answer(estate, "pkg:pypi/django", limit=2, offset=offset)
        assert part["summary"] == whole["summary"]
        assert part["consumers"] == whole["consumers"]
        assert part["applications"] == whole["applications"]
        assert part["page"]["total"] == len(whole["components"]) == 4
        assert part["page"]["offset"] == offset and part["page"]["limit"] == 2
        pages += part["components"]
        offset = part["page"]["next_offset"]
        if offset is None:
            break
    assert pages == whole["components"]
    beyond = answer(estate, "pkg:pypi/django", limit=2, offset=10)
    assert beyond["components"] == [] and beyond["page"]["next_offset"] is None
    with pytest.raises(MeshwardError, match="page"):
        blast_radius(estate, "pkg:pypi/django", limit=0)


def test_consumer_limit_lists_the_nearest_and_counts_all(estate: Session) -> None:  # noqa: F811
    r = answer(estate, "CVE-2099-1001", consumer_limit=2)
    assert [c["component"] for c in r["consumers"]] == ["alpha", "orders"]
    assert r["summary"]["consumers"] == 6


def test_a_scoped_caller_gets_its_own_totals(estate: Session) -> None:  # noqa: F811
    keys = {"component:default/reports", "component:default/checkout"}
    r = answer(estate, "CVE-2099-1001", visible=keys)
    assert [c["component"] for c in r["components"]] == ["reports"]
    # checkout calls inventory (unseen) through orders (unseen): listed, and only it
    assert [(c["component"], c["depth"]) for c in r["consumers"]] == [("checkout", 2)]
    assert [(e["environment"], e["component"]) for e in r["environments"]] == [
        ("staging", "reports")
    ]
    assert {a["application"] for a in r["applications"]} == {"backoffice"}
    assert r["summary"] == {
        "components": 1,
        "component_versions": 1,
        "applications": 1,
        "application_versions": 3,
        "environments": 1,
        "running": 1,
        "consumers": 1,
    }
    paged = answer(estate, "left-pad", visible=keys, limit=1)
    assert paged["components"] == [] and paged["page"]["total"] == 0
    assert LEFT_PAD not in paged["packages"]


def test_reads_in_chunks_give_the_same_answer(
    estate: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = {q: answer(estate, q) for q in QUERIES}
    monkeypatch.setattr(impact, "CHUNK", 1)  # every version, chain and advisory on its own
    assert {q: answer(estate, q) for q in QUERIES} == whole
    estate.execute(update(Occurrence).values(path_parent_ref=None))  # the walk, in chunks
    assert {q: answer(estate, q) for q in QUERIES} == whole


def test_application_and_environment_lists_can_be_cut_and_keep_the_totals(
    estate: Session,  # noqa: F811
) -> None:
    whole = answer(estate, "CVE-2099-1001")
    assert len(whole["applications"]) == 4 and len(whole["environments"]) == 2
    for n in (0, 1, 3, 10):
        part = answer(estate, "CVE-2099-1001", application_limit=n, environment_limit=n, limit=1)
        assert part["applications"] == whole["applications"][:n]
        assert part["environments"] == whole["environments"][:n]
        assert part["summary"] == whole["summary"]
        assert part["components"] == whole["components"][:1]
    prod = answer(estate, "CVE-2099-1001", environment="prod", environment_limit=0)
    assert prod["environments"] == [] and prod["summary"]["running"] == 1
    with pytest.raises(MeshwardError, match="at least 0"):
        blast_radius(estate, "CVE-2099-1001", application_limit=-1)
