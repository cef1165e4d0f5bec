"""What the mesh, the gateways and the network policies mean for each workload, from a
:class:`K8sRead` alone: the threat model's runtime facts and the platform capabilities.

The resolution follows Istio's and Kubernetes' own rules:

* mTLS: a workload-selector PeerAuthentication in the workload's namespace, else the
  namespace-wide one, else the mesh-wide one (the root namespace, ``istio-system`` by default),
  else Istio's default PERMISSIVE; ``UNSET`` inherits from the next level; port-level modes
  refine the workload's. Without any sign of a mesh in the input the mode is unknown (None).
* Exposure: a route (VirtualService, Gateway API route, Ingress) bound to an ingress gateway
  sends outside traffic to the Services it names, and so to the workloads those Services
  select; a ``LoadBalancer`` Service that is not marked internal exposes its workloads too.
* Network isolation: a pod is isolated for ingress when a NetworkPolicy selects it for
  ingress (or its namespace carries the old ``DefaultDeny`` annotation) and no selecting policy
  has a rule open to every source.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from meshward.formats.k8s.objects import (
    K8sRead,
    Namespace,
    PeerAuthentication,
    Route,
    Service,
    Workload,
)

ROOT_NAMESPACE = "istio-system"


@dataclass(frozen=True, slots=True)
class Exposure:
    via: str
    """``istio-gateway``, ``gateway-api``, ``ingress`` or ``load-balancer``."""
    gateway: str
    """``namespace/name`` of the gateway (or of the LoadBalancer Service)."""
    hosts: tuple[str, ...]
    route: str | None = None
    """``namespace/name`` of the route that sends the traffic."""


@dataclass(frozen=True)
class MeshFacts:
    namespace: str
    workload: str
    """``Kind/name``."""
    services: tuple[str, ...]
    """Services in the namespace that select the workload's pods."""
    exposures: tuple[Exposure, ...]
    mtls_mode: str | None
    """STRICT, PERMISSIVE or DISABLE; None when the input shows no mesh."""
    mtls_port_modes: tuple[tuple[int, str], ...]
    authorization_policies: tuple[str, ...]
    """``namespace/name (ACTION)`` of the policies that apply to the workload."""
    network_isolated: bool
    network_policies: tuple[str, ...]
    destination_tls: tuple[str, ...]
    """``namespace/name: MODE`` of DestinationRules whose host is one of its Services."""

    @property
    def internet_facing(self) -> bool:
        return bool(self.exposures)

    @property
    def mtls_strict(self) -> bool:
        return self.mtls_mode == "STRICT" and all(m == "STRICT" for _, m in self.mtls_port_modes)


@dataclass(frozen=True, slots=True)
class PlatformGrant:
    """A capability the platform gives every workload in a scope."""

    provider: str
    """``istio`` (mtls, authz_policy) or ``kubernetes`` (network_policy)."""
    namespace: str | None
    """None: every namespace (a mesh-wide policy)."""
    capabilities: tuple[str, ...]
    evidence: tuple[str, ...]
    """``namespace/name`` of the policies that give them."""


