"""Kubernetes in: deployments, versions, runtime facts and platforms, set-based, idempotent,
all-or-nothing. Small hand-written manifests always; Online Boutique and Sock Shop when
../shared/data is there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshward.errors import ConflictError, MeshwardError
from meshward.formats.k8s import K8sRead, read_manifests
from meshward.formats.k8s.reader import read_text
from meshward.formats.k8s.rules import MappingRules, parse_rules
from meshward.limits import Limits
from meshward.services import catalog
from meshward.services.k8s_import import ImportResult, import_k8s, parse_label_selector
from meshward.store.auth_models import AuditEvent
from meshward.store.db import Store
from meshward.store.models import Component, ComponentVersion, Deployment
from meshward.store.threat_models import Platform, RuntimeFact
from tests.formats.k8s.test_real_manifests import BOUTIQUE as BOUTIQUE_WORKLOADS

FIXTURES = Path(__file__).resolve().parents[1] / "formats" / "k8s" / "fixtures"
SHOP = (FIXTURES / "shop.yaml").read_text()
DB_DIGEST = "sha256:4aea012537edfad80f98d870a36e6b90b4c09b27be7f4b4759d72db863baeebb"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULES = parse_rules(
    "rules:\n  - image: registry.acme.example:5000/shop/{name}\n    strip_prefix: v\n",
    "rules.yaml",
    Limits(),
)


def _read(*texts: str) -> K8sRead:
    read = K8sRead()
    for i, text in enumerate(texts):
        read_text(text.encode(), f"m{i}.yaml", Limits(), read, "default")
    return read


def _without(text: str, kind: str, name: str) -> str:
    docs = text.split("\n---\n")
    keep = [d for d in docs if not (f"kind: {kind}\n" in d and f"name: {name}\n" in d)]
    assert len(keep) == len(docs) - 1
    return "\n---\n".join(keep)


@pytest.fixture
def shop(session: Session) -> Session:
    for name in ("web", "db", "report"):
        catalog.create_component(session, name)
    catalog.add_component_version(session, "db", "16.2", digest=DB_DIGEST)
    report = catalog.get_component(session, "report")
    report.annotations = {"backstage.io/kubernetes-label-selector": "app=report"}
    session.flush()
    return session


def _import(session: Session, read: K8sRead, at: datetime = T0, **kw: Any) -> ImportResult:
    rules = kw.pop("rules", RULES)
    return import_k8s(session, read, "prod", rules, source=kw.pop("source", "k8s"), now=at, **kw)


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _facts(session: Session, component: str) -> dict[str, Any]:
    comp = catalog.get_component(session, component)
    rows = session.execute(
        select(RuntimeFact.key, RuntimeFact.value).where(RuntimeFact.component_id == comp.id)
    ).all()
    return dict(rows)


def _platforms(session: Session) -> dict[str, tuple[str | None, list[str]]]:
    return {p.name: (p.namespace, p.capabilities) for p in session.scalars(select(Platform))}


def test_import_records_versions_deployments_facts_and_platforms(shop: Session) -> None:
    result = _import(shop, _read(SHOP))
    assert result.workloads == 4 and result.containers == 5
    assert {(m["component"], m["version"], m["by"]) for m in result.mapped} == {
        ("web", "1.4.0", "rule 0"),
        ("db", "16.2", "digest"),
        ("report", "2.0.1", "backstage"),
    }
    assert sorted(result.versions_created, key=lambda v: v["component"]) == [
        {
            "component": "report",
            "version": "2.0.1",
            "image": "registry.acme.example:5000/shop/report:2.0.1",
        },
        {
            "component": "web",
            "version": "1.4.0",
            "image": "registry.acme.example:5000/shop/web:v1.4.0",
        },
    ]
    web_cv = catalog.get_component_version(shop, "web", "1.4.0")
    assert web_cv.image_ref == "registry.acme.example:5000/shop/web:v1.4.0"
    assert sorted((u["workload"], u["container"], u["reason"]) for u in result.unmapped) == [
        ("shop/Deployment/web", "migrate", "no component 'web-migrate' in the catalog"),
        ("shop/Pod/debug", "shell", "no rule, Backstage annotation or known digest matches"),
    ]
    running = catalog.list_deployments(shop, "prod", at=T0)
    assert sorted((d.component, d.version, d.since) for d in running) == [
        ("db", "16.2", "2026-11-01T12:00:00Z"),
        ("report", "2.0.1", "2026-11-01T12:00:00Z"),
        ("web", "1.4.0", "2026-11-01T12:00:00Z"),
    ]
    web = _facts(shop, "web")
    assert web["namespace"] == "shop" and web["workload"] == "Deployment/web"
    assert web["service_account"] == "web" and web["services"] == ["web"]
    assert web["internet_facing"] is True
    assert web["ingress"] == [
        {
            "via": "istio-gateway",
            "gateway": "shop/shop-gateway",
            "hosts": ["shop.acme.example"],
            "route": "shop/web-public",
        }
    ]
    assert web["mtls_mode"] == "STRICT" and web["network_isolated"] is False
    assert web["authorization_policies"] == [
        "shop/deny-by-default (ALLOW)",
        "shop/web-from-gateway (ALLOW)",
    ]
    assert web["security_context"] == {
        "run_as_non_root": True,
        "run_as_user": 1000,
        "privileged": None,
        "read_only_root_filesystem": True,
        "allow_privilege_escalation": False,
        "capabilities_add": [],
        "capabilities_drop": ["ALL"],
        "host_network": False,
    }
    assert "cluster" not in web
    report = _facts(shop, "report")
    assert report["internet_facing"] is False and report["network_isolated"] is True
    assert report["security_context"]["privileged"] is True
    assert _facts(shop, "db")["destination_tls"] == ["shop/db-tls: ISTIO_MUTUAL"]
    assert _platforms(shop) == {
        "istio:prod": (None, ["mtls"]),
        "istio:prod/shop": ("shop", ["authz_policy"]),
        "kubernetes:prod/shop": ("shop", ["network_policy"]),
    }
    env = catalog.get_environment(shop, "prod")
    assert {p.environment_id for p in shop.scalars(select(Platform))} == {env.id}
    assert result.facts_written == 3 * 13 and result.facts_removed == 0
    actions = shop.scalars(select(AuditEvent.action)).all()
    assert "k8s.import" in actions and "deployment.create" in actions


def test_the_same_import_again_changes_nothing(shop: Session) -> None:
    _import(shop, _read(SHOP))
    events = _count(shop, AuditEvent)
    facts = shop.execute(select(RuntimeFact.id, RuntimeFact.observed_at)).all()
    again = _import(shop, _read(SHOP), T0 + timedelta(hours=1))
    assert not again.changed
    assert again.deployments_unchanged == 3
    assert again.facts_written == again.facts_removed == 0 and again.platforms == []
    assert _count(shop, AuditEvent) == events
    assert shop.execute(select(RuntimeFact.id, RuntimeFact.observed_at)).all() == facts


def test_dry_run_reports_and_changes_nothing(shop: Session) -> None:
    before = [_count(shop, m) for m in (Deployment, ComponentVersion, RuntimeFact, Platform)]
    result = _import(shop, _read(SHOP), dry_run=True)
    assert result.dry_run and result.changed and len(result.deployments_started) == 3
    assert [
        _count(shop, m) for m in (Deployment, ComponentVersion, RuntimeFact, Platform)
    ] == before


def test_new_versions_move_deployments_on_and_removals_end_them(shop: Session) -> None:
    _import(shop, _read(SHOP))
    later = T0 + timedelta(days=1)
    newer = SHOP.replace("shop/web:v1.4.0", "shop/web:v1.5.0")
    result = _import(shop, _read(_without(newer, "CronJob", "report")), later, cluster="eu-1")
    assert result.deployments_started == [
        {
            "component": "web",
            "version": "1.5.0",
            "previous": "1.4.0",
            "workload": "shop/Deployment/web",
        }
    ]
    assert result.deployments_ended == [{"component": "report", "version": "2.0.1"}]
    assert result.facts_removed == 13  # report's facts are gone with it
    history = catalog.list_deployments(shop, "prod", history=True, component="web")
    assert [(d.version, d.since, d.until) for d in history] == [
        ("1.4.0", "2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z"),
        ("1.5.0", "2026-11-02T12:00:00Z", None),
    ]
    assert {d.component for d in catalog.list_deployments(shop, "prod", at=later)} == {"web", "db"}
    assert _facts(shop, "web")["cluster"] == "eu-1"
    assert _facts(shop, "report") == {}


def test_no_prune_keeps_what_the_import_no_longer_shows(shop: Session) -> None:
    _import(shop, _read(SHOP))
    later = T0 + timedelta(days=1)
    result = _import(shop, _read(_without(SHOP, "CronJob", "report")), later, prune=False)
    assert result.deployments_ended == []
    assert {d.component for d in catalog.list_deployments(shop, "prod", at=later)} == {
        "web",
        "db",
        "report",
    }


def test_a_deployment_recorded_by_hand_is_not_pruned(shop: Session) -> None:
    catalog.create_component(shop, "legacy")
    catalog.add_component_version(shop, "legacy", "1.0")
    catalog.record_deployment(shop, "prod", "legacy", "1.0", T0 - timedelta(days=3))
    _import(shop, _read(SHOP))
    assert "legacy" in {d.component for d in catalog.list_deployments(shop, "prod", at=T0)}


def test_a_downgraded_mesh_takes_the_capability_away(shop: Session) -> None:
    _import(shop, _read(SHOP))
    permissive = SHOP.replace("mode: STRICT", "mode: PERMISSIVE")
    result = _import(shop, _read(permissive), T0 + timedelta(hours=1))
    assert result.platforms == [{"name": "istio:prod", "before": ["mtls"], "after": []}]
    assert _platforms(shop)["istio:prod"] == (None, [])
    assert _facts(shop, "web")["mtls_mode"] == "PERMISSIVE"
    assert None in result.affected_domains
    back = _import(shop, _read(SHOP), T0 + timedelta(hours=2))
    assert back.platforms == [{"name": "istio:prod", "before": [], "after": ["mtls"]}]
    assert _count(shop, Platform) == 3


def test_a_failed_import_changes_nothing(store: Store) -> None:
    """One transaction: a platform name taken by a declared platform fails the import after
    versions, deployments and facts were written, and none of them stays."""
    with store.session() as s:
        for name in ("web", "db", "report"):
            catalog.create_component(s, name)
        env = catalog.ensure_environment(s, "prod")
        s.add(Platform(name="istio:prod", capabilities=["mtls"], environment_id=env.id))
    models = (Deployment, ComponentVersion, RuntimeFact, AuditEvent, Platform)
    with store.session() as s:
        before = [_count(s, m) for m in models]
    with pytest.raises(ConflictError, match="istio:prod"), store.session() as s:
        _import(s, _read(SHOP))
    with store.session() as s:
        assert [_count(s, m) for m in models] == before
        assert _platforms(s) == {"istio:prod": (None, ["mtls"])}


def test_backstage_kubernetes_id_and_mesh_sidecars(session: Session) -> None:
    cart = catalog.create_component(session, "cart")
    cart.annotations = {"backstage.io/kubernetes-id": "cart"}
    other = catalog.create_component(session, "cart-ui")
    other.annotations = {
        "backstage.io/kubernetes-id": "cart",
        "backstage.io/kubernetes-namespace": "web",  # only in another namespace
    }
    session.flush()
    read = read_manifests([FIXTURES / "kubectl-get.json"], Limits())
    result = _import(session, read, rules=MappingRules())
    assert [(m["component"], m["version"], m["by"]) for m in result.mapped] == [
        ("cart", "3.1.0", "backstage")
    ]
    assert result.sidecars == 1
    assert sorted(u["workload"] for u in result.unmapped) == [
        "ops/CronJob/nightly",
        "ops/DaemonSet/node-agent",
    ]
    assert _facts(session, "cart")["mtls_mode"] == "PERMISSIVE"  # an Istio sidecar, no policy


def test_two_versions_of_one_component_are_reported(shop: Session) -> None:
    canary = SHOP.split("\n---\n")[2].replace("name: web\n", "name: web-canary\n", 1)
    canary = canary.replace("shop/web:v1.4.0", "shop/web:v1.5.0-rc1")
    result = _import(shop, _read(SHOP, canary))
    assert [d["version"] for d in result.deployments_started if d["component"] == "web"] == [
        "1.4.0"
    ]
    assert any("runs as versions 1.4.0, 1.5.0-rc1" in w for w in result.warnings)


def test_label_selectors() -> None:
    selector = parse_label_selector("app=cart, tier!=db,env==prod")
    assert selector is not None
    assert selector.matches({"app": "cart", "env": "prod"})
    assert not selector.matches({"app": "cart", "env": "prod", "tier": "db"})
    assert parse_label_selector("app in (a,b)") is None


# ---------------------------------------------------------------- real manifests

BOUTIQUE = sorted(BOUTIQUE_WORKLOADS)
BOUTIQUE_RULES = parse_rules(
    """
