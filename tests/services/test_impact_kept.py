"""What blast radius keeps per engine and data revision (the catalog of component versions,
deployments and application versions, the package names, the API graph): a committed change
is seen by the next blast radius in the same process, an uncommitted one only by its own
transaction, and a kept answer equals one read afresh. The estate is test_impact's, committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from meshward.formats.osv import parse_advisory
from meshward.services import catalog, impact
from meshward.services.advisories import store_advisories
from meshward.services.catalog_import import import_catalog
from meshward.services.impact import blast_radius
from meshward.services.sboms import store_sbom
from meshward.store.db import Store
from tests.services.test_impact import DJANGO_OLD, FIXTURES, build_estate, sbom, t

QUERIES = ["CVE-2099-1001", "CVE-2099-1003", "pkg:pypi/django", "log4j-core", "left-pad"]
AT = t("2025-01-01")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The estate, committed; nothing kept from other tests."""
    s = Store(db_url)
    with s.session() as session:
        build_estate(session)
    forget()
    yield s
    s.dispose()


def forget() -> None:
    impact._CATALOG.clear()
    impact._NAMES.clear()
    impact._DOCUMENTS.clear()
    impact._API_GRAPH.clear()
    impact._placements_by_engine.clear()


def answer(store: Store, query: str = "CVE-2099-1001", **kwargs: Any) -> dict[str, Any]:
    """The answer in a transaction of its own that writes nothing."""
    with store.session() as s:
        return blast_radius(s, query, **({"at": AT} | kwargs)).to_dict()


def kept_catalog(store: Store) -> impact._Catalog | None:
    return impact._CATALOG.value(store.engine)


def test_the_whole_catalog_is_read_on_the_second_call_at_a_revision(store: Store) -> None:
    first = answer(store)
    assert kept_catalog(store) is None  # the first call read only what it needed
    assert answer(store) == first
    assert kept_catalog(store) is not None
    assert answer(store) == first


VARIANTS: list[dict[str, Any]] = [
    {},
    {"limit": 1},
    {"limit": 1, "offset": 1, "consumer_limit": 2},
    {"environment": "prod"},
    {"environment": "staging", "at": t("2024-03-15")},
    {"environment": "dev"},
    {"at": t("2024-02-10")},
    {"visible": {"component:default/reports", "component:default/checkout"}},
]


def test_kept_answers_equal_answers_read_afresh(store: Store) -> None:
    """Every query and variant, answered from the kept catalog, equals the answer of a
    transaction that has written (which reads its own catalog and keeps nothing)."""
    for query in QUERIES:
        for variant in VARIANTS:
            answer(store, query, **variant)  # seen once
            kept = answer(store, query, **variant)  # from the whole catalog
            assert kept_catalog(store) is not None
            with store.session() as s:
                s.execute(text("UPDATE environments SET title = title WHERE id < 0"))  # dirty
                fresh = blast_radius(s, query, **({"at": AT} | variant)).to_dict()
            forget()
            assert kept == fresh, (query, variant)


def warm(store: Store, query: str = "CVE-2099-1001") -> dict[str, Any]:
    answer(store, query)
    r = answer(store, query)
    assert kept_catalog(store) is not None
    return r


def test_a_committed_deployment_is_seen(store: Store) -> None:
    before = warm(store)
    assert [(e["environment"], e["component"]) for e in before["environments"]] == [
        ("prod", "inventory"),
        ("staging", "reports"),
    ]
    with store.session() as s:
        catalog.record_deployment(s, "prod", "reports", "1.0", t("2024-06-01"))
    after = answer(store)
    assert [(e["environment"], e["component"]) for e in after["environments"]] == [
        ("prod", "inventory"),
        ("prod", "reports"),
        ("staging", "reports"),
    ]
    reports = next(c for c in after["components"] if c["component"] == "reports")
    assert reports["environments"] == ["prod", "staging"]
    assert after["summary"]["running"] == 3
    assert [c["component"] for c in answer(store, environment="prod")["components"]] == [
        "inventory",
        "reports",
    ]
    with store.session() as s:  # and an ended one
        catalog.end_deployment(s, "prod", "reports", t("2024-07-01"))
    assert answer(store)["environments"] == before["environments"]


