"""A live cluster read through the kubernetes client: its model objects become the same
input as manifests. No cluster: the client's own model classes and a fake list API."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from meshward.errors import MeshwardError
from meshward.formats.k8s import live
from meshward.formats.k8s.objects import K8sRead

k8s = pytest.importorskip("kubernetes.client")


def _deployment() -> Any:
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="cart", namespace="shop", labels={"app": "cart"}),
        spec=k8s.V1DeploymentSpec(
            selector=k8s.V1LabelSelector(match_labels={"app": "cart"}),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={"app": "cart"}),
                spec=k8s.V1PodSpec(
                    service_account_name="cart",
                    containers=[
                        k8s.V1Container(
                            name="cart",
                            image="ghcr.io/acme/cart:3.1.0",
                            security_context=k8s.V1SecurityContext(
                                run_as_non_root=True,
                                read_only_root_filesystem=True,
                                capabilities=k8s.V1Capabilities(drop=["ALL"]),
                            ),
                        )
                    ],
                ),
            ),
        ),
    )


class _Meta:
    def __init__(self, token: str | None) -> None:
        self.var_continue = token
        self._continue = token


class _Page:
    def __init__(self, items: list[Any], token: str | None = None) -> None:
        self.items = items
        self.metadata = _Meta(token)


class _FakeApi:
    """Answers every ``list_*`` call; deployments come in two pages, like a big cluster."""

    calls: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> _Page:
            _FakeApi.calls.append((name, kwargs))
            if name == "list_deployment_for_all_namespaces":
                if kwargs.get("_continue") is None:
                    return _Page([_deployment()], "next-page")
                other = _deployment()
                other.metadata.name = "cart-canary"
                return _Page([other])
            if name == "list_service_for_all_namespaces":
                return _Page(
                    [
                        k8s.V1Service(
                            metadata=k8s.V1ObjectMeta(name="cart", namespace="shop"),
                            spec=k8s.V1ServiceSpec(
                                selector={"app": "cart"}, ports=[k8s.V1ServicePort(port=80)]
                            ),
                        )
                    ]
                )
            return _Page([])

        return call


class _NotServed(Exception):
    status = 404


class _FakeCustom:
    def __init__(self, api_client: Any) -> None:
        pass

    def list_cluster_custom_object(self, group: str, version: str, plural: str, **kw: Any) -> Any:
        if group == "security.istio.io" and version == "v1" and plural == "peerauthentications":
            return {
                "items": [
                    {
                        "metadata": {"name": "default", "namespace": "istio-system"},
                        "spec": {"mtls": {"mode": "STRICT"}},
                    }
                ],
                "metadata": {},
            }
        raise _NotServed()


class _FakeClientModule:
    def __getattr__(self, name: str) -> Any:
        return _FakeCustom if name == "CustomObjectsApi" else _FakeApi


def test_model_objects_become_the_api_json() -> None:
    api_client = k8s.ApiClient()
    data = live.as_object(
        _deployment(), "apps/v1", "Deployment", api_client.sanitize_for_serialization
    )
    assert data["kind"] == "Deployment" and data["apiVersion"] == "apps/v1"
    container = data["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_collect_objects_pages_and_custom_resources() -> None:
    _FakeApi.calls = []
    read = K8sRead()
    live.collect_objects(_FakeClientModule(), k8s.ApiClient(), read, "cluster:test")
    assert [w.ref for w in read.workloads] == [
        "shop/Deployment/cart",
        "shop/Deployment/cart-canary",
    ]
    cart = read.workloads[0]
    assert cart.service_account == "cart"
    assert cart.containers[0].security.capabilities_drop == ("ALL",)
    assert [s.name for s in read.services] == ["cart"]
    assert [(p.namespace, p.mode) for p in read.peer_authentications] == [
        ("istio-system", "STRICT")
    ]
    assert read.mesh_seen
    assert ("list_deployment_for_all_namespaces", {"limit": 500, "_continue": "next-page"}) in (
        _FakeApi.calls
    )
    assert any("no gateways.networking.istio.io" in w for w in read.warnings)


def test_a_missing_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_kubernetes(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("kubernetes"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(live.importlib, "import_module", lambda n: no_kubernetes(n))
    with pytest.raises(MeshwardError, match=r"meshward\[k8s\]"):
        live.read_cluster(Path("kubeconfig"))


def test_a_bad_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(MeshwardError, match="cannot use this kubeconfig"):
        live.read_cluster(path, "nope")