rules:
  - image: us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/{name}
    strip_prefix: v
  - image: gcr.io/google-samples/microservices-demo/{name}
    strip_prefix: v
  - image: redis
    component: redis-cart
  - image: busybox
    component: "{workload}"
""",
    "boutique-rules.yaml",
    Limits(),
)
REGISTRY_V030 = "gcr.io/google-samples/microservices-demo"
STRICT_MESH = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
"""


def _v030_release(base: Path) -> str:
    """The v0.3.0 release manifest with each image named as upstream names it: the shared
    copy has ``gcr.io/google-samples/microservices-demo/*`` in every image (even Redis's)."""
    docs = (base / "release" / "kubernetes-manifests.yaml").read_text().split("\n---\n")
    restored = []
    for doc in docs:
        found = re.search(r"^  name: (\S+)$", doc, re.MULTILINE)
        name = found[1] if found else "?"
        image = "redis:alpine" if name == "redis-cart" else f"{REGISTRY_V030}/{name}:v0.3.0"
        restored.append(doc.replace(f"{REGISTRY_V030}/*:v0.3.0", image))
    return "\n---\n".join(restored)


@pytest.mark.shared
def test_online_boutique_v0_3_0_then_latest(session: Session, shared_data: Path) -> None:
    boutique = shared_data / "apps" / "online-boutique"
    if not boutique.is_dir():
        pytest.skip("no online-boutique in ../shared/data")
    for name in BOUTIQUE:
        catalog.create_component(session, name)
    v030 = boutique / "v0.3.0"
    old = _read(
        _v030_release(v030), (v030 / "release" / "istio-manifests.yaml").read_text(), STRICT_MESH
    )
    first = _import(session, old, rules=BOUTIQUE_RULES)
    assert first.unmapped == []
    assert sorted(d["component"] for d in first.deployments_started) == BOUTIQUE
    assert {d["version"] for d in first.deployments_started} == {"0.3.0", "alpine"}
    frontend = _facts(session, "frontend")
    assert frontend["internet_facing"] is True
    assert {(e["via"], e["gateway"]) for e in frontend["ingress"]} == {
        ("istio-gateway", "default/frontend-gateway"),
        ("load-balancer", "default/frontend-external"),
    }
    assert sum(_facts(session, n)["internet_facing"] for n in BOUTIQUE) == 1
    assert _facts(session, "cartservice")["mtls_mode"] == "STRICT"
    assert _platforms(session) == {"istio:prod": (None, ["mtls"])}

    latest = boutique / "latest" / "release"
    later = T0 + timedelta(days=30)
    new = _read(*(p.read_text() for p in sorted(latest.glob("*.yaml"))), STRICT_MESH)
    second = _import(session, new, later, rules=BOUTIQUE_RULES)
    moved = {d["component"]: (d["previous"], d["version"]) for d in second.deployments_started}
    assert moved == {n: ("0.3.0", "0.10.6") for n in BOUTIQUE if n != "redis-cart"}
    assert second.deployments_unchanged == 1  # redis:alpine both times
    assert {v["version"] for v in second.versions_created} == {"0.10.6"}
    assert [u["container"] for u in second.unmapped] == []
    assert [(e["via"], e["gateway"]) for e in _facts(session, "frontend")["ingress"]] == [
        ("gateway-api", "default/istio-gateway"),
        ("load-balancer", "default/frontend-external"),
    ]

    gone = _read(
        _without((latest / "kubernetes-manifests.yaml").read_text(), "Deployment", "adservice"),
        (latest / "istio-manifests.yaml").read_text(),
    )
    third = _import(session, gone, later + timedelta(days=1), rules=BOUTIQUE_RULES)
    assert third.deployments_ended == [{"component": "adservice", "version": "0.10.6"}]
    assert third.platforms == [{"name": "istio:prod", "before": ["mtls"], "after": []}]
    running = {
        d.component for d in catalog.list_deployments(session, "prod", at=later + timedelta(days=2))
    }
    assert running == set(BOUTIQUE) - {"adservice"}


