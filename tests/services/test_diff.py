"""Version diff and fix plan, on a small estate built by hand and on Online Boutique's real
manifests at two releases (../shared)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from meshward.ecosystems.registry import get_ecosystem
from meshward.errors import NotFoundError
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.services import catalog, findings
from meshward.services.advisories import import_advisories
from meshward.services.diff import (
    PackageChange,
    app_diff,
    compare_version_sets,
    component_diff,
    sort_versions,
)
from meshward.services.findings import FindingFilter
from meshward.services.fixplan import fix_plan
from meshward.services.risk import finding_weights
from meshward.services.sboms import sbom_from_manifest_paths, store_sbom
from meshward.store.db import Store
from meshward.store.models import Application, Component, ComponentVersion, Finding, Relation

# ---------------------------------------------------------------- the hand-built estate

ADVISORIES = {
    # id: (ecosystem, package, fixed or None, severity label, CVE)
    "DJ-1": ("PyPI", "django", "3.2.6", "CRITICAL", "CVE-2099-1001"),
    "DJ-2": ("PyPI", "django", "3.2.10", "HIGH", "CVE-2099-1002"),
    "L4J": ("Maven", "org.apache.logging.log4j:log4j-core", "2.15.0", "CRITICAL", "CVE-2099-1003"),
    "CT": ("Maven", "org.apache.commons:commons-text", "1.10.0", "HIGH", "CVE-2099-1004"),
    "RQ": ("PyPI", "requests", "2.31.0", "MODERATE", "CVE-2099-1005"),
    "WS": ("Go", "github.com/gorilla/websocket", "1.4.1", "HIGH", "CVE-2099-1006"),
    "SIX": ("PyPI", "six", None, "MODERATE", "CVE-2099-1007"),
    "YAML": ("PyPI", "pyyaml", "5.4", "CRITICAL", "CVE-2099-1008"),
    "LD": ("npm", "lodash", "4.17.21", "HIGH", "CVE-2099-1009"),
}
DJ1, DJ2, L4J, CT, RQ, WS, SIX, YAML, LD = (a[4] for a in ADVISORIES.values())

API_1 = [
    "pkg:pypi/django@3.2.4",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.9.1",
    "pkg:maven/org.apache.commons/commons-text@1.10.0",
    "pkg:pypi/requests@2.31.0",
    "pkg:golang/github.com/gorilla/websocket@v1.4.0",
    "pkg:generic/openssl@1.1.1k",
    "pkg:pypi/six@1.16.0",
    "pkg:pypi/Flask_Cors@3.0.9",
]
API_2 = [
    "pkg:pypi/django@3.2.10",  # string order says downgrade
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",  # string order says downgrade
    "pkg:maven/org.apache.commons/commons-text@1.10.0-RC1",  # string order says upgrade
    "pkg:pypi/requests@2.31.0rc1",  # string order says upgrade
    "pkg:npm/left-pad@1.3.0",
    "pkg:generic/openssl@1.1.1w",
    "pkg:pypi/six@1.16.0",
    "pkg:pypi/flask-cors@4.0.0",  # same package, PEP 503
]
WORKER = ["pkg:pypi/six@1.16.0", "pkg:pypi/pyyaml@5.3"]
LEGACY = ["pkg:golang/github.com/gorilla/websocket@v1.4.0", "pkg:pypi/pyyaml@5.3"]
NEWSVC = ["pkg:pypi/django@3.2.4", "pkg:npm/lodash@4.17.15"]


def osv_record(osv_id: str) -> dict[str, object]:
    ecosystem, name, fixed, severity, cve = ADVISORIES[osv_id]
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": osv_id,
        "modified": "2099-01-01T00:00:00Z",
        "aliases": [cve],
        "summary": f"flaw in {name}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "SEMVER" if ecosystem == "Go" else "ECOSYSTEM", "events": events}
                ],
            }
        ],
        "database_specific": {"severity": severity},
    }


def sbom(name: str, purls: list[str]) -> SbomDocument:
    root = SbomPackage(ref="root", name=name, version="1")
    packages = [SbomPackage(ref=p, name=p.split("/")[-1], purl=p) for p in purls]
    return SbomDocument(
        format="CycloneDX",
        spec_version="1.6",
        encoding="json",
        packages=[root, *packages],
        dependencies=[("root", p) for p in purls],
        root_refs=["root"],
    )


@pytest.fixture
def estate(session: Session, tmp_path: Path) -> Session:
    """shop 1 = api 1.0, worker 1.0, legacy 1.0; shop 2 = api 2.0, worker 1.0, newsvc 1.0."""
    return build_shop(session, tmp_path)


def build_shop(session: Session, tmp_path: Path) -> Session:
    session.add(Application(key="system:default/shop", name="shop"))
    session.flush()
    for name, version, purls in (
        ("api", "1.0", API_1),
        ("api", "2.0", API_2),
        ("worker", "1.0", WORKER),
        ("legacy", "1.0", LEGACY),
        ("newsvc", "1.0", NEWSVC),
    ):
        catalog.create_component(session, name, application="shop")
        store_sbom(session, name, version, sbom(name, purls), f"{name}-{version}", None)
    for osv_id in ADVISORIES:
        (tmp_path / f"{osv_id}.json").write_text(json.dumps(osv_record(osv_id)))
    import_advisories(session, [tmp_path])
    catalog.create_app_version(
        session, "shop", {"api": "1.0", "worker": "1.0", "legacy": "1.0"}, label="1"
    )
    catalog.create_app_version(
        session, "shop", {"api": "2.0", "legacy": None, "newsvc": "1.0"}, label="2"
    )
    return session


def finding_ids(session: Session, component: str, version: str) -> list[int]:
    """Independently of the diff code: the active findings of one component version."""
    return [
        f.id
        for f in findings.list_findings(
            session, FindingFilter(component=component, version=version)
        )
    ]


def risk_of(session: Session, pairs: list[tuple[str, str]]) -> float:
    ids = [i for c, v in pairs for i in finding_ids(session, c, v)]
    return sum(finding_weights(session, ids).values())


def versions(changes: list[PackageChange]) -> set[tuple[str | None, str, str | None, str | None]]:
    return {(c.ecosystem, c.name, c.from_version, c.to_version) for c in changes}


# ---------------------------------------------------------------- version order


def test_version_sets_compare_in_their_ecosystems_order() -> None:
    assert compare_version_sets("PyPI", ["3.2.4"], ["3.2.10"]) == 1
    assert compare_version_sets("PyPI", ["2.31.0"], ["2.31.0rc1"]) == -1
    assert compare_version_sets("Maven", ["2.9.1"], ["2.14.1"]) == 1
    assert compare_version_sets("Maven", ["1.10.0"], ["1.10.0-RC1"]) == -1
    assert compare_version_sets("Go", ["v1.4.0"], ["v1.4.1"]) == 1
    # no ecosystem module: strings, which here happen to agree
    assert compare_version_sets("generic", ["1.1.1k"], ["1.1.1w"]) == 1
    assert compare_version_sets(None, ["b"], ["a"]) == -1
    # several copies: the highest decides, then the lowest: dropping an old copy upgrades
    assert compare_version_sets("npm", ["1.0.0", "2.0.0"], ["2.0.0"]) == 1
    assert compare_version_sets("npm", ["2.0.0"], ["1.0.0", "2.0.0"]) == -1
    assert compare_version_sets("npm", ["1.0.0", "2.0.0"], ["1.5.0", "2.0.0"]) == 1
    assert compare_version_sets("npm", ["1.0.0", "3.0.0"], ["2.0.0"]) == -1
    assert compare_version_sets("npm", ["1.0.0", "2.0.0"], ["2.0.0", "1.0.0"]) == 0
    # an unorderable version falls back to string order for the whole group
    assert sort_versions("npm", ["not a version!", "10.0.0", "9.0.0"]) == [
        "10.0.0",
        "9.0.0",
        "not a version!",
    ]


# ---------------------------------------------------------------- component diff


def test_component_diff_packages_vulnerabilities_and_risk(estate: Session) -> None:
    diff = component_diff(estate, "api", "1.0", "2.0")
    assert (diff.component, diff.from_version, diff.to_version) == ("api", "1.0", "2.0")
    assert versions(diff.packages_added) == {("npm", "left-pad", None, "1.3.0")}
    assert versions(diff.packages_removed) == {
        ("Go", "github.com/gorilla/websocket", "v1.4.0", None)
    }
    assert versions(diff.packages_upgraded) == {
        ("PyPI", "django", "3.2.4", "3.2.10"),
        ("Maven", "org.apache.logging.log4j:log4j-core", "2.9.1", "2.14.1"),
        ("generic", "openssl", "1.1.1k", "1.1.1w"),
        ("PyPI", "flask-cors", "3.0.9", "4.0.0"),
    }
    assert versions(diff.packages_downgraded) == {
        ("Maven", "org.apache.commons:commons-text", "1.10.0", "1.10.0-RC1"),
        ("PyPI", "requests", "2.31.0", "2.31.0rc1"),
    }
    assert diff.packages_unchanged == 1  # six
    (added,) = diff.packages_added
    assert added.purl == "pkg:npm/left-pad@1.3.0" and added.to_versions == ["1.3.0"]
    (removed,) = diff.packages_removed
    assert removed.purl == "pkg:golang/github.com/gorilla/websocket@v1.4.0"

    assert {v.vulnerability for v in diff.vulnerabilities_introduced} == {CT, RQ}
    assert {v.vulnerability for v in diff.vulnerabilities_fixed} == {DJ1, DJ2, WS}
    by_vuln = {v.vulnerability: v for v in diff.vulnerabilities_introduced}
    assert by_vuln[CT].severity == "high" and by_vuln[CT].components == ["api"]
    assert by_vuln[CT].packages == ["pkg:maven/org.apache.commons/commons-text@1.10.0-RC1"]
    # riskiest first
    risks = [v.risk for v in diff.vulnerabilities_fixed]
    assert risks == sorted(risks, reverse=True) and risks[0] > 0

    before = risk_of(estate, [("api", "1.0")])
    after = risk_of(estate, [("api", "2.0")])
    assert diff.risk_before == pytest.approx(before) and diff.risk_after == pytest.approx(after)
    assert diff.risk_delta == pytest.approx(after - before)
    # api 2.0 trades a critical (DJ-1), two highs (DJ-2, WS) for a high and a medium
    assert diff.risk_delta < 0
    assert set(diff.to_dict()) >= {"packages_upgraded", "vulnerabilities_fixed", "risk_delta"}


def test_component_diff_backwards_swaps_everything(estate: Session) -> None:
    forward = component_diff(estate, "api", "1.0", "2.0")
    back = component_diff(estate, "api", "2.0", "1.0")
    assert {c.name for c in back.packages_upgraded} == {c.name for c in forward.packages_downgraded}
    assert {c.name for c in back.packages_added} == {c.name for c in forward.packages_removed}
    assert {v.vulnerability for v in back.vulnerabilities_introduced} == {DJ1, DJ2, WS}
    assert back.risk_delta == pytest.approx(-forward.risk_delta)
    same = component_diff(estate, "api", "2.0", "2.0")
    assert not (same.packages_added or same.packages_upgraded or same.vulnerabilities_fixed)
    assert same.packages_unchanged == len(API_2) and same.risk_delta == 0.0


def test_unknown_versions_are_reported(estate: Session) -> None:
    with pytest.raises(NotFoundError):
        component_diff(estate, "api", "1.0", "9.9")
    with pytest.raises(NotFoundError):
        app_diff(estate, "shop", "1", "7")


# ---------------------------------------------------------------- application diff


def test_app_diff_components_vulnerabilities_and_risk(estate: Session) -> None:
    diff = app_diff(estate, "shop", "1", "2")
    assert (diff.application, diff.from_version, diff.to_version) == ("shop", "1", "2")
    assert [(m.component, m.version) for m in diff.components_added] == [("newsvc", "1.0")]
    assert [(m.component, m.version) for m in diff.components_removed] == [("legacy", "1.0")]
    assert [(d.component, d.from_version, d.to_version) for d in diff.components_changed] == [
        ("api", "1.0", "2.0")
    ]
    assert diff.components_unchanged == ["worker"]
    (newsvc,) = diff.components_added
    assert newsvc.packages == 2 and newsvc.vulnerabilities == sorted([DJ1, DJ2, LD])
    (legacy,) = diff.components_removed
    assert legacy.packages == 2 and legacy.vulnerabilities == sorted([WS, YAML])
    assert legacy.risk == pytest.approx(risk_of(estate, [("legacy", "1.0")]))
    # the per-component diff is the same as asking for it directly
    assert diff.components_changed[0] == component_diff(estate, "api", "1.0", "2.0")

    # over the application: DJ-1 and DJ-2 left api but came back with newsvc; YAML left with
    # legacy but stays in worker; only the websocket flaw is gone everywhere
    assert {v.vulnerability for v in diff.vulnerabilities_introduced} == {CT, RQ, LD}
    assert {v.vulnerability for v in diff.vulnerabilities_fixed} == {WS}
    (ws,) = diff.vulnerabilities_fixed
    assert ws.components == ["api", "legacy"]
    assert ws.packages == ["pkg:golang/github.com/gorilla/websocket@v1.4.0"]

    before = risk_of(estate, [("api", "1.0"), ("worker", "1.0"), ("legacy", "1.0")])
    after = risk_of(estate, [("api", "2.0"), ("worker", "1.0"), ("newsvc", "1.0")])
    assert diff.risk_before == pytest.approx(before)
    assert diff.risk_after == pytest.approx(after)
    assert diff.risk_delta == pytest.approx(after - before)
    # shop 2 holds the same findings as shop 1 but for one critical turned medium
    assert diff.risk_delta < 0


def test_settled_analysis_lowers_risk_but_not_presence(estate: Session) -> None:
    (ct,) = findings.list_findings(estate, FindingFilter(component="api", vulnerability=CT))
    baseline = app_diff(estate, "shop", "1", "2")
    findings.set_analysis(estate, [ct.id], "not_affected", justification="code_not_present")
    diff = app_diff(estate, "shop", "1", "2")
    assert CT in {v.vulnerability for v in diff.vulnerabilities_introduced}
    (ct_change,) = [v for v in diff.vulnerabilities_introduced if v.vulnerability == CT]
    assert ct_change.risk == 0.0
    lost = finding_weights(estate, [ct.id])
    assert lost[ct.id] == 0.0
    assert diff.risk_after < baseline.risk_after


def statements_of(session: Session, work: Callable[[], object], containing: str = "") -> int:
    """How many statements ``work`` runs (those that contain ``containing``)."""
    seen: list[str] = []

    def record(*args: object) -> None:
        if containing in str(args[2]):
            seen.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def test_app_diff_and_fix_plan_are_set_based(estate: Session) -> None:
    """The number of statements does not grow with the number of components."""
    small_diff = statements_of(estate, lambda: app_diff(estate, "shop", "1", "2"))
    small_plan = statements_of(estate, lambda: fix_plan(estate, "shop", "2"))
    for i in range(8):
        catalog.create_component(estate, f"extra{i}", application="shop")
        store_sbom(estate, f"extra{i}", "1", sbom("x", NEWSVC), f"x{i}-1", None)
        store_sbom(estate, f"extra{i}", "2", sbom("x", API_2), f"x{i}-2", None)
    catalog.create_app_version(estate, "shop", {f"extra{i}": "1" for i in range(8)}, label="3")
    catalog.create_app_version(estate, "shop", {f"extra{i}": "2" for i in range(8)}, label="4")
    assert len(app_diff(estate, "shop", "3", "4").components_changed) == 8
    assert statements_of(estate, lambda: app_diff(estate, "shop", "3", "4")) <= small_diff
    assert statements_of(estate, lambda: fix_plan(estate, "shop", "4")) <= small_plan


# ---------------------------------------------------------------- fix plan


def test_fix_plan_orders_by_risk_cleared_and_keeps_unfixable_open(estate: Session) -> None:
    plan = fix_plan(estate, "shop")  # the latest version: 2
    assert (plan.application, plan.version) == ("shop", "2")
    assert [c.component for c in plan.components] == ["newsvc", "api", "worker"]
    by_name = {c.component: c for c in plan.components}

    newsvc = by_name["newsvc"]
    assert [(u.package, u.installed, u.target) for u in newsvc.upgrades] == [
        ("django", ["3.2.4"], "3.2.10"),  # the highest fix, in PEP 440 order (not "3.2.6")
        ("lodash", ["4.17.15"], "4.17.21"),
    ]
    django = newsvc.upgrades[0]
    assert django.vulnerabilities == sorted([DJ1, DJ2])
    assert django.advisories == ["DJ-1", "DJ-2"]
    assert newsvc.open == []

    api = by_name["api"]
    assert [(u.ecosystem, u.package, u.target) for u in api.upgrades] == [
        ("Maven", "org.apache.logging.log4j:log4j-core", "2.15.0"),
        ("Maven", "org.apache.commons:commons-text", "1.10.0"),
        ("PyPI", "requests", "2.31.0"),
    ]
    assert [(o.package, o.vulnerability, o.advisories) for o in api.open] == [("six", SIX, ["SIX"])]
    assert [(o.package, o.vulnerability) for o in by_name["worker"].open] == [("six", SIX)]
    assert [u.package for u in by_name["worker"].upgrades] == ["pyyaml"]

    for comp in plan.components:
        cleared = [u.risk_cleared for u in comp.upgrades]
        assert cleared == sorted(cleared, reverse=True)
        assert comp.risk == pytest.approx(comp.risk_cleared + comp.risk_open)
        weights = finding_weights(estate, [i for u in comp.upgrades for i in u.findings])
        for u in comp.upgrades:
            assert u.risk_cleared == pytest.approx(sum(weights[i] for i in u.findings))
    assert plan.risk == pytest.approx(
        risk_of(estate, [("api", "2.0"), ("worker", "1.0"), ("newsvc", "1.0")])
    )
    assert plan.risk_open == pytest.approx(sum(c.risk_open for c in plan.components))
    assert plan.to_dict()["components"][0]["upgrades"][0]["target"] == "3.2.10"


def test_fix_plan_targets_really_clear_every_fixable_finding(estate: Session) -> None:
    plan = fix_plan(estate, "shop", "2")
    for comp in plan.components:
        cv = catalog.get_component_version(estate, comp.component, comp.version)
        held = {
            f.package: f.purl
            for f in findings.list_findings(
                estate, FindingFilter(component=comp.component, version=comp.version)
            )
        }
        purls = [
            p
            for p in {"api": API_2, "worker": WORKER, "newsvc": NEWSVC}[comp.component]
            if p not in {held.get(u.package) for u in comp.upgrades}
        ]
        for u in comp.upgrades:
            eco = get_ecosystem(u.ecosystem or "")
            fixes = estate.scalars(select(Finding.fixed_version).where(Finding.id.in_(u.findings)))
            assert all(eco.compare(f or "", u.target) <= 0 for f in fixes)
            old = held[u.package]
            purls.append(old.rsplit("@", 1)[0] + "@" + u.target)
        # rebuild the component at the targets: only the unfixable findings remain
        store_sbom(
            estate, comp.component, "fixed", sbom(comp.component, purls), f"{cv.id}-fx", None
        )
        left = findings.list_findings(
            estate, FindingFilter(component=comp.component, version="fixed")
        )
        assert {f.vulnerability for f in left} == {o.vulnerability for o in comp.open}


def test_fix_plan_leaves_settled_findings_out(estate: Session) -> None:
    (l4j,) = findings.list_findings(
        estate, FindingFilter(component="api", version="2.0", vulnerability=L4J)
    )
    findings.set_analysis(estate, [l4j.id], "false_positive")
    plan = fix_plan(estate, "shop", "2")
    api = next(c for c in plan.components if c.component == "api")
    assert "org.apache.logging.log4j:log4j-core" not in {u.package for u in api.upgrades}
    older = fix_plan(estate, "shop", "1")
    assert {c.component for c in older.components} == {"api", "worker", "legacy"}
    legacy = next(c for c in older.components if c.component == "legacy")
    assert [(u.package, u.target) for u in legacy.upgrades] == [
        ("pyyaml", "5.4"),  # a critical before a high
        ("github.com/gorilla/websocket", "v1.4.1"),
    ]


# ---------------------------------------------------------------- a real two-version estate


@pytest.mark.shared
def test_online_boutique_v030_to_latest(session: Session, shared_data: Path) -> None:
    boutique = shared_data / "apps" / "online-boutique"
    session.add(Application(key="system:default/online-boutique", name="online-boutique"))
    session.flush()
    releases = {"0.3.0": boutique / "v0.3.0" / "src", "latest": boutique / "latest" / "src"}
    services: dict[str, set[str]] = {}
    for version, src in releases.items():
        services[version] = {p.name for p in src.iterdir() if p.is_dir()}
        for service in sorted(services[version]):
            catalog.create_component(session, service, application="online-boutique")
            sbom_from_manifest_paths(session, service, version, [src / service])
    osv = shared_data / "osv"
    import_advisories(session, [osv / "PyPI", osv / "Go", osv / "Maven"])
    for version in releases:
        catalog.create_app_version(
            session,
            "online-boutique",
            {s: version for s in services[version]},
            label=version,
        )

    diff = app_diff(session, "online-boutique", "0.3.0", "latest")
    assert {m.component for m in diff.components_added} == services["latest"] - services["0.3.0"]
    assert {m.component for m in diff.components_added} == {"shoppingassistantservice"}
    assert diff.components_removed == []
    assert {d.component for d in diff.components_changed} == services["0.3.0"]
    changed = {d.component: d for d in diff.components_changed}

    # adservice: log4j-core 2.13.3 is upgraded to 2.26.1, opencensus is gone (the corpus
    # here holds no Log4j record, so no vulnerability moves with it)
    ad = changed["adservice"]
    log4j = [c for c in ad.packages_upgraded if c.name == "org.apache.logging.log4j:log4j-core"]
    assert [(c.from_version, c.to_version) for c in log4j] == [("2.13.3", "2.26.1")]
    assert "io.opencensus:opencensus-impl" in {c.name for c in ad.packages_removed}

    # frontend's Go modules move forward, never back, even where string order says back
    front = changed["frontend"]
    go_up = {c.name: (c.from_version, c.to_version) for c in front.packages_upgraded}
    assert go_up["google.golang.org/grpc"] == ("v1.22.0", "v1.83.0")
    assert go_up["cloud.google.com/go"] == ("v0.40.0", "v0.123.0")  # "v0.123.0" < "v0.40.0"
    assert go_up["google.golang.org/api"][1] == "v0.274.0"
    assert not [c for c in front.packages_downgraded if c.ecosystem == "Go"]
    # urllib3 1.25.10 (CVE-2023-43804, fixed in 1.26.17) leaves emailservice
    email = changed["emailservice"]
    assert "CVE-2023-43804" in {v.vulnerability for v in email.vulnerabilities_fixed}
    assert "urllib3" in {c.name for c in email.packages_upgraded + email.packages_removed}

    # every upgrade and downgrade agrees with the ecosystem's own order, computed here
    checked = 0
    for d in diff.components_changed:
        for change, sign in [(c, 1) for c in d.packages_upgraded] + [
            (c, -1) for c in d.packages_downgraded
        ]:
            if (
                change.ecosystem in ("PyPI", "Go", "Maven", "npm")
                and len(change.from_versions) == 1
            ):
                eco = get_ecosystem(change.ecosystem)
                assert eco.compare(change.to_version or "", change.from_version or "") == sign
                checked += 1
    assert checked > 200
    # npm services that stop bundling an old copy next to the new one have upgraded it
    currency = changed["currencyservice"]
    chownr = next(c for c in currency.packages_upgraded if c.name == "chownr")
    assert (chownr.from_versions, chownr.to_versions) == (["1.1.4", "2.0.0"], ["2.0.0"])

    # the vulnerabilities fixed and introduced, computed independently
    def active(version: str) -> list[Finding]:
        return list(
            session.scalars(
                select(Finding)
                .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
                .where(ComponentVersion.version == version, Finding.active.is_(True))
            )
        )

    old = {f.vulnerability for f in active("0.3.0")}
    new = {f.vulnerability for f in active("latest")}
    assert {v.vulnerability for v in diff.vulnerabilities_fixed} == old - new
    assert {v.vulnerability for v in diff.vulnerabilities_introduced} == new - old
    assert len(old - new) > 10 * len(new - old) > 0

    def risk(version: str) -> float:
        return sum(finding_weights(session, [f.id for f in active(version)]).values())

    assert diff.risk_before == pytest.approx(risk("0.3.0"))
    assert diff.risk_after == pytest.approx(risk("latest"))
    assert diff.risk_delta == pytest.approx(risk("latest") - risk("0.3.0"))
    assert diff.risk_delta < 0

    # fix plan of the old release: golang.org/x/net clears the most in each Go service, and
    # every target is at or beyond each fix it claims
    plan = fix_plan(session, "online-boutique", "0.3.0")
    assert plan.risk_cleared > 0 and plan.risk == pytest.approx(risk("0.3.0"))
    by_name = {c.component: c for c in plan.components}
    for service in ("frontend", "checkoutservice", "productcatalogservice", "shippingservice"):
        top = by_name[service].upgrades[0]
        assert (top.package, top.target[:1]) == ("golang.org/x/net", "v")
    fixed_of = {f.id: f.fixed_version for f in active("0.3.0")}
    for comp in plan.components:
        for u in comp.upgrades:
            eco = get_ecosystem(u.ecosystem or "")
            assert all(eco.compare(fixed_of[i] or "", u.target) <= 0 for i in u.findings)
    # the latest release: what stays open is exactly the findings no version fixes yet
    latest = fix_plan(session, "online-boutique")
    assert latest.version == "latest"
    unfixable = {
        (f.vulnerability, f.id)
        for f in active("latest")
        if f.fixed_version is None and f.state == "open"
    }
    assert {(o.vulnerability, o.finding) for c in latest.components for o in c.open} == unfixable


# ---------------------------------------------------------------- shortcuts keep the result


def test_same_versions_in_another_order_are_unchanged(estate: Session) -> None:
    """A package held at the same versions on both sides is unchanged without being ordered:
    several copies listed in another order, or versions no ecosystem orders, included; the
    same version spelled differently still counts as an upgrade."""
    catalog.create_component(estate, "multi", application="shop")
    one = ["pkg:npm/lodash@4.17.15", "pkg:npm/lodash@4.17.21", "pkg:npm/weird@not a version!"]
    one += ["pkg:pypi/attrs@1.0", "pkg:npm/odd@nope 1"]
    two = ["pkg:pypi/attrs@1.0.0", "pkg:npm/weird@not a version!", "pkg:npm/lodash@4.17.21"]
    two += ["pkg:npm/lodash@4.17.15", "pkg:npm/odd@nope 2"]
    store_sbom(estate, "multi", "1", sbom("multi", one), "multi-1", None)
    store_sbom(estate, "multi", "2", sbom("multi", two), "multi-2", None)
    for _ in range(2):  # the second time, every version key comes from the memo
        diff = component_diff(estate, "multi", "1", "2")
        assert diff.packages_unchanged == 2  # lodash (both copies), weird
        assert versions(diff.packages_upgraded) == {
            ("PyPI", "attrs", "1.0", "1.0.0"),
            ("npm", "odd", "nope 1", "nope 2"),  # string order
        }
        assert not (diff.packages_added or diff.packages_removed or diff.packages_downgraded)
        assert sort_versions("npm", ["not a version!", "10.0.0", "9.0.0"]) == [
            "10.0.0",
            "9.0.0",
            "not a version!",
        ]
        assert compare_version_sets("npm", ["9.0.0"], ["10.0.0"]) == 1


def test_unchanged_members_still_count_in_the_application(estate: Session) -> None:
    """worker is the same version in shop 1 and 2: not compared package by package, but its
    findings keep YAML present (not fixed) and its risk is in both sides' totals."""
    diff = app_diff(estate, "shop", "1", "2")
    assert diff.components_unchanged == ["worker"]
    assert "worker" not in {d.component for d in diff.components_changed}
    assert YAML not in {v.vulnerability for v in diff.vulnerabilities_fixed}
    worker = risk_of(estate, [("worker", "1.0")])
    assert worker > 0
    changed_only = risk_of(estate, [("api", "2.0"), ("newsvc", "1.0")]) - risk_of(
        estate, [("api", "1.0"), ("legacy", "1.0")]
    )
    assert diff.risk_delta == pytest.approx(changed_only)
    assert diff.risk_before == pytest.approx(
        worker + risk_of(estate, [("api", "1.0"), ("legacy", "1.0")])
    )