def test_a_committed_application_version_is_seen(store: Store) -> None:
    before = warm(store)
    assert ("storefront", "3") not in {
        (a["application"], a["version"]) for a in before["applications"]
    }
    with store.session() as s:
        catalog.create_app_version(s, "storefront", {"inventory": "1.0"}, label="3")
    after = answer(store)
    storefront = [
        (a["version"], a["latest"])
        for a in after["applications"]
        if a["application"] == "storefront"
    ]
    assert storefront == [("3", True), ("1", False)]
    assert after["summary"]["application_versions"] == before["summary"]["application_versions"] + 1


def test_a_committed_sbom_and_its_finding_are_seen(store: Store) -> None:
    before = warm(store)
    warm(store, "pkg:pypi/django")
    with store.session() as s:
        catalog.add_component_version(s, "orders", "2.0", created_at=t("2024-06-01"))
        store_sbom(s, "orders", "2.0", sbom("orders", "2.0", [("root", DJANGO_OLD)]), "o2", None)
    after = answer(store)
    assert [(c["component"], c["version"]) for c in after["components"]] == [
        ("inventory", "1.0"),
        ("orders", "2.0"),
        ("reports", "1.0"),
    ]
    assert after["summary"]["component_versions"] == before["summary"]["component_versions"] + 1
    assert ("orders", "2.0") in {
        (c["component"], c["version"]) for c in answer(store, "pkg:pypi/django")["components"]
    }


def test_a_committed_package_name_is_found_by_a_bare_name(store: Store) -> None:
    warm(store, "log4j-core")
    assert impact._NAMES.value(store.engine) is not None  # the package names are kept
    brand_new = "pkg:npm/brand-new@1.0.0"
    with pytest.raises(impact.NotFoundError):
        answer(store, "brand-new")
    with store.session() as s:
        store_sbom(s, "orders", "1.0", sbom("orders", "1.0", [("root", brand_new)]), "o1", None)
    assert [c["purl"] for c in answer(store, "brand-new")["components"]] == [brand_new]
    assert [c["purl"] for c in answer(store, "BRAND-NEW")["components"]] == [brand_new]


def test_a_committed_api_link_is_seen(store: Store, tmp_path: Path) -> None:
    web = next(c for c in warm(store)["consumers"] if c["component"] == "web")
    assert web["depth"] == 3
    changed = tmp_path / "catalog.yaml"
    changed.write_text(
        (FIXTURES / "catalog.yaml")
        .read_text()
        .replace("consumesApis: [checkout-api]", "consumesApis: [inventory-api]")
    )
    with store.session() as s:
        import_catalog(s, [changed])
    web = next(c for c in answer(store)["consumers"] if c["component"] == "web")
    assert (web["depth"], web["path"]) == (1, ["inventory", "inventory-api", "web"])


def test_another_process_committing_is_seen(store: Store, db_url: str) -> None:
    warm(store)
    other = Store(db_url)  # another engine: another process, as far as caches go
    try:
        with other.session() as s:
            catalog.record_deployment(s, "dev", "inventory", "1.0", t("2024-08-01"))
    finally:
        other.dispose()
    assert ("dev", "inventory") in {
        (e["environment"], e["component"]) for e in answer(store)["environments"]
    }


def test_an_uncommitted_change_is_seen_by_its_transaction_only(store: Store) -> None:
    before = warm(store)
    with pytest.raises(RuntimeError), store.session() as s:
        catalog.record_deployment(s, "dev", "inventory", "1.0", t("2024-08-01"))
        catalog.create_app_version(s, "storefront", {"inventory": "1.0"}, label="3")
        mine = blast_radius(s, "CVE-2099-1001", at=AT).to_dict()
        assert ("dev", "inventory") in {
            (e["environment"], e["component"]) for e in mine["environments"]
        }
        assert ("storefront", "3") in {
            (a["application"], a["version"]) for a in mine["applications"]
        }
        raise RuntimeError("rolled back")
    assert answer(store) == before
    assert answer(store) == before