@pytest.mark.shared
def test_sock_shop_with_rules(session: Session, shared_data: Path) -> None:
    kube = shared_data / "apps" / "sock-shop" / "deploy" / "kubernetes"
    if not kube.is_dir():
        pytest.skip("no sock-shop in ../shared/data")
    services = [
        "carts",
        "catalogue",
        "front-end",
        "orders",
        "payment",
        "queue-master",
        "shipping",
        "user",
    ]
    for name in services:
        catalog.create_component(session, name)
    rules = parse_rules("rules:\n  - image: weaveworksdemos/{name}\n", "sock-rules.yaml", Limits())
    read = read_manifests([kube / "manifests", kube / "manifests-policy"], Limits())
    result = import_k8s(session, read, "staging", rules, source="k8s:sock", now=T0)
    assert sorted((d["component"], d["version"]) for d in result.deployments_started) == [
        ("carts", "0.4.8"),
        ("catalogue", "0.3.5"),
        ("front-end", "0.3.12"),
        ("orders", "0.4.7"),
        ("payment", "0.4.3"),
        ("queue-master", "0.3.1"),
        ("shipping", "0.4.8"),
        ("user", "0.4.7"),
    ]
    unmapped = {u["image"]: u["reason"] for u in result.unmapped}
    assert unmapped["weaveworksdemos/user-db:0.3.0"] == "no component 'user-db' in the catalog"
    assert "mongo" in unmapped and "rabbitmq:3.6.8-management" in unmapped
    assert len(result.unmapped) == 7
    assert _facts(session, "carts")["namespace"] == "sock-shop"
    assert _facts(session, "carts")["network_isolated"] is True
    assert _facts(session, "front-end")["network_isolated"] is False
    assert _platforms(session) == {
        "kubernetes:staging/sock-shop": ("sock-shop", ["network_policy"])
    }
    assert session.scalar(select(func.count()).select_from(Component)) == len(services)