def service_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service a route host names, relative to the route's
    namespace; None for outside or wildcard hosts."""
    host = host.rstrip(".").lower()
    if not host or "*" in host:
        return None
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[1], parts[0]
    if len(parts) == 2:
        return parts[1], parts[0]
    return None


def _internal_load_balancer(service: Service) -> bool:
    for key, value in service.annotations.items():
        low_key, low_value = key.lower(), value.strip().lower()
        if "load-balancer" in low_key or "loadbalancer" in low_key:
            if "internal" in low_key and low_value in {"true", "1", "yes"}:
                return True
            if low_value == "internal":
                return True
    return False


def _beta_default_deny(namespace: Namespace | None) -> bool:
    """The pre-GA annotation ``net.beta.kubernetes.io/network-policy`` (Sock Shop uses it)."""
    if namespace is None:
        return False
    raw = namespace.annotations.get("net.beta.kubernetes.io/network-policy")
    if not raw:
        return False
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    ingress = value.get("ingress") if isinstance(value, dict) else None
    return isinstance(ingress, dict) and ingress.get("isolation") == "DefaultDeny"


class _Namespaced(Protocol):
    @property
    def namespace(self) -> str: ...


N = TypeVar("N", bound=_Namespaced)


def _by_namespace(items: Iterable[N]) -> dict[str, list[N]]:
    grouped: dict[str, list[N]] = defaultdict(list)
    for item in items:
        grouped[item.namespace].append(item)
    return grouped


class _Index:
    """Lookups over one read, built once."""

    def __init__(self, read: K8sRead, root: str) -> None:
        self.read = read
        self.root = root
        self.services = {(s.namespace, s.name): s for s in read.services}
        self.gateways = {f"{g.namespace}/{g.name}": g for g in read.gateways}
        self.namespaces = {n.name: n for n in read.namespaces}
        workloads = _by_namespace(read.workloads)
        self.peer_authentications = _by_namespace(read.peer_authentications)
        self.network_policies = _by_namespace(read.network_policies)
        self.authorization_policies = _by_namespace(read.authorization_policies)
        self.by_service: dict[tuple[str, str], list[Workload]] = defaultdict(list)
        self.services_of: dict[str, list[Service]] = defaultdict(list)
        for service in read.services:
            if not service.selector:
                continue
            for w in workloads.get(service.namespace, []):
                if all(w.pod_labels.get(k) == v for k, v in service.selector.items()):
                    self.by_service[(service.namespace, service.name)].append(w)
                    self.services_of[w.ref].append(service)

    def exposures(self) -> dict[str, list[Exposure]]:
        found: dict[str, list[Exposure]] = defaultdict(list)
        for route in self.read.routes:
            for gateway_ref in route.gateways:
                exposure = self._route_exposure(route, gateway_ref)
                if exposure is None:
                    continue
                for host in route.destinations:
                    target = service_host(host, route.namespace)
                    for w in self.by_service.get(target, []) if target else []:
                        if exposure not in found[w.ref]:
                            found[w.ref].append(exposure)
        for service in self.read.services:
            if service.type == "LoadBalancer" and not _internal_load_balancer(service):
                exposure = Exposure("load-balancer", f"{service.namespace}/{service.name}", ())
                for w in self.by_service.get((service.namespace, service.name), []):
                    found[w.ref].append(exposure)
        return found

    def _route_exposure(self, route: Route, gateway_ref: str) -> Exposure | None:
        if gateway_ref == "mesh":
            return None
        route_ref = f"{route.namespace}/{route.name}"
        if route.kind == "Ingress":
            return Exposure("ingress", gateway_ref, route.hosts, route_ref)
        gateway = self.gateways.get(gateway_ref)
        if gateway is not None and not gateway.ingress:
            return None
        via = "istio-gateway" if route.kind == "VirtualService" else "gateway-api"
        hosts = route.hosts
        if not hosts and gateway is not None:
            hosts = tuple(dict.fromkeys(h for s in gateway.servers for h in s.hosts))
        return Exposure(via, gateway_ref, hosts or ("*",), route_ref)

    def mtls(self, w: Workload) -> tuple[str | None, tuple[tuple[int, str], ...]]:
        if not self.read.mesh_seen:
            return None, ()
        pas = self.peer_authentications.get(w.namespace, []) + self.peer_authentications.get(
            self.root, []
        )

        def first(candidates: list[PeerAuthentication]) -> PeerAuthentication | None:
            return min(candidates, key=lambda p: p.name) if candidates else None

        own = first(
            [
                p
                for p in pas
                if p.namespace == w.namespace and p.selector and p.selector.matches(w.pod_labels)
            ]
        )
        chain = [
            own,
            first([p for p in pas if p.namespace == w.namespace and p.selector is None]),
            first([p for p in pas if p.namespace == self.root and p.selector is None]),
        ]
        mode = next((p.mode for p in chain if p is not None and p.mode != "UNSET"), "PERMISSIVE")
        ports = tuple(
            (port, mode if port_mode == "UNSET" else port_mode)
            for port, port_mode in (own.port_modes if own else ())
        )
        return mode, ports

    def network(self, w: Workload) -> tuple[bool, tuple[str, ...]]:
        selecting = [
            p
            for p in self.network_policies.get(w.namespace, [])
            if p.ingress and p.pod_selector.matches(w.pod_labels)
        ]
        denied = bool(selecting) or _beta_default_deny(self.namespaces.get(w.namespace))
        isolated = denied and not any(p.ingress_open for p in selecting)
        return isolated, tuple(sorted(f"{p.namespace}/{p.name}" for p in selecting))

    def authorization(self, w: Workload) -> tuple[str, ...]:
        return tuple(
            sorted(
                f"{p.namespace}/{p.name} ({p.action})"
                for ns in {w.namespace, self.root}
                for p in self.authorization_policies.get(ns, [])
                if p.action != "AUDIT" and p.applies_to(w.namespace, w.pod_labels, self.root)
            )
        )

    def destination_tls(self, w: Workload) -> tuple[str, ...]:
        mine = {(s.namespace, s.name) for s in self.services_of.get(w.ref, [])}
        return tuple(
            sorted(
                f"{r.namespace}/{r.name}: {r.tls_mode}"
                for r in self.read.destination_rules
                if r.tls_mode and service_host(r.host, r.namespace) in mine
            )
        )


def mesh_facts(read: K8sRead, *, root_namespace: str = ROOT_NAMESPACE) -> dict[str, MeshFacts]:
    """The facts of every workload, by ``Workload.ref``."""
    index = _Index(read, root_namespace)
    exposures = index.exposures()
    facts: dict[str, MeshFacts] = {}
    for w in read.workloads:
        mode, ports = index.mtls(w)
        isolated, policies = index.network(w)
        facts[w.ref] = MeshFacts(
            namespace=w.namespace,
            workload=f"{w.kind}/{w.name}",
            services=tuple(sorted(s.name for s in index.services_of.get(w.ref, []))),
            exposures=tuple(exposures.get(w.ref, [])),
            mtls_mode=mode,
            mtls_port_modes=ports,
            authorization_policies=index.authorization(w),
            network_isolated=isolated,
            network_policies=policies,
            destination_tls=index.destination_tls(w),
        )
    return facts


def platform_grants(
    read: K8sRead,
    facts: Mapping[str, MeshFacts],
    *,
    root_namespace: str = ROOT_NAMESPACE,
) -> list[PlatformGrant]:
    """What the mesh and the network policies give as a whole, per namespace or mesh-wide.

    A scope gets ``mtls`` only when a mesh- or namespace-wide STRICT policy sets it *and* no
    workload in the scope is weakened below STRICT (a PERMISSIVE override, a port); a
    namespace- or mesh-wide AuthorizationPolicy gives ``authz_policy``; a default-deny
    NetworkPolicy (every pod selected, ingress, no rule) gives ``network_policy``. Scopes are
    the namespaces that hold workloads in this read."""
    by_namespace: dict[str, list[MeshFacts]] = defaultdict(list)
    for f in facts.values():
        by_namespace[f.namespace].append(f)
    grants: dict[tuple[str, str | None], tuple[set[str], set[str]]] = defaultdict(
        lambda: (set(), set())
    )

    def give(provider: str, namespace: str | None, capability: str, evidence: str) -> None:
        caps, proofs = grants[(provider, namespace)]
        caps.add(capability)
        proofs.add(evidence)

    if read.mesh_seen:
        pas = read.peer_authentications

        def wide(namespace: str) -> PeerAuthentication | None:
            found = [p for p in pas if p.namespace == namespace and p.selector is None]
            return min(found, key=lambda p: p.name) if found else None

        mesh = wide(root_namespace)
        strict_ns = {ns: all(f.mtls_strict for f in fs) for ns, fs in by_namespace.items()}
        if mesh is not None and mesh.mode == "STRICT" and all(strict_ns.values()):
            give("istio", None, "mtls", f"{mesh.namespace}/{mesh.name}")
        else:
            for ns, ok in sorted(strict_ns.items()):
                own = wide(ns)
                source = own if own is not None and own.mode != "UNSET" else mesh
                if ok and source is not None and source.mode == "STRICT":
                    give("istio", ns, "mtls", f"{source.namespace}/{source.name}")
        for p in read.authorization_policies:
            if p.selector is None and not p.targeted and p.action != "AUDIT":
                if p.namespace == root_namespace:
                    give("istio", None, "authz_policy", f"{p.namespace}/{p.name}")
                elif p.namespace in by_namespace:
                    give("istio", p.namespace, "authz_policy", f"{p.namespace}/{p.name}")
    namespaces = {n.name: n for n in read.namespaces}
    for ns in sorted(by_namespace):
        for np in read.network_policies:
            if np.namespace == ns and np.pod_selector.empty and np.ingress and not np.ingress_rules:
                give("kubernetes", ns, "network_policy", f"{np.namespace}/{np.name}")
        if _beta_default_deny(namespaces.get(ns)):
            give("kubernetes", ns, "network_policy", f"namespace/{ns}")
    return [
        PlatformGrant(provider, ns, tuple(sorted(caps)), tuple(sorted(proofs)))
        for (provider, ns), (caps, proofs) in sorted(
            grants.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    ]
