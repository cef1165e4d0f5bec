"""Roll-up and risk score on a small estate built by hand: exact numbers for an application
version and a domain subtree, each factor of docs/risk.md moving the score as documented,
daily snapshots idempotent and readable as a trend.

The estate (``web`` consumes ``cart``'s API, ``cart`` consumes ``db``'s)::

    shop                      shopping (a prefix trap: not under shop)
    ├── shop.front: web          lone 0.9 (critical), lone 1.0 (high), runs nowhere
    └── shop.back:  cart, db
    app store: v1 = web 1.0, cart 1.0, db 1.0;  v2 = web 2.0, cart 1.0, db 1.0
    prod (production): web 2.0 (web 1.0 before it), cart 1.0;  staging: db 1.0
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from meshward.formats.epss import EpssFile, EpssScore
from meshward.formats.kev import KevCatalog, KevEntry
from meshward.services import catalog, rollup
from meshward.services.exploitation import import_epss, import_kev
from meshward.services.risk import finding_risks, finding_weights, service_graph
from meshward.store.models import (
    Application,
    Component,
    Domain,
    Finding,
    Package,
    Relation,
    RiskSnapshot,
)
from meshward.store.types import utcnow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CRIT = 9.8**2 / 10  # 9.604
HIGH = 7.5**2 / 10  # 5.625
MEDIUM_LABEL = 5.0**2 / 10  # 2.5: label only, the middle of the medium band
UNKNOWN = 2.5  # neither score nor label: counted as a medium
REACH_1 = 1.5  # 1 + 0.5 log2(2)
REACH_2 = 1 + 0.5 * math.log2(3)

WEB2 = CRIT * (2.0 * 1.5) * 1.0  # internet-facing, in prod, no consumers
WEB1 = (CRIT + MEDIUM_LABEL) * 2.0  # internet-facing, no longer in prod
CART = (HIGH + CRIT) * (1.5 * 1.5) * REACH_1  # reachable, in prod, 1 consumer
DB = (UNKNOWN + HIGH) * 1.5 * REACH_2  # reachable, staging only, 2 consumers


def _domain(session: Session, path: str) -> Domain:
    name = path.rsplit(".", 1)[-1]
    parent = session.scalars(select(Domain).where(Domain.path == path.rpartition(".")[0])).first()
    dom = Domain(
        key=f"domain:default/{name}", name=name, path=path, parent_id=parent.id if parent else None
    )
    session.add(dom)
    session.flush()
    return dom


def _finding(
    session: Session,
    component: str,
    version: str,
    vuln: str,
    severity: str | None,
    score: float | None,
    *,
    fixed: str | None = None,
    state: str = "open",
    active: bool = True,
    package: str = "pkg:pypi/lib@1.0",
) -> int:
    cv = catalog.get_component_version(session, component, version)
    pkg = session.scalars(select(Package).where(Package.purl == package)).first()
    if pkg is None:
        pkg = Package(purl=package, type="pypi", ecosystem="PyPI", name="lib", version="1.0")
        session.add(pkg)
        session.flush()
    fd = Finding(
        component_version_id=cv.id,
        package_id=pkg.id,
        vulnerability=vuln,
        severity=severity,
        severity_score=score,
        fixed_version=fixed,
        state=state,
        active=active,
    )
    session.add(fd)
    session.flush()
    return fd.id


@pytest.fixture
def estate(session: Session) -> dict[str, int]:
    _domain(session, "shop")
    _domain(session, "shop.front")
    _domain(session, "shop.back")
    _domain(session, "shopping")
    store = Application(key="system:default/store", name="store")
    session.add(store)
    for name, dom in (("web", "shop.front"), ("cart", "shop.back"), ("db", "shop.back")):
        catalog.create_component(session, name, domain=dom, application="store")
    catalog.create_component(session, "lone", domain="shopping")
    web = catalog.get_component(session, "web")
    web.tags = ["typescript", "internet-facing"]
    for consumer, provider in (("web", "cart"), ("cart", "db")):
        api = f"api:default/{provider}-api"
        session.add(
            Relation(source_key=f"component:default/{consumer}", type="consumesApi", target_key=api)
        )
        session.add(
            Relation(source_key=f"component:default/{provider}", type="providesApi", target_key=api)
        )
    for comp, ver in (("web", "1.0"), ("web", "2.0"), ("cart", "1.0"), ("db", "1.0")):
        catalog.add_component_version(session, comp, ver)
    catalog.add_component_version(session, "lone", "0.9", created_at=T0)
    catalog.add_component_version(session, "lone", "1.0", created_at=T0 + timedelta(days=1))
    catalog.create_app_version(
        session, "store", {"web": "1.0", "cart": "1.0", "db": "1.0"}, label="v1"
    )
    catalog.create_app_version(session, "store", {"web": "2.0"}, label="v2")
    catalog.ensure_environment(session, "prod", production=True)
    catalog.ensure_environment(session, "staging", production=False)
    catalog.record_deployment(session, "prod", "web", "1.0", T0)
    catalog.record_deployment(session, "prod", "web", "2.0", T0 + timedelta(days=2))
    catalog.record_deployment(session, "prod", "cart", "1.0", T0)
    catalog.record_deployment(session, "staging", "db", "1.0", T0)
    ids = {
        "web1_crit": _finding(session, "web", "1.0", "CVE-2099-0001", "critical", 9.8, fixed="2"),
        "web1_med": _finding(session, "web", "1.0", "CVE-2099-0002", "medium", None),
        "web2_crit": _finding(session, "web", "2.0", "CVE-2099-0001", "critical", 9.8, fixed="2"),
        "cart_high": _finding(session, "cart", "1.0", "CVE-2099-0003", "high", 7.5, fixed="1.1"),
        "cart_crit": _finding(session, "cart", "1.0", "CVE-2099-0001", "critical", 9.8),
        "cart_settled": _finding(
            session, "cart", "1.0", "CVE-2099-0004", "low", 2.0, state="not_affected"
        ),
        "db_unknown": _finding(session, "db", "1.0", "CVE-2099-0005", None, None),
        "db_high": _finding(session, "db", "1.0", "CVE-2099-0006", "high", 7.5, fixed="3"),
        "db_gone": _finding(session, "db", "1.0", "CVE-2099-0007", "critical", 9.8, active=False),
        "lone_old": _finding(session, "lone", "0.9", "CVE-2099-0008", "critical", 9.8),
        "lone_new": _finding(session, "lone", "1.0", "CVE-2099-0003", "high", 7.5),
    }
    return ids


def test_application_version_roll_up_is_exact(session: Session, estate: dict[str, int]) -> None:
    v2 = rollup.application_risk(session, "store")
    assert (v2.scope, v2.name, v2.version) == ("application", "store", "v2")
    assert v2.findings == 5
    assert v2.by_severity == {
        "critical": 2,
        "high": 2,
        "medium": 0,
        "low": 0,
        "none": 0,
        "unknown": 1,
    }
    assert (v2.vulnerabilities, v2.services, v2.fixable, v2.kev) == (4, 3, 3, 0)
    assert v2.risk_score == round(WEB2 + CART + DB, 2) == 102.06
    by_comp = {c.component: c for c in v2.components}
    assert [c.component for c in v2.components] == ["cart", "web", "db"]  # worst first
    assert (by_comp["web"].internet, by_comp["web"].production) == ("facing", True)
    assert (by_comp["cart"].internet, by_comp["cart"].consumers) == ("reachable", 1)
    assert (by_comp["db"].production, by_comp["db"].consumers) == (False, 2)
    assert by_comp["db"].risk_score == round(DB, 2)

    v1 = rollup.application_risk(session, "store", "v1")
    assert v1.version == "v1" and v1.findings == 6
    assert (v1.by_severity["critical"], v1.by_severity["medium"]) == (2, 1)
    assert (v1.vulnerabilities, v1.services, v1.fixable) == (5, 3, 3)
    assert v1.risk_score == round(WEB1 + CART + DB, 2) == 97.45


def test_domain_roll_up_covers_its_subtree_and_current_versions(
    session: Session, estate: dict[str, int]
) -> None:
    shop = rollup.domain_risk(session, "shop")
    # web 1.0 no longer runs anywhere: only web 2.0 counts; "shopping" is not under "shop"
    assert {(c.component, c.version) for c in shop.components} == {
        ("web", "2.0"),
        ("cart", "1.0"),
        ("db", "1.0"),
    }
    assert (shop.findings, shop.vulnerabilities, shop.services) == (5, 4, 3)
    assert shop.risk_score == round(WEB2 + CART + DB, 2)
    back = rollup.domain_risk(session, "shop.back")
    assert (back.findings, back.services, back.risk_score) == (4, 2, round(CART + DB, 2))
    # a component that runs nowhere counts with its newest version
    shopping = rollup.domain_risk(session, "shopping")
    assert [(c.component, c.version) for c in shopping.components] == [("lone", "1.0")]
    assert (shopping.findings, shopping.by_severity["high"]) == (1, 1)
    assert shopping.risk_score == round(HIGH, 2)
    everything = {r.name: r for r in rollup.all_domain_risks(session)}
    assert everything["shop"].to_dict() | {"components": []} == shop.to_dict() | {"components": []}
    apps = rollup.all_application_risks(session)
    assert [(a.name, a.version, a.risk_score) for a in apps] == [("store", "v2", 102.06)]


def test_finding_weights_multiply_the_documented_factors(
    session: Session, estate: dict[str, int]
) -> None:
    weights = finding_weights(session, list(estate.values()))
    assert weights[estate["cart_settled"]] == 0.0
    assert weights[estate["db_gone"]] == 0.0
    assert weights[estate["web2_crit"]] == pytest.approx(CRIT * 2.0 * 1.5)
    assert weights[estate["cart_high"]] == pytest.approx(HIGH * 1.5 * 1.5 * REACH_1)
    risk = finding_risks(session, [estate["db_unknown"]])[estate["db_unknown"]]
    assert (risk.base, risk.internet, risk.production, risk.consumers) == (
        UNKNOWN,
        "reachable",
        False,
        2,
    )
    assert risk.reach == pytest.approx(REACH_2)
    # the roll-up is the sum of its findings' weights
    v2_ids = ["web2_crit", "cart_high", "cart_crit", "cart_settled", "db_unknown", "db_high"]
    total = sum(weights[estate[k]] for k in v2_ids)
    assert rollup.application_risk(session, "store").risk_score == round(total, 2)


def test_exposure_changes_the_score(session: Session, estate: dict[str, int]) -> None:
    assert rollup.application_risk(session, "store").risk_score == round(WEB2 + CART + DB, 2)
    catalog.end_deployment(session, "prod", "web", T0 + timedelta(days=3))
    after_prod = rollup.application_risk(session, "store").risk_score
    assert after_prod == round(CRIT * 2.0 + CART + DB, 2)  # prod factor 1.5 -> 1
    web = catalog.get_component(session, "web")
    web.tags = ["typescript"]
    session.flush()
    plain = rollup.application_risk(session, "store")
    by_comp = {c.component: c for c in plain.components}
    assert by_comp["web"].internet is None and by_comp["cart"].internet is None
    assert plain.risk_score == round(
        CRIT + (HIGH + CRIT) * 1.5 * REACH_1 + (UNKNOWN + HIGH) * REACH_2, 2
    )


def test_kev_and_epss_change_the_score(session: Session, estate: dict[str, int]) -> None:
    kev = KevCatalog(
        "2099.01.01",
        datetime(2099, 1, 1, tzinfo=UTC),
        (KevEntry("CVE-2099-0001", "v", "p", None, date(2099, 1, 1), None, True),),
    )
    import_kev(session, kev)
    with_kev = rollup.application_risk(session, "store")
    assert (with_kev.kev, with_kev.kev_vulnerabilities) == (2, 1)  # web 2.0 and cart
    web2_kev, cart_kev = WEB2 * 3, (HIGH + 3 * CRIT) * 2.25 * REACH_1
    assert with_kev.risk_score == round(web2_kev + cart_kev + DB, 2)
    epss = EpssFile(
        "v2099",
        date(2099, 1, 2),
        (EpssScore("CVE-2099-0003", 0.5, 0.9), EpssScore("CVE-2099-0001", 0.1, 0.5)),
    )
    import_epss(session, epss)
    with_epss = rollup.application_risk(session, "store")
    # EPSS lifts CVE-2099-0003 (x 1 + 2 x 0.5); KEV outranks EPSS for CVE-2099-0001 (x 3)
    cart_both = (HIGH * 2 + 3 * CRIT) * 2.25 * REACH_1
    assert with_epss.risk_score == round(web2_kev + cart_both + DB, 2)
    risk = finding_risks(session, [estate["cart_high"]])[estate["cart_high"]]
    assert (risk.in_kev, risk.epss, risk.exploitation) == (False, 0.5, 2.0)


def test_snapshots_are_idempotent_per_day_and_make_a_trend(
    session: Session, estate: dict[str, int]
) -> None:
    today = utcnow().date()
    first = rollup.snapshot_rollups(session, today - timedelta(days=1))
    assert (first.applications, first.domains, first.created) == (1, 4, 5)
    again = rollup.snapshot_rollups(session, today - timedelta(days=1))
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert session.scalar(select(func.count(RiskSnapshot.id))) == 5
    catalog.end_deployment(session, "prod", "web", T0 + timedelta(days=3))
    rollup.snapshot_rollups(session)
    retaken = rollup.snapshot_rollups(session)
    assert (retaken.created, retaken.updated) == (0, 0)
    session.execute(update(Finding).where(Finding.id == estate["db_high"]).values(state="fixed"))
    changed = rollup.snapshot_rollups(session)
    assert (changed.created, changed.updated) == (0, 3)  # store, shop, shop.back
    assert session.scalar(select(func.count(RiskSnapshot.id))) == 10
    trend = rollup.risk_trend(session, "application", "store", days=7)
    assert [p.day for p in trend] == [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    assert trend[0].risk_score == round(WEB2 + CART + DB, 2)
    assert trend[1].risk_score == round(WEB2 / 1.5 + CART + UNKNOWN * 1.5 * REACH_2, 2)
    assert (trend[0].version, trend[0].findings, trend[1].findings) == ("v2", 5, 4)
    assert [p.findings for p in rollup.risk_trend(session, "domain", "shop.back", 1)] == [3]
    with pytest.raises(Exception, match="scope must be"):
        rollup.risk_trend(session, "team", "store")


def test_consumer_graph_with_a_cycle(session: Session) -> None:
    """a -> b -> c -> a is a cycle of consumers, d consumes a and faces the internet."""
    for name in "abcd":
        catalog.create_component(session, name)
    catalog.get_component(session, "d").tags = ["internet-facing"]
    for consumer, provider in (("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("a", "a")):
        session.add(
            Relation(
                source_key=f"component:default/{consumer}",
                type="consumesApi",
                target_key=f"api:default/{provider}-api",
            )
        )
    for provider in "abc":
        session.add(
            Relation(
                source_key=f"component:default/{provider}",
                type="providesApi",
                target_key=f"api:default/{provider}-api",
            )
        )
    session.flush()
    graph = service_graph(session)
    ids = {c.name: c.id for c in session.scalars(select(Component))}
    assert {n: graph.consumers.get(ids[n], 0) for n in "abcd"} == {"a": 3, "b": 3, "c": 3, "d": 0}
    assert {n: graph.internet.get(ids[n]) for n in "abcd"} == {
        "a": "reachable",
        "b": "reachable",
        "c": "reachable",
        "d": "facing",
    }


def test_worked_example_of_docs_risk_md(session: Session) -> None:
    session.add(Application(key="system:default/shop", name="shop"))
    names = ("web", "search", "a", "b")
    for name in names:
        catalog.create_component(session, name, application="shop")
        catalog.add_component_version(session, name, "1")
    catalog.get_component(session, "web").tags = ["internet-facing"]
    for consumer, provider in (("web", "search"), ("a", "search"), ("b", "a")):
        api = f"api:default/{provider}-api"
        session.add(
            Relation(source_key=f"component:default/{consumer}", type="consumesApi", target_key=api)
        )
    for provider in ("search", "a"):
        api = f"api:default/{provider}-api"
        session.add(
            Relation(source_key=f"component:default/{provider}", type="providesApi", target_key=api)
        )
    catalog.add_component_version(session, "search", "4.2.0")
    catalog.add_component_version(session, "web", "3.2.0")
    catalog.create_app_version(session, "shop", {"web": "3.2.0", "search": "4.2.0"})
    catalog.ensure_environment(session, "prod", production=True)
    catalog.record_deployment(session, "prod", "web", "3.2.0", T0)
    catalog.record_deployment(session, "prod", "search", "4.2.0", T0)
    _finding(session, "search", "4.2.0", "CVE-2021-44228", "critical", 10.0, fixed="2.15.0")
    _finding(session, "search", "4.2.0", "CVE-2099-0002", "high", 7.5, fixed="2")
    _finding(session, "search", "4.2.0", "CVE-2099-0003", "medium", None)
    _finding(session, "search", "4.2.0", "CVE-2099-0004", "critical", 9.8, state="not_affected")
    _finding(session, "web", "3.2.0", "CVE-2099-0005", "high", 7.5, fixed="1")
    import_kev(
        session,
        KevCatalog(
            "1",
            None,
            (KevEntry("CVE-2021-44228", None, None, None, date(2021, 12, 10), None, True),),
        ),
    )
    import_epss(session, EpssFile(None, None, (EpssScore("CVE-2099-0002", 0.2, 0.9),)))
    shop = rollup.application_risk(session, "shop")
    assert (shop.findings, shop.vulnerabilities, shop.services, shop.fixable, shop.kev) == (
        4,
        4,
        2,
        3,
        1,
    )
    assert (shop.by_severity["critical"], shop.by_severity["high"]) == (1, 2)
    search = next(c for c in shop.components if c.component == "search")
    assert (search.consumers, search.exposure * search.reach) == (3, 4.5)
    assert search.risk_score == 181.69  # 135 + 35.4375 + 11.25
    assert shop.risk_score == 198.56
