"""Online Boutique's and Sock Shop's real Kubernetes and Istio manifests (../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshward.formats.k8s import mesh_facts, platform_grants, read_manifests
from meshward.limits import Limits

pytestmark = pytest.mark.shared

BOUTIQUE = {
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "emailservice",
    "frontend",
    "loadgenerator",
    "paymentservice",
    "productcatalogservice",
    "recommendationservice",
    "redis-cart",
    "shippingservice",
}


@pytest.fixture
def apps(shared_data: Path) -> Path:
    path = shared_data / "apps"
    if not (path / "online-boutique").is_dir():
        pytest.skip("no apps/online-boutique in ../shared/data")
    return path


def test_online_boutique_latest_release(apps: Path) -> None:
    release = apps / "online-boutique" / "latest" / "release"
    read = read_manifests([release], Limits())
    assert {w.name for w in read.workloads} == BOUTIQUE
    assert {w.kind for w in read.workloads} == {"Deployment"}
    images = {c.ref.name for w in read.workloads for c in w.containers if c.ref}
    assert "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend" in images
    assert all(c.ref is not None for w in read.workloads for c in w.containers)
    facts = mesh_facts(read)
    frontend = facts["default/Deployment/frontend"]
    assert [(e.via, e.gateway) for e in frontend.exposures] == [
        ("gateway-api", "default/istio-gateway"),
        ("load-balancer", "default/frontend-external"),
    ]
    assert [f for f in facts.values() if f.internet_facing] == [frontend]
    assert frontend.mtls_mode == "PERMISSIVE"  # a mesh, and no PeerAuthentication: Istio's default
    server = next(w for w in read.workloads if w.name == "frontend").containers[0].security
    assert (server.run_as_non_root, server.read_only_root_filesystem, server.privileged) == (
        True,
        True,
        False,
    )
    assert platform_grants(read, facts) == []


def test_online_boutique_v0_3_0_istio_gateway(apps: Path) -> None:
    base = apps / "online-boutique" / "v0.3.0"
    read = read_manifests([base / "kubernetes-manifests", base / "istio-manifests"], Limits())
    assert {w.name for w in read.workloads} == BOUTIQUE
    facts = mesh_facts(read)
    exposed = {ref: f.exposures for ref, f in facts.items() if f.internet_facing}
    assert list(exposed) == ["default/Deployment/frontend"]
    assert [(e.via, e.gateway, e.hosts) for e in exposed["default/Deployment/frontend"]] == [
        ("istio-gateway", "default/frontend-gateway", ("*",)),
        ("load-balancer", "default/frontend-external", ()),
    ]
    # the shared copy of the v0.3.0 release lost each service's image name to a '*':
    # every such container is kept and says why its image cannot be read
    release = read_manifests([base / "release"], Limits())
    broken = [c for w in release.workloads for c in w.containers if c.ref is None]
    assert broken and all("'*'" in (c.image_problem or "") for c in broken)


def test_online_boutique_network_policies(apps: Path) -> None:
    latest = apps / "online-boutique" / "latest"
    read = read_manifests(
        [
            latest / "kubernetes-manifests",
            latest / "kustomize" / "components" / "network-policies",
        ],
        Limits(),
    )
    facts = mesh_facts(read)
    open_ = {ref for ref, f in facts.items() if not f.network_isolated}
    assert open_ == {"default/Deployment/frontend"}  # its policy lets any source in
    assert ("network_policy",) in [g.capabilities for g in platform_grants(read, facts)]


def test_sock_shop(apps: Path) -> None:
    kube = apps / "sock-shop" / "deploy" / "kubernetes"
    complete = read_manifests([kube / "complete-demo.yaml"], Limits())
    split = read_manifests([kube / "manifests", kube / "manifests-policy"], Limits())
    names = {w.name for w in complete.workloads}
    assert names == {w.name for w in split.workloads}
    assert {"front-end", "carts", "orders", "payment", "user", "catalogue"} <= names
    assert len(complete.workloads) == 14
    assert {w.namespace for w in complete.workloads} == {"sock-shop"}
    facts = mesh_facts(split)
    assert not facts["sock-shop/Deployment/front-end"].network_isolated
    assert facts["sock-shop/Deployment/carts-db"].network_isolated
    assert all(f.mtls_mode is None for f in facts.values())  # no mesh in Sock Shop