def _link(session: Session, consumer: str, provider: str) -> None:
    """``consumer`` calls an API that ``provider`` provides."""
    keys = {name: key for name, key in session.execute(select(Component.name, Component.key))}
    api = f"api:default/{provider}-api"
    if not session.scalars(select(Relation).where(Relation.target_key == api)).first():
        session.add(Relation(source_key=keys[provider], type="providesApi", target_key=api))
    session.add(Relation(source_key=keys[consumer], type="consumesApi", target_key=api))
    session.flush()


def test_service_graph_is_kept_while_the_revision_stands(db_url: str, tmp_path: Path) -> None:
    """The risk weights' service graph is read once per data revision: a later transaction
    reads no link, a committed change to the links (from another Store) is seen, and a
    transaction's own uncommitted links count for it alone."""
    reader, writer = Store(db_url), Store(db_url)

    def links_read(session: Session, work: Callable[[], object]) -> int:
        return statements_of(session, work, "relations")

    def expected(session: Session, pairs: list[tuple[str, str]]) -> float:
        return risk_of(session, pairs)  # finding_weights reads the whole graph afresh

    shop_2 = [("api", "2.0"), ("worker", "1.0"), ("newsvc", "1.0")]
    try:
        with reader.session() as s:
            build_shop(s, tmp_path)
        with reader.session() as s:
            assert links_read(s, lambda: app_diff(s, "shop", "1", "2")) == 1
            alone = app_diff(s, "shop", "1", "2").risk_after
            assert alone == pytest.approx(expected(s, shop_2))
        with reader.session() as s:
            assert links_read(s, lambda: app_diff(s, "shop", "1", "2")) == 0  # kept
            assert app_diff(s, "shop", "1", "2").risk_after == alone
        with writer.session() as s:
            _link(s, "worker", "api")
            _link(s, "newsvc", "api")
        with reader.session() as s:
            assert links_read(s, lambda: app_diff(s, "shop", "1", "2")) == 1  # moved on
            consumed = app_diff(s, "shop", "1", "2").risk_after
            assert consumed == pytest.approx(expected(s, shop_2)) and consumed > alone
        with pytest.raises(RuntimeError), reader.session() as s:
            _link(s, "api", "worker")  # uncommitted: read afresh, kept by no one
            own = app_diff(s, "shop", "1", "2").risk_after
            assert own == pytest.approx(expected(s, shop_2)) and own > consumed
            raise RuntimeError("rolled back")
        with reader.session() as s:
            assert links_read(s, lambda: app_diff(s, "shop", "1", "2")) == 0
            assert app_diff(s, "shop", "1", "2").risk_after == consumed
    finally:
        reader.dispose()
        writer.dispose()
