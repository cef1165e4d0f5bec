"""Blast radius on a small estate built by hand: every part of the answer, exactly.

The estate (fixtures/impact/catalog.yaml): API links orders -> inventory, checkout -> orders,
web -> checkout (a chain of three consumers), alpha -> inventory and the cycle
alpha -> beta -> gamma -> alpha. Django 3.2.4 comes into inventory 1.0 through
celery -> kombu (and a longer path through flask -> werkzeug -> jinja2; kombu and django
depend on each other), straight into reports 1.0; inventory 2.0 has 3.2.6, checkout 3.2.10.
gamma has Maven log4j-core 2.14.1, web has npm log4j-core 1.0.0 through express.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError, NotFoundError
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.services import catalog
from meshward.services.advisories import import_advisories
from meshward.services.catalog_import import import_catalog
from meshward.services.impact import blast_radius, parse_package_query
from meshward.services.sboms import store_sbom

FIXTURES = Path(__file__).with_name("fixtures") / "impact"

DJANGO_OLD = "pkg:pypi/django@3.2.4"
DJANGO_MID = "pkg:pypi/django@3.2.6"
DJANGO_NEW = "pkg:pypi/django@3.2.10"
LOG4J_MAVEN = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
LOG4J_NPM = "pkg:npm/log4j-core@1.0.0"
EXPRESS = "pkg:npm/express@4.0.0"
CELERY, KOMBU = "pkg:pypi/celery@5.0.0", "pkg:pypi/kombu@5.0.0"
FLASK, WERKZEUG, JINJA = "pkg:pypi/flask@2.0.0", "pkg:pypi/werkzeug@2.0.0", "pkg:pypi/jinja2@3.0.0"
LEFT_PAD = "pkg:npm/left-pad@1.3.0"


def sbom(name: str, version: str, edges: list[tuple[str, str]]) -> SbomDocument:
    """A document whose root is ``root``; edges name purls (and ``root``)."""
    purls = sorted({p for edge in edges for p in edge if p != "root"})
    root = SbomPackage(ref="root", name=name, version=version)
    packages = [SbomPackage(ref=p, name=p.rsplit("/", 1)[-1], purl=p) for p in purls]
    return SbomDocument(
        format="CycloneDX",
        spec_version="1.6",
        encoding="json",
        packages=[root, *packages],
        dependencies=edges,
        root_refs=["root"],
    )


def t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def estate(session: Session) -> Session:
    return build_estate(session)


def build_estate(session: Session) -> Session:
    """The estate described above, in ``session`` (flushed, not committed)."""
    report = import_catalog(session, [FIXTURES / "catalog.yaml"])
    assert not report.warnings
    documents = {
        ("inventory", "1.0"): [
            ("root", CELERY),
            ("root", FLASK),
            (CELERY, KOMBU),
            (KOMBU, DJANGO_OLD),
            (DJANGO_OLD, KOMBU),  # a cycle in the SBOM graph
            (FLASK, WERKZEUG),
            (WERKZEUG, JINJA),
            (JINJA, DJANGO_OLD),
        ],
        ("inventory", "2.0"): [("root", DJANGO_MID)],
        ("reports", "1.0"): [("root", DJANGO_OLD)],
        ("checkout", "1.0"): [("root", DJANGO_NEW)],
        ("gamma", "1.0"): [("root", LOG4J_MAVEN)],
        ("web", "1.0"): [("root", EXPRESS), (EXPRESS, LOG4J_NPM)],
        ("orders", "1.0"): [("root", LEFT_PAD)],
        ("alpha", "1.0"): [("root", LEFT_PAD)],
        ("beta", "1.0"): [("root", LEFT_PAD)],
    }
    for n, ((name, version), edges) in enumerate(documents.items()):
        catalog.add_component_version(
            session, name, version, created_at=t(f"2024-01-0{1 + int(version[0])}")
        )
        store_sbom(session, name, version, sbom(name, version, edges), f"doc-{n}", None)
    import_advisories(session, [FIXTURES / "osv"])
    v1 = {"inventory": "1.0", "orders": "1.0", "checkout": "1.0", "web": "1.0"}
    catalog.create_app_version(session, "storefront", dict(v1), label="1")
    catalog.create_app_version(session, "storefront", {"inventory": "2.0"}, label="2")
    catalog.create_app_version(session, "backoffice", {"reports": "1.0"}, label="1")
    catalog.create_app_version(session, "backoffice", {"gamma": "1.0"}, label="2")
    catalog.create_app_version(session, "backoffice", {"alpha": "1.0"}, label="3")
    deploy = catalog.record_deployment
    deploy(session, "prod", "inventory", "1.0", t("2024-03-01"))
    deploy(session, "prod", "checkout", "1.0", t("2024-03-01"))
    deploy(session, "prod", "web", "1.0", t("2024-03-01"))
    deploy(session, "prod", "gamma", "1.0", t("2024-05-01"))
    deploy(session, "staging", "inventory", "1.0", t("2024-02-01"))
    deploy(session, "staging", "inventory", "2.0", t("2024-04-01"))  # ends 1.0 there
    deploy(session, "staging", "reports", "1.0", t("2024-02-15"))
    deploy(session, "dev", "reports", "1.0", t("2024-01-01"))
    catalog.end_deployment(session, "dev", "reports", t("2024-01-20"))
    session.flush()
    return session


def vuln(name: str, severity: str, score: float | None, fix: str | None) -> dict[str, Any]:
    return {
        "vulnerability": name,
        "severity": severity,
        "score": score,
        "fixed_version": fix,
        "state": "open",
    }


CVE1 = vuln("CVE-2099-1001", "critical", 9.8, "3.2.5")
CVE2 = vuln("CVE-2099-1002", "medium", None, "3.2.10")
CVE3 = vuln("CVE-2099-1003", "critical", 10.0, "2.15.0")
CVE4 = vuln("CVE-2099-1004", "high", None, None)


def component(
    name: str,
    version: str,
    purl: str,
    dependency: str,
    path: list[str],
    vulns: list[dict[str, Any]],
    upgrade: str | None,
    envs: list[str],
) -> dict[str, Any]:
    from meshward.ecosystems.purls import coordinates

    c = coordinates(purl)
    team = "team-a" if name in ("inventory", "orders", "checkout", "web") else "team-b"
    return {
        "component": name,
        "key": f"component:default/{name}",
        "owner": f"group:default/{team}",
        "version": version,
        "purl": purl,
        "package": c.name,
        "ecosystem": c.ecosystem,
        "installed": c.version,
        "dependency": dependency,
        "path": path,
        "vulnerabilities": vulns,
        "upgrade_to": upgrade,
        "environments": envs,
    }


INVENTORY_PATH = ["inventory@1.0", CELERY, KOMBU, DJANGO_OLD]
REPORTS_PATH = ["reports@1.0", DJANGO_OLD]


def consumer(name: str, depth: int, path: list[str]) -> dict[str, Any]:
    team = "team-a" if name in ("inventory", "orders", "checkout", "web") else "team-b"
    return {
        "component": name,
        "key": f"component:default/{name}",
        "owner": f"group:default/{team}",
        "depth": depth,
        "via": path[0],
        "path": path,
    }


INVENTORY_CONSUMERS = [
    consumer("alpha", 1, ["inventory", "inventory-api", "alpha"]),
    consumer("orders", 1, ["inventory", "inventory-api", "orders"]),
    consumer("checkout", 2, ["inventory", "inventory-api", "orders", "orders-api", "checkout"]),
    consumer("gamma", 2, ["inventory", "inventory-api", "alpha", "alpha-api", "gamma"]),
    consumer(
        "beta",
        3,
        ["inventory", "inventory-api", "alpha", "alpha-api", "gamma", "gamma-api", "beta"],
    ),
    consumer(
        "web",
        3,
        ["inventory", "inventory-api", "orders", "orders-api", "checkout", "checkout-api", "web"],
    ),
]


def app(name: str, version: str, latest: bool, members: list[str]) -> dict[str, Any]:
    return {
        "application": name,
        "version": version,
        "seq": int(version),
        "latest": latest,
        "components": members,
    }


def running(env: str, name: str, version: str, since: str) -> dict[str, Any]:
    return {
        "environment": env,
        "production": env == "prod",
        "component": name,
        "version": version,
        "since": since,
    }


def test_advisory_blast_radius_every_part(estate: Session) -> None:
    r = blast_radius(estate, "CVE-2099-1001").to_dict()
    assert (r["query"], r["kind"], r["vulnerability"]) == (
        "CVE-2099-1001",
        "advisory",
        "CVE-2099-1001",
    )
    assert r["package"] is None and r["environment"] is None
    assert r["packages"] == [DJANGO_OLD]
    assert r["advisories"] == [
        {
            "vulnerability": "CVE-2099-1001",
            "ids": ["GHSA-imp1-aaaa-0001"],
            "aliases": ["CVE-2099-1001", "GHSA-imp1-aaaa-0001"],
            "summary": "Django SQL injection",
            "severity": "critical",
            "score": 9.8,
            "withdrawn": False,
            "fixes": [{"purl": DJANGO_OLD, "fixed_version": "3.2.5"}],
        }
    ]
    assert r["components"] == [
        # transitive through celery -> kombu: the shortest of the two paths
        component(
            "inventory", "1.0", DJANGO_OLD, "transitive", INVENTORY_PATH, [CVE1], "3.2.5", ["prod"]
        ),
        component(
            "reports", "1.0", DJANGO_OLD, "direct", REPORTS_PATH, [CVE1], "3.2.5", ["staging"]
        ),
    ]
    # latest version of each application first; storefront 2 has inventory 2.0 (fixed)
    assert r["applications"] == [
        app("backoffice", "3", True, ["reports@1.0"]),
        app("backoffice", "2", False, ["reports@1.0"]),
        app("backoffice", "1", False, ["reports@1.0"]),
        app("storefront", "1", False, ["inventory@1.0"]),
    ]
    # inventory 1.0 left staging on 2024-04-01; reports left dev on 2024-01-20
    assert r["environments"] == [
        running("prod", "inventory", "1.0", "2024-03-01T00:00:00Z"),
        running("staging", "reports", "1.0", "2024-02-15T00:00:00Z"),
    ]
    # a chain of three (orders, checkout, web) and the cycle alpha -> beta -> gamma -> alpha
    assert r["consumers"] == INVENTORY_CONSUMERS
    assert r["summary"] == {
        "components": 2,
        "component_versions": 2,
        "applications": 2,
        "application_versions": 4,
        "environments": 2,
        "running": 2,
        "consumers": 6,
    }


def test_cycle_through_the_affected_component_ends(estate: Session) -> None:
    r = blast_radius(estate, "CVE-2099-1003")
    assert [(c.component, c.version, c.dependency, c.path, c.upgrade_to) for c in r.components] == [
        ("gamma", "1.0", "direct", ["gamma@1.0", LOG4J_MAVEN], "2.15.0")
    ]
    # gamma is called by beta, beta by alpha, alpha by gamma again: it stops there
    assert [asdict(c) for c in r.consumers] == [
        consumer("beta", 1, ["gamma", "gamma-api", "beta"]),
        consumer("alpha", 2, ["gamma", "gamma-api", "beta", "beta-api", "alpha"]),
    ]
    assert [(a.application, a.version, a.latest) for a in r.applications] == [
        ("backoffice", "3", True),
        ("backoffice", "2", False),
    ]
    assert [(d.environment, d.component, d.since) for d in r.environments] == [
        ("prod", "gamma", "2024-05-01T00:00:00Z")
    ]


def test_every_alias_gives_the_same_answer(estate: Session) -> None:
    def without_query(q: str) -> dict[str, Any]:
        d = blast_radius(estate, q, at=t("2025-01-01")).to_dict()
        del d["query"]
        return d

    cve = without_query("CVE-2099-1001")
    assert without_query("GHSA-imp1-aaaa-0001") == cve
    assert without_query("  cve-2099-1001 ") == cve
    assert without_query("ghsa-IMP1-aaaa-0001") == cve


def test_environment_filter_narrows_everything(estate: Session) -> None:
    prod = blast_radius(estate, "CVE-2099-1001", environment="prod").to_dict()
    assert prod["environment"] == "prod"
    assert prod["components"] == [
        component(
            "inventory", "1.0", DJANGO_OLD, "transitive", INVENTORY_PATH, [CVE1], "3.2.5", ["prod"]
        )
    ]
    assert prod["applications"] == [app("storefront", "1", False, ["inventory@1.0"])]
    assert prod["environments"] == [running("prod", "inventory", "1.0", "2024-03-01T00:00:00Z")]
    assert prod["consumers"] == INVENTORY_CONSUMERS

    staging = blast_radius(estate, "CVE-2099-1001", environment="staging").to_dict()
    assert [(c["component"], c["version"]) for c in staging["components"]] == [("reports", "1.0")]
    assert [(a["application"], a["version"]) for a in staging["applications"]] == [
        ("backoffice", "3"),
        ("backoffice", "2"),
        ("backoffice", "1"),
    ]
    assert staging["environments"] == [running("staging", "reports", "1.0", "2024-02-15T00:00:00Z")]
    assert staging["consumers"] == []

    # dev: reports ran there, but that deployment ended
    dev = blast_radius(estate, "CVE-2099-1001", environment="dev")
    assert (dev.components, dev.applications, dev.environments, dev.consumers) == ([], [], [], [])
    assert dev.advisories[0].vulnerability == "CVE-2099-1001" and dev.advisories[0].fixes == []

    # back in March 2024, inventory 1.0 still ran in staging
    march = blast_radius(estate, "CVE-2099-1001", environment="staging", at=t("2024-03-15"))
    assert [(d.component, d.version, d.since) for d in march.environments] == [
        ("inventory", "1.0", "2024-02-01T00:00:00Z"),
        ("reports", "1.0", "2024-02-15T00:00:00Z"),
    ]
    assert [c.component for c in march.components] == ["inventory", "reports"]

    with pytest.raises(NotFoundError, match="nowhere"):
        blast_radius(estate, "CVE-2099-1001", environment="nowhere")


def test_purl_without_version_lists_advisories_and_fixes(estate: Session) -> None:
    r = blast_radius(estate, "pkg:pypi/django")
    assert r.kind == "purl" and r.vulnerability is None
    assert r.package is not None and r.package.__dict__ == {
        "ecosystem": "PyPI",
        "name": "django",
        "version": None,
        "range": None,
        "type": "pypi",
    }
    d = r.to_dict()
    assert d["packages"] == [DJANGO_NEW, DJANGO_OLD, DJANGO_MID]
    assert d["components"] == [
        component(
            "checkout",
            "1.0",
            DJANGO_NEW,
            "direct",
            ["checkout@1.0", DJANGO_NEW],
            [],
            None,
            ["prod"],
        ),
        component(
            "inventory",
            "1.0",
            DJANGO_OLD,
            "transitive",
            INVENTORY_PATH,
            [CVE1, CVE2],
            "3.2.10",  # the smallest upgrade that clears both
            ["prod"],
        ),
        component(
            "inventory",
            "2.0",
            DJANGO_MID,
            "direct",
            ["inventory@2.0", DJANGO_MID],
            [CVE2],
            "3.2.10",
            ["staging"],
        ),
        component(
            "reports",
            "1.0",
            DJANGO_OLD,
            "direct",
            REPORTS_PATH,
            [CVE1, CVE2],
            "3.2.10",
            ["staging"],
        ),
    ]
    assert [(a["vulnerability"], a["severity"], a["fixes"]) for a in d["advisories"]] == [
        ("CVE-2099-1001", "critical", [{"purl": DJANGO_OLD, "fixed_version": "3.2.5"}]),
        (
            "CVE-2099-1002",
            "medium",
            [
                {"purl": DJANGO_OLD, "fixed_version": "3.2.10"},
                {"purl": DJANGO_MID, "fixed_version": "3.2.10"},
            ],
        ),
    ]
    assert [(a["application"], a["version"], a["latest"]) for a in d["applications"]] == [
        ("backoffice", "3", True),
        ("backoffice", "2", False),
        ("backoffice", "1", False),
        ("storefront", "2", True),
        ("storefront", "1", False),
    ]
    assert [(e["environment"], e["component"], e["version"]) for e in d["environments"]] == [
        ("prod", "checkout", "1.0"),
        ("prod", "inventory", "1.0"),
        ("staging", "inventory", "2.0"),
        ("staging", "reports", "1.0"),
    ]
    # checkout is affected itself, so the chain goes on from it to web at depth 1
    assert [(c["component"], c["depth"], c["path"]) for c in d["consumers"]] == [
        ("alpha", 1, ["inventory", "inventory-api", "alpha"]),
        ("orders", 1, ["inventory", "inventory-api", "orders"]),
        ("web", 1, ["checkout", "checkout-api", "web"]),
        ("gamma", 2, ["inventory", "inventory-api", "alpha", "alpha-api", "gamma"]),
        (
            "beta",
            3,
            ["inventory", "inventory-api", "alpha", "alpha-api", "gamma", "gamma-api", "beta"],
        ),
    ]


def hit(session: Session, query: str, **kw: Any) -> list[tuple[str, str, str]]:
    return [(c.component, c.version, c.purl) for c in blast_radius(session, query, **kw).components]


def test_purl_with_version_and_ranges_use_the_ecosystem_order(estate: Session) -> None:
    old = [("inventory", "1.0", DJANGO_OLD), ("reports", "1.0", DJANGO_OLD)]
    assert hit(estate, "pkg:pypi/django@3.2.4") == old
    assert hit(estate, "pkg:pypi/Django@3.2.4.0") == old  # PEP 440: the same version
    assert hit(estate, "pkg:pypi/django@>=3.0,<3.2.5") == old
    assert hit(estate, "pkg:pypi/django@>=3.2.5,<3.2.10") == [("inventory", "2.0", DJANGO_MID)]
    # as strings "3.2.10" < "3.2.9"; in PEP 440 order it is greater
    assert hit(estate, "pkg:pypi/django@>3.2.9") == [("checkout", "1.0", DJANGO_NEW)]
    assert hit(estate, "pkg:pypi/django@!=3.2.4") == [
        ("checkout", "1.0", DJANGO_NEW),
        ("inventory", "2.0", DJANGO_MID),
    ]
    assert hit(estate, "pkg:pypi/django@==3.2.6") == [("inventory", "2.0", DJANGO_MID)]
    assert hit(estate, "pkg:pypi/django@<3.0") == []  # a known package, no version in range
    r = blast_radius(estate, "pkg:pypi/django@>=3.0,<3.2.5")
    assert r.package is not None and r.package.range == ">=3.0,<3.2.5"
    assert [a.vulnerability for a in r.advisories] == ["CVE-2099-1001", "CVE-2099-1002"]
    assert hit(estate, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1") == [
        ("gamma", "1.0", LOG4J_MAVEN)
    ]


def test_bare_name_matches_in_every_ecosystem(estate: Session) -> None:
    r = blast_radius(estate, "log4j-core")
    assert r.kind == "package"
    assert r.to_dict()["components"] == [
        component(
            "gamma",
            "1.0",
            LOG4J_MAVEN,
            "direct",
            ["gamma@1.0", LOG4J_MAVEN],
            [CVE3],
            "2.15.0",
            ["prod"],
        ),
        component(
            "web",
            "1.0",
            LOG4J_NPM,
            "transitive",
            ["web@1.0", EXPRESS, LOG4J_NPM],
            [CVE4],
            None,
            ["prod"],
        ),
    ]
    assert [
        (a.vulnerability, [(f.purl, f.fixed_version) for f in a.fixes]) for a in r.advisories
    ] == [
        ("CVE-2099-1003", [(LOG4J_MAVEN, "2.15.0")]),
        ("CVE-2099-1004", [(LOG4J_NPM, None)]),
    ]
    assert [(c.component, c.depth) for c in r.consumers] == [("beta", 1), ("alpha", 2)]
    # case and the full ecosystem name work too
    assert hit(estate, "Django") == hit(estate, "pkg:pypi/django")
    assert hit(estate, "org.apache.logging.log4j:log4j-core") == [("gamma", "1.0", LOG4J_MAVEN)]


def test_unknown_queries_say_what_was_not_found(estate: Session) -> None:
    with pytest.raises(NotFoundError, match="no advisory 'CVE-2099-9999'"):
        blast_radius(estate, "CVE-2099-9999")
    with pytest.raises(NotFoundError, match="nothing matches 'no-such-package'"):
        blast_radius(estate, "no-such-package")
    with pytest.raises(NotFoundError, match="pkg:pypi/nosuch"):
        blast_radius(estate, "pkg:pypi/nosuch@1.0")
    with pytest.raises(MeshwardError, match="version range"):
        blast_radius(estate, "pkg:pypi/django@>=3.0,,")
    with pytest.raises(MeshwardError, match="not a npm version"):
        blast_radius(estate, "pkg:npm/log4j-core@>=bogus")
    with pytest.raises(MeshwardError, match="not a purl"):
        blast_radius(estate, "pkg:pypi")
    with pytest.raises(MeshwardError):
        blast_radius(estate, "   ")


def test_purl_query_parsing() -> None:
    scoped = parse_package_query("pkg:npm/@babel/core@>=7.0.0,<7.1")
    assert (scoped.ecosystem, scoped.name, scoped.range) == ("npm", "@babel/core", ">=7.0.0,<7.1")
    bare = parse_package_query("pkg:npm/%40babel/core")
    assert (bare.name, bare.version, bare.range) == ("@babel/core", None, None)
    go = parse_package_query("pkg:golang/github.com/gorilla/websocket@v1.4.0?foo=bar")
    assert (go.ecosystem, go.name, go.version) == ("Go", "github.com/gorilla/websocket", "v1.4.0")
    maven = parse_package_query("pkg:maven/org.apache.logging.log4j/log4j-core")
    assert (maven.ecosystem, maven.name) == ("Maven", "org.apache.logging.log4j:log4j-core")
    with pytest.raises(MeshwardError, match="known ecosystem"):
        parse_package_query("pkg:generic/thing@>=1")
