"""Mesh facts and platform capabilities, resolved as Istio and Kubernetes resolve them."""

from __future__ import annotations

from pathlib import Path

from meshward.formats.k8s import K8sRead, mesh_facts, platform_grants, read_manifests
from meshward.formats.k8s.mesh import Exposure, PlatformGrant, service_host
from meshward.formats.k8s.reader import read_text
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures"


def _with(extra: str) -> K8sRead:
    read = read_manifests([FIXTURES / "shop.yaml"], Limits())
    read_text(extra.encode(), "extra.yaml", Limits(), read, "default")
    return read


def test_shop_facts() -> None:
    read = read_manifests([FIXTURES / "shop.yaml"], Limits())
    facts = mesh_facts(read)
    web, db, report = (
        facts["shop/Deployment/web"],
        facts["shop/StatefulSet/db"],
        facts["shop/CronJob/report"],
    )
    assert web.internet_facing and not db.internet_facing and not report.internet_facing
    assert web.exposures == (
        Exposure("istio-gateway", "shop/shop-gateway", ("shop.acme.example",), "shop/web-public"),
    )
    assert web.services == ("web",) and db.services == ("db",) and report.services == ()
    assert {f.mtls_mode for f in facts.values()} == {"STRICT"}
    assert web.authorization_policies == (
        "shop/deny-by-default (ALLOW)",
        "shop/web-from-gateway (ALLOW)",
    )
    assert db.authorization_policies == ("shop/deny-by-default (ALLOW)",)
    # web is selected by a policy that lets anyone in; db only by the default deny
    assert not web.network_isolated and db.network_isolated and report.network_isolated
    assert web.network_policies == ("shop/default-deny", "shop/web-open")
    assert db.destination_tls == ("shop/db-tls: ISTIO_MUTUAL",)
    assert platform_grants(read, facts) == [
        PlatformGrant("istio", None, ("mtls",), ("istio-system/default",)),
        PlatformGrant("istio", "shop", ("authz_policy",), ("shop/deny-by-default",)),
        PlatformGrant("kubernetes", "shop", ("network_policy",), ("shop/default-deny",)),
    ]


def test_a_permissive_workload_narrows_the_mesh_grant_to_the_other_namespaces() -> None:
    read = _with(
        """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web-legacy, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: UNSET}
  portLevelMtls:
    "8081": {mode: PERMISSIVE}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: tools}
spec: {containers: [{name: t, image: "tool:1"}]}
"""
    )
    facts = mesh_facts(read)
    web = facts["shop/Deployment/web"]
    assert web.mtls_mode == "STRICT" and web.mtls_port_modes == ((8081, "PERMISSIVE"),)
    assert not web.mtls_strict
    grants = {(g.provider, g.namespace): g.capabilities for g in platform_grants(read, facts)}
    assert grants == {
        ("istio", "tools"): ("mtls",),
        ("istio", "shop"): ("authz_policy",),
        ("kubernetes", "shop"): ("network_policy",),
    }


def test_namespace_and_workload_levels_override_the_mesh() -> None:
    read = _with(
        """
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: db-strict, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: STRICT}
"""
    )
    facts = mesh_facts(read)
    assert facts["shop/Deployment/web"].mtls_mode == "PERMISSIVE"
    assert facts["shop/StatefulSet/db"].mtls_mode == "STRICT"
    assert all(g.capabilities != ("mtls",) for g in platform_grants(read, facts))


def test_without_a_mesh_mtls_is_unknown_and_no_istio_grant() -> None:
    read = K8sRead()
    read_text(
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
        b"spec: {containers: [{name: a, image: 'a:1'}]}\n",
        "pod.yaml",
        Limits(),
        read,
        "default",
    )
    facts = mesh_facts(read)
    assert facts["default/Pod/a"].mtls_mode is None
    assert platform_grants(read, facts) == []


def test_gateway_api_ingress_and_load_balancers() -> None:
    read = K8sRead()
    read_text(
        b"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: istio
  listeners: [{name: https, port: 443, protocol: HTTPS, hostname: api.acme.example}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: apps}
spec:
  parentRefs: [{name: public, namespace: edge}]
  rules: [{backendRefs: [{name: api, port: 80}]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: admin, namespace: apps}
spec:
  ingressClassName: nginx
  rules:
    - host: admin.acme.example
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec: {selector: {app: api}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: admin, namespace: apps}
spec: {selector: {app: admin}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: lb-internal
  namespace: apps
  annotations: {networking.gke.io/load-balancer-type: Internal}
spec: {type: LoadBalancer, selector: {app: batch}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: apps}
spec: {type: LoadBalancer, selector: {app: admin}, ports: [{port: 443}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: apps}
spec: {template: {metadata: {labels: {app: api}}, spec: {containers: [{name: a, image: "api:1"}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: admin, namespace: apps}
spec:
  template: {metadata: {labels: {app: admin}}, spec: {containers: [{name: a, image: "adm:1"}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: apps}
spec: {template: {metadata: {labels: {app: batch}}, spec: {containers: [{name: a, image: "b:1"}]}}}
""",
        "edge.yaml",
        Limits(),
        read,
        "default",
    )
    facts = mesh_facts(read)
    assert facts["apps/Deployment/api"].exposures == (
        Exposure("gateway-api", "edge/public", ("api.acme.example",), "apps/api"),
    )
    assert facts["apps/Deployment/admin"].exposures == (
        Exposure("ingress", "ingress-class/nginx", ("admin.acme.example",), "apps/admin"),
        Exposure("load-balancer", "apps/lb", ()),
    )
    assert not facts["apps/Deployment/batch"].internet_facing


def test_egress_gateways_and_mesh_routes_expose_nothing() -> None:
    read = _with(
        """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: out, namespace: shop}
spec: {selector: {istio: egressgateway}, servers: [{port: {number: 80}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-egress, namespace: shop}
spec:
  hosts: [db]
  gateways: [out, mesh]
  http: [{route: [{destination: {host: db}}]}]
"""
    )
    assert not mesh_facts(read)["shop/StatefulSet/db"].internet_facing


def test_service_hosts() -> None:
    assert service_host("web", "shop") == ("shop", "web")
    assert service_host("web.other", "shop") == ("other", "web")
    assert service_host("web.other.svc.cluster.local.", "shop") == ("other", "web")
    assert service_host("*.acme.example", "shop") is None
    assert service_host("www.acme.example", "shop") is None


def test_old_default_deny_annotation_isolates_the_namespace() -> None:
    read = K8sRead()
    read_text(
        b"""
kind: Namespace
apiVersion: v1
metadata:
  name: sock-shop
  annotations:
    net.beta.kubernetes.io/network-policy: '{"ingress": {"isolation": "DefaultDeny"}}'
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: sock-shop}
spec: {containers: [{name: a, image: "a:1"}]}
""",
        "ns.yaml",
        Limits(),
        read,
        "default",
    )
    facts = mesh_facts(read)
    assert facts["sock-shop/Pod/a"].network_isolated
    assert platform_grants(read, facts) == [
        PlatformGrant("kubernetes", "sock-shop", ("network_policy",), ("namespace/sock-shop",))
    ]