def test_a_new_advisory_is_seen_and_the_catalog_stays(store: Store) -> None:
    """Findings are read by every call; a write to them alone leaves the catalog and the API
    graph as they were read."""
    warm(store, "CVE-2099-1001")
    catalog_before, graph_before = kept_catalog(store), impact._API_GRAPH.value(store.engine)
    record = {
        "id": "GHSA-imp9-aaaa-0009",
        "modified": "2099-01-02T00:00:00Z",
        "aliases": ["CVE-2099-1009"],
        "summary": "Django, again",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Django"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.2.7"}]}
                ],
            }
        ],
    }
    with store.session() as s:
        store_advisories(s, [parse_advisory(record, "test")])
    r = answer(store, "CVE-2099-1009")
    assert [(c["component"], c["version"], c["upgrade_to"]) for c in r["components"]] == [
        ("inventory", "1.0", "3.2.7"),
        ("inventory", "2.0", "3.2.7"),
        ("reports", "1.0", "3.2.7"),
    ]
    assert kept_catalog(store) is catalog_before
    assert impact._API_GRAPH.value(store.engine) is graph_before


def test_what_runs_now_is_kept_for_the_stretch_it_holds_for() -> None:
    """The kept catalog's "what runs now" (``_live``) answers like the deployment-by-
    deployment check at every moment: at each start and end, just before and after them,
    and once time has moved past the stretch it was worked out for."""
    import random
    from datetime import datetime, timedelta

    rng = random.Random(7)
    t0 = datetime(2026, 1, 1)
    moments = [t0 + timedelta(hours=rng.randrange(0, 200)) for _ in range(60)]
    deployments: dict[int, list[tuple[int, datetime, datetime | None, int]]] = {}
    place = 0
    for cv in range(20):
        held = []
        for _ in range(rng.randrange(0, 4)):
            started = rng.choice(moments)
            ended = None if rng.random() < 0.4 else started + timedelta(hours=rng.randrange(0, 50))
            held.append((rng.randrange(3), started, ended, place))
            place += 1
        deployments[cv] = held
    envs = {place: env for held in deployments.values() for env, _, _, place in held}
    running = [impact.RunningVersion(f"env-{envs[p]}", False, "c", "v", "") for p in range(place)]
    known = impact._Catalog({}, {}, deployments, running, {}, [])
    direct = impact._Catalog({}, {}, deployments, running, {}, [])
    edges = sorted({m for held in deployments.values() for _, s, e, _ in held for m in (s, e) if m})
    second = timedelta(seconds=1)
    probes = [m + d for m in edges for d in (timedelta(0), -second, second)]
    known.live = impact._live(known, probes[0])
    versions = list(deployments)

    def running_at(
        catalog: impact._Catalog, now: datetime
    ) -> dict[int, tuple[list[int], list[str]]]:
        places, names = impact._running_at(catalog, versions, now, None)
        return {cv: (here, names[cv]) for cv, here in places.items()}

    for now in sorted(probes):  # time moving on: the kept stretch is worked out again
        assert running_at(known, now) == running_at(direct, now), now
    for now in probes[::7]:  # and a moment before the stretch: checked one by one
        assert running_at(known, now) == running_at(direct, now), now


def test_only_the_latest_walks_keep_their_consumer_lists(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole consumer lists are kept for the latest ``LISTINGS_KEPT`` walks only; an answer
    whose list was let go is made again, the same."""
    queries = ["CVE-2099-1001", "CVE-2099-1003", "pkg:pypi/django", "log4j-core"]
    fresh = {q: answer(store, q)["consumers"] for q in queries}
    monkeypatch.setattr(impact, "LISTINGS_KEPT", 1)
    for q in queries * 2:
        assert answer(store, q)["consumers"] == fresh[q], q
        graph = impact._API_GRAPH.value(store.engine)
        assert graph is not None
        assert sum(w.listed is not None for w in graph.walks.values()) == 1
    assert len(graph.walks) > 1  # the walks themselves stay