def test_a_late_import_keeps_the_history_without_overlaps(shop: Session) -> None:
    catalog.add_component_version(shop, "web", "1.3.0")
    catalog.record_deployment(shop, "prod", "web", "1.3.0", T0 + timedelta(days=5))
    result = _import(shop, _read(SHOP))  # what ran at T0, imported afterwards
    assert {"component": "web", "version": "1.4.0", "previous": None} in [
        {k: d[k] for k in ("component", "version", "previous")} for d in result.deployments_started
    ]
    history = catalog.list_deployments(shop, "prod", history=True, component="web")
    assert [(d.version, d.since, d.until) for d in history] == [
        ("1.4.0", "2026-11-01T12:00:00Z", "2026-11-06T12:00:00Z"),
        ("1.3.0", "2026-11-06T12:00:00Z", None),
    ]


def test_two_sources_in_one_environment(shop: Session) -> None:
    """Each source prunes only what it showed; a fact of a component both show is the newest."""
    _import(shop, _read(SHOP), source="k8s:eu-1", cluster="eu-1")
    report_only = "\n---\n".join(
        d for d in SHOP.split("\n---\n") if "kind: CronJob" in d or "kind: Namespace" in d
    )
    result = _import(
        shop, _read(report_only), T0 + timedelta(hours=1), source="k8s:us-1", cluster="us-1"
    )
    assert result.deployments_ended == []  # web and db were never us-1's to end
    assert _facts(shop, "report")["cluster"] == "us-1"
    assert _facts(shop, "web")["cluster"] == "eu-1"
    sources = dict(
        shop.execute(
            select(RuntimeFact.key, RuntimeFact.source).where(
                RuntimeFact.component_id == catalog.get_component(shop, "report").id
            )
        ).all()
    )
    assert set(sources.values()) == {"k8s:us-1"}
    gone = _import(
        shop,
        _read(_without(SHOP, "CronJob", "report")),
        T0 + timedelta(hours=2),
        source="k8s:eu-1",
        cluster="eu-1",
    )
    assert gone.deployments_ended == []  # report is us-1's now


def test_an_input_without_workloads_is_refused_when_pruning(shop: Session) -> None:
    _import(shop, _read(SHOP))
    nothing = _read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(MeshwardError, match="no workload found"):
        _import(shop, nothing, T0 + timedelta(hours=1))
    kept = _import(shop, nothing, T0 + timedelta(hours=1), prune=False)
    assert kept.deployments_ended == [] and kept.facts_removed == 0  # partial: all kept
    assert _facts(shop, "web")["namespace"] == "shop"
