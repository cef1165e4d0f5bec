"""The Kubernetes, Istio and Gateway API objects meshward reads, as plain frozen dataclasses,
and the parsing of one object (a decoded manifest document or a ``List`` item) into them.

Only what the importer and the threat model use is kept. A field of the wrong type in a kind
we read is an InputError naming the file and the place; kinds we do not read are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meshward.errors import InputError
from meshward.formats.k8s.images import ImageRef, ImageReferenceError, parse_image_reference

# ---------------------------------------------------------------- the dataclasses


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry: ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Kubernetes label selector; the empty selector matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for req in self.expressions:
            present = req.key in labels
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """A container's effective security settings (container over pod); None: not set."""

    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    privileged: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    image: str
    """As written in the manifest."""
    ref: ImageRef | None
    image_problem: str | None
    """Why ``image`` is not a valid reference (kept and reported, never dropped)."""
    init: bool
    security: SecurityContext
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    pod_labels: Mapping[str, str]
    """The pod template's labels: what Services, policies and meshes select on."""
    pod_annotations: Mapping[str, str]
    containers: tuple[Container, ...]
    service_account: str
    host_network: bool
    source: str
    place: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    @property
    def app_containers(self) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if not c.init)


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    name: str | None
    protocol: str
    target_port: str | None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str
    selector: Mapping[str, str]
    """Empty: a Service without selector (endpoints managed by hand) fronts no workload."""
    ports: tuple[ServicePort, ...]
    annotations: Mapping[str, str]
    source: str
    place: str


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PeerAuthentication:
    namespace: str
    name: str
    selector: LabelSelector | None
    """None: namespace-wide (mesh-wide in the root namespace)."""
    mode: str
    """STRICT, PERMISSIVE, DISABLE or UNSET (inherit)."""
    port_modes: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    namespace: str
    name: str
    selector: LabelSelector | None
    action: str
    """ALLOW, DENY, AUDIT or CUSTOM."""
    rules: int
    """0 with ALLOW: allow nothing (deny all)."""
    targeted: bool = False
    """Bound to a Gateway or Service by ``targetRefs``: it selects no pod by labels."""

    def applies_to(self, namespace: str, labels: Mapping[str, str], root: str) -> bool:
        """Istio's rule: a policy in the workload's namespace or the root namespace, with no
        selector or one that matches the workload's labels."""
        if self.targeted or self.namespace not in (namespace, root):
            return False
        return self.selector is None or self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class GatewayServer:
    port: int | None
    protocol: str | None
    hosts: tuple[str, ...]
    tls_mode: str | None


@dataclass(frozen=True, slots=True)
class Gateway:
    """An Istio ``Gateway`` or a Gateway API ``Gateway`` (``api`` tells which)."""

    api: str
    """``istio`` or ``gateway-api``."""
    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...]
    """The Istio gateway deployment's labels it configures (``istio: ingressgateway``)."""
    servers: tuple[GatewayServer, ...]
    gateway_class: str | None = None

    @property
    def ingress(self) -> bool:
        """Traffic comes in from outside; an egress gateway is the way out."""
        return not any("egress" in v.lower() for _, v in self.selector) and "egress" not in (
            self.name.lower()
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Where a VirtualService, an HTTPRoute (or other Gateway API route) or an Ingress sends
    traffic: destination hosts (services) from the given gateways."""

    kind: str
    namespace: str
    name: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    """``ns/name`` of the gateways it is bound to; ``mesh`` for sidecars only."""
    destinations: tuple[str, ...]
    """Service hosts as written (``frontend``, ``frontend.shop.svc.cluster.local``)."""


@dataclass(frozen=True, slots=True)
class DestinationRule:
    namespace: str
    name: str
    host: str
    tls_mode: str | None
    """DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; None when the rule sets none."""


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    ingress: bool
    """Applies to ingress (``policyTypes``, defaulting as the API server does)."""
    egress: bool
    ingress_rules: int
    ingress_open: bool
    """A rule without ``from``: any source may connect."""


@dataclass
class K8sRead:
    """Everything read from a set of files or a cluster, in reading order."""

    files: list[str] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    namespaces: list[Namespace] = field(default_factory=list)
    peer_authentications: list[PeerAuthentication] = field(default_factory=list)
    authorization_policies: list[AuthorizationPolicy] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    network_policies: list[NetworkPolicy] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Kinds read but not used (ConfigMap, ServiceAccount ...), with counts."""
    warnings: list[str] = field(default_factory=list)
    mesh_seen: bool = False
    """Istio objects or sidecar injection were seen: mTLS modes mean something."""


# ---------------------------------------------------------------- parsing one object

WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "Job", "Pod"}
)
CONTROLLED_KINDS = frozenset({"ReplicaSet", "Job", "Pod"})
"""Kinds that a controller usually creates: read only when nothing owns them (a live cluster
lists the Pods of every Deployment too)."""


class _Object:
    """One object being parsed: typed access to its fields, errors naming the place."""

    def __init__(self, data: Mapping[str, Any], source: str, place: str) -> None:
        self.data = data
        self.source = source
        self.place = place

    def error(self, path: str, message: str) -> InputError:
        return InputError(self.source, f"{self.place}: {path}" if path else self.place, message)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a mapping, found {type(value).__name__}")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, found {type(value).__name__}")
        return value

    def text(self, value: Any, path: str, *, required: bool = False) -> str | None:
        if value is None or value == "":
            if required:
                raise self.error(path, "missing")
            return None
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, found {type(value).__name__}")
        return value

    def flag(self, value: Any, path: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self.error(path, f"expected true or false, found {value!r}")

    def number(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"expected an integer, found {value!r}")
        return value

    def string_map(self, value: Any, path: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, item in self.mapping(value, path).items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.error(
                    f"{path}.{key}", f"labels and annotations are strings (quote {item!r})"
                )
            result[key] = item
        return result

    def selector(self, value: Any, path: str) -> LabelSelector:
        data = self.mapping(value, path)
        labels = self.string_map(data.get("matchLabels"), f"{path}.matchLabels")
        expressions = []
        for i, raw in enumerate(
            self.items(data.get("matchExpressions"), f"{path}.matchExpressions")
        ):
            where = f"{path}.matchExpressions[{i}]"
            expr = self.mapping(raw, where)
            operator = self.text(expr.get("operator"), f"{where}.operator", required=True) or ""
            if operator not in {"In", "NotIn", "Exists", "DoesNotExist"}:
                raise self.error(f"{where}.operator", f"unknown operator {operator!r}")
            values = tuple(
                self.text(v, f"{where}.values[{j}]", required=True) or ""
                for j, v in enumerate(self.items(expr.get("values"), f"{where}.values"))
            )
            key = self.text(expr.get("key"), f"{where}.key", required=True) or ""
            expressions.append(Requirement(key, operator, values))
        return LabelSelector(tuple(sorted(labels.items())), tuple(expressions))


def _spec(obj: _Object) -> Mapping[str, Any]:
    return obj.mapping(obj.data.get("spec"), "spec")


def pod_template_path(kind: str) -> tuple[str, ...]:
    """Where a kind keeps its pod: ``spec.template`` for most, deeper for a CronJob."""
    if kind == "Pod":
        return ()
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template")
    return ("spec", "template")


def _security(
    obj: _Object, pod: Mapping[str, Any], container: Mapping[str, Any], path: str
) -> SecurityContext:
    pod_sc = obj.mapping(pod.get("securityContext"), "securityContext")
    sc = obj.mapping(container.get("securityContext"), f"{path}.securityContext")
    caps = obj.mapping(sc.get("capabilities"), f"{path}.securityContext.capabilities")

    def either(key: str) -> Any:
        return sc.get(key) if sc.get(key) is not None else pod_sc.get(key)

    def names(key: str) -> tuple[str, ...]:
        where = f"{path}.securityContext.capabilities.{key}"
        return tuple(
            sorted(
                (obj.text(c, where, required=True) or "").upper()
                for c in obj.items(caps.get(key), where)
            )
        )

    return SecurityContext(
        run_as_non_root=obj.flag(either("runAsNonRoot"), f"{path}.securityContext.runAsNonRoot"),
        run_as_user=obj.number(either("runAsUser"), f"{path}.securityContext.runAsUser"),
        privileged=obj.flag(sc.get("privileged"), f"{path}.securityContext.privileged"),
        read_only_root_filesystem=obj.flag(
            sc.get("readOnlyRootFilesystem"), f"{path}.securityContext.readOnlyRootFilesystem"
        ),
        allow_privilege_escalation=obj.flag(
            sc.get("allowPrivilegeEscalation"),
            f"{path}.securityContext.allowPrivilegeEscalation",
        ),
        capabilities_add=names("add"),
        capabilities_drop=names("drop"),
    )


def _containers(obj: _Object, pod: Mapping[str, Any], prefix: str) -> tuple[Container, ...]:
    found: list[Container] = []
    for key, init in (("initContainers", True), ("containers", False)):
        for i, raw in enumerate(obj.items(pod.get(key), f"{prefix}{key}")):
            path = f"{prefix}{key}[{i}]"
            data = obj.mapping(raw, path)
            name = obj.text(data.get("name"), f"{path}.name", required=True) or ""
            image = obj.text(data.get("image"), f"{path}.image", required=True) or ""
            try:
                ref, problem = parse_image_reference(image), None
            except ImageReferenceError as exc:
                ref, problem = None, str(exc)
            ports = tuple(
                port
                for j, p in enumerate(obj.items(data.get("ports"), f"{path}.ports"))
                if (
                    port := obj.number(
                        obj.mapping(p, f"{path}.ports[{j}]").get("containerPort"),
                        f"{path}.ports[{j}].containerPort",
                    )
                )
                is not None
            )
            found.append(
                Container(name, image, ref, problem, init, _security(obj, pod, data, path), ports)
            )
    if not any(not c.init for c in found):
        raise obj.error(f"{prefix}containers", "a pod needs at least one container")
    return tuple(found)


def _workload(obj: _Object, kind: str, namespace: str, name: str) -> Workload:
    meta = obj.mapping(obj.data.get("metadata"), "metadata")
    template: Mapping[str, Any] = obj.data
    walked: list[str] = []
    for step in pod_template_path(kind):
        walked.append(step)
        template = obj.mapping(template.get(step), ".".join(walked))
    prefix = ".".join(walked) + "." if walked else ""
    pod_meta = obj.mapping(template.get("metadata"), f"{prefix}metadata")
    pod = obj.mapping(template.get("spec"), f"{prefix}spec")
    spec_prefix = f"{prefix}spec."
    account = obj.text(
        pod.get("serviceAccountName") or pod.get("serviceAccount"),
        f"{spec_prefix}serviceAccountName",
    )
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        labels=obj.string_map(meta.get("labels"), "metadata.labels"),
        annotations=obj.string_map(meta.get("annotations"), "metadata.annotations"),
        pod_labels=obj.string_map(pod_meta.get("labels"), f"{prefix}metadata.labels"),
        pod_annotations=obj.string_map(
            pod_meta.get("annotations"), f"{prefix}metadata.annotations"
        ),
        containers=_containers(obj, pod, spec_prefix),
        service_account=account or "default",
        host_network=bool(obj.flag(pod.get("hostNetwork"), f"{spec_prefix}hostNetwork")),
        source=obj.source,
        place=obj.place,
    )


def _service(obj: _Object, namespace: str, name: str) -> Service:
    spec = _spec(obj)
    meta = obj.mapping(obj.data.get("metadata"), "metadata")
    ports = []
    for i, raw in enumerate(obj.items(spec.get("ports"), "spec.ports")):
        data = obj.mapping(raw, f"spec.ports[{i}]")
        port = obj.number(data.get("port"), f"spec.ports[{i}].port")
        if port is None:
            raise obj.error(f"spec.ports[{i}].port", "missing")
        target = data.get("targetPort")
        ports.append(
            ServicePort(
                port,
                obj.text(data.get("name"), f"spec.ports[{i}].name"),
                obj.text(data.get("protocol"), f"spec.ports[{i}].protocol") or "TCP",
                None if target is None else str(target),
            )
        )
    return Service(
        namespace=namespace,
        name=name,
        type=obj.text(spec.get("type"), "spec.type") or "ClusterIP",
        selector=obj.string_map(spec.get("selector"), "spec.selector"),
        ports=tuple(ports),
        annotations=obj.string_map(meta.get("annotations"), "metadata.annotations"),
        source=obj.source,
        place=obj.place,
    )


def _workload_selector(obj: _Object, spec: Mapping[str, Any]) -> LabelSelector | None:
    """Istio's ``selector: {matchLabels: ...}``; None (or empty): the whole namespace."""
    if spec.get("selector") is None:
        return None
    selector = obj.selector(spec.get("selector"), "spec.selector")
    return None if selector.empty else selector


MTLS_MODES = frozenset({"STRICT", "PERMISSIVE", "DISABLE", "UNSET"})


def _mtls_mode(obj: _Object, value: Any, path: str) -> str:
    mode = (obj.text(obj.mapping(value, path).get("mode"), f"{path}.mode") or "UNSET").upper()
    if mode not in MTLS_MODES:
        raise obj.error(f"{path}.mode", f"unknown mTLS mode {mode!r}")
    return mode


def _peer_authentication(obj: _Object, namespace: str, name: str) -> PeerAuthentication:
    spec = _spec(obj)
    ports = []
    for port, value in obj.mapping(spec.get("portLevelMtls"), "spec.portLevelMtls").items():
        try:
            number = int(port)
        except (TypeError, ValueError):
            raise obj.error(f"spec.portLevelMtls.{port}", "not a port number") from None
        ports.append((number, _mtls_mode(obj, value, f"spec.portLevelMtls.{port}")))
    return PeerAuthentication(
        namespace,
        name,
        _workload_selector(obj, spec),
        _mtls_mode(obj, spec.get("mtls"), "spec.mtls"),
        tuple(sorted(ports)),
    )


def _authorization_policy(obj: _Object, namespace: str, name: str) -> AuthorizationPolicy:
    spec = _spec(obj)
    action = (obj.text(spec.get("action"), "spec.action") or "ALLOW").upper()
    if action not in {"ALLOW", "DENY", "AUDIT", "CUSTOM"}:
        raise obj.error("spec.action", f"unknown action {action!r}")
    targeted = bool(obj.items(spec.get("targetRefs"), "spec.targetRefs")) or bool(
        obj.mapping(spec.get("targetRef"), "spec.targetRef")
    )
    return AuthorizationPolicy(
        namespace,
        name,
        _workload_selector(obj, spec),
        action,
        len(obj.items(spec.get("rules"), "spec.rules")),
        targeted,
    )


def _istio_gateway(obj: _Object, namespace: str, name: str) -> Gateway:
    spec = _spec(obj)
    servers = []
    for i, raw in enumerate(obj.items(spec.get("servers"), "spec.servers")):
        where = f"spec.servers[{i}]"
        data = obj.mapping(raw, where)
        port = obj.mapping(data.get("port"), f"{where}.port")
        tls = obj.mapping(data.get("tls"), f"{where}.tls")
        servers.append(
            GatewayServer(
                obj.number(port.get("number"), f"{where}.port.number"),
                obj.text(port.get("protocol"), f"{where}.port.protocol"),
                tuple(
                    obj.text(h, f"{where}.hosts[{j}]", required=True) or ""
                    for j, h in enumerate(obj.items(data.get("hosts"), f"{where}.hosts"))
                ),
                obj.text(tls.get("mode"), f"{where}.tls.mode"),
            )
        )
    selector = obj.string_map(spec.get("selector"), "spec.selector")
    return Gateway("istio", namespace, name, tuple(sorted(selector.items())), tuple(servers))


def _api_gateway(obj: _Object, namespace: str, name: str) -> Gateway:
    spec = _spec(obj)
    servers = []
    for i, raw in enumerate(obj.items(spec.get("listeners"), "spec.listeners")):
        where = f"spec.listeners[{i}]"
        data = obj.mapping(raw, where)
        hostname = obj.text(data.get("hostname"), f"{where}.hostname")
        tls = obj.mapping(data.get("tls"), f"{where}.tls")
        servers.append(
            GatewayServer(
                obj.number(data.get("port"), f"{where}.port"),
                obj.text(data.get("protocol"), f"{where}.protocol"),
                (hostname or "*",),
                obj.text(tls.get("mode"), f"{where}.tls.mode"),
            )
        )
    return Gateway(
        "gateway-api",
        namespace,
        name,
        (),
        tuple(servers),
        obj.text(spec.get("gatewayClassName"), "spec.gatewayClassName"),
    )


def _qualify(ref: str, namespace: str) -> str:
    """``name`` or ``ns/name`` as ``ns/name``; ``mesh`` stays itself."""
    if ref == "mesh" or "/" in ref:
        return ref
    if "." in ref:  # an Istio gateway may be named by FQDN-ish ``name.ns.svc.cluster.local``
        name, _, rest = ref.partition(".")
        return f"{rest.split('.', 1)[0]}/{name}"
    return f"{namespace}/{ref}"


def _virtual_service(obj: _Object, namespace: str, name: str) -> Route:
    spec = _spec(obj)
    hosts = tuple(
        obj.text(h, f"spec.hosts[{i}]", required=True) or ""
        for i, h in enumerate(obj.items(spec.get("hosts"), "spec.hosts"))
    )
    gateways = [
        obj.text(g, f"spec.gateways[{i}]", required=True) or ""
        for i, g in enumerate(obj.items(spec.get("gateways"), "spec.gateways"))
    ]
    destinations: list[str] = []
    for protocol in ("http", "tls", "tcp"):
        for i, raw in enumerate(obj.items(spec.get(protocol), f"spec.{protocol}")):
            route = obj.mapping(raw, f"spec.{protocol}[{i}]")
            targets = obj.items(route.get("route"), f"spec.{protocol}[{i}].route")
            for j, target in enumerate(targets):
                at = f"spec.{protocol}[{i}].route[{j}]"
                where = f"{at}.destination"
                dest = obj.mapping(obj.mapping(target, at).get("destination"), where)
                host = obj.text(dest.get("host"), f"{where}.host", required=True) or ""
                if host not in destinations:
                    destinations.append(host)
    return Route(
        "VirtualService",
        namespace,
        name,
        hosts,
        tuple(_qualify(g, namespace) for g in gateways) or ("mesh",),
        tuple(destinations),
    )


def _api_route(obj: _Object, kind: str, namespace: str, name: str) -> Route:
    spec = _spec(obj)
    parents = []
    for i, raw in enumerate(obj.items(spec.get("parentRefs"), "spec.parentRefs")):
        ref = obj.mapping(raw, f"spec.parentRefs[{i}]")
        if (ref.get("kind") or "Gateway") != "Gateway":
            continue
        parent = obj.text(ref.get("name"), f"spec.parentRefs[{i}].name", required=True)
        parent_ns = obj.text(ref.get("namespace"), f"spec.parentRefs[{i}].namespace")
        parents.append(f"{parent_ns or namespace}/{parent}")
    destinations: list[str] = []
    for i, raw in enumerate(obj.items(spec.get("rules"), "spec.rules")):
        rule = obj.mapping(raw, f"spec.rules[{i}]")
        for j, b in enumerate(obj.items(rule.get("backendRefs"), f"spec.rules[{i}].backendRefs")):
            where = f"spec.rules[{i}].backendRefs[{j}]"
            backend = obj.mapping(b, where)
            if (backend.get("kind") or "Service") != "Service":
                continue
            svc = obj.text(backend.get("name"), f"{where}.name", required=True)
            svc_ns = obj.text(backend.get("namespace"), f"{where}.namespace") or namespace
            host = f"{svc}.{svc_ns}.svc.cluster.local"
            if host not in destinations:
                destinations.append(host)
    hostnames = tuple(
        obj.text(h, f"spec.hostnames[{i}]", required=True) or ""
        for i, h in enumerate(obj.items(spec.get("hostnames"), "spec.hostnames"))
    )
    return Route(kind, namespace, name, hostnames, tuple(parents), tuple(destinations))


def _ingress(obj: _Object, namespace: str, name: str) -> Route:
    """A Kubernetes Ingress: its controller is the (implicit) gateway."""
    spec = _spec(obj)
    destinations: list[str] = []
    hosts: list[str] = []

    def backend(value: Any, where: str) -> None:
        data = obj.mapping(value, where)
        service = obj.mapping(data.get("service"), f"{where}.service")
        svc = obj.text(service.get("name") or data.get("serviceName"), f"{where}.service.name")
        if svc:
            host = f"{svc}.{namespace}.svc.cluster.local"
            if host not in destinations:
                destinations.append(host)

    if spec.get("defaultBackend") is not None:
        backend(spec.get("defaultBackend"), "spec.defaultBackend")
    for i, raw in enumerate(obj.items(spec.get("rules"), "spec.rules")):
        rule = obj.mapping(raw, f"spec.rules[{i}]")
        if host := obj.text(rule.get("host"), f"spec.rules[{i}].host"):
            hosts.append(host)
        http = obj.mapping(rule.get("http"), f"spec.rules[{i}].http")
        for j, path in enumerate(obj.items(http.get("paths"), f"spec.rules[{i}].http.paths")):
            where = f"spec.rules[{i}].http.paths[{j}]"
            backend(obj.mapping(path, where).get("backend"), f"{where}.backend")
    ingress_class = obj.text(spec.get("ingressClassName"), "spec.ingressClassName") or "default"
    return Route(
        "Ingress",
        namespace,
        name,
        tuple(hosts) or ("*",),
        (f"ingress-class/{ingress_class}",),
        tuple(destinations),
    )


def _destination_rule(obj: _Object, namespace: str, name: str) -> DestinationRule:
    spec = _spec(obj)
    policy = obj.mapping(spec.get("trafficPolicy"), "spec.trafficPolicy")
    tls = obj.mapping(policy.get("tls"), "spec.trafficPolicy.tls")
    mode = obj.text(tls.get("mode"), "spec.trafficPolicy.tls.mode")
    return DestinationRule(
        namespace,
        name,
        obj.text(spec.get("host"), "spec.host", required=True) or "",
        mode.upper() if mode else None,
    )


def _network_policy(obj: _Object, namespace: str, name: str) -> NetworkPolicy:
    spec = _spec(obj)
    types = [
        obj.text(t, f"spec.policyTypes[{i}]", required=True)
        for i, t in enumerate(obj.items(spec.get("policyTypes"), "spec.policyTypes"))
    ]
    rules = obj.items(spec.get("ingress"), "spec.ingress")
    has_egress = spec.get("egress") is not None
    open_rule = any(
        not obj.items(obj.mapping(r, f"spec.ingress[{i}]").get("from"), f"spec.ingress[{i}].from")
        for i, r in enumerate(rules)
    )
    return NetworkPolicy(
        namespace,
        name,
        obj.selector(spec.get("podSelector"), "spec.podSelector"),
        ingress="Ingress" in types if types else True,
        egress="Egress" in types if types else has_egress,
        ingress_rules=len(rules),
        ingress_open=open_rule,
    )


ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")
GATEWAY_API_GROUP = "gateway.networking.k8s.io/"
GATEWAY_API_ROUTES = frozenset({"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"})


def _add_workload(obj: _Object, kind: str, namespace: str, name: str, into: K8sRead) -> None:
    workload = _workload(obj, kind, namespace, name)
    into.mesh_seen = (
        into.mesh_seen
        or any(k.startswith("sidecar.istio.io/") for k in workload.pod_annotations)
        or any(c.name == "istio-proxy" for c in workload.containers)
    )
    into.workloads.append(workload)


def _add_namespace(obj: _Object, kind: str, namespace: str, name: str, into: K8sRead) -> None:
    meta = obj.mapping(obj.data.get("metadata"), "metadata")
    labels = obj.string_map(meta.get("labels"), "metadata.labels")
    into.mesh_seen = into.mesh_seen or labels.get("istio-injection") == "enabled"
    annotations = obj.string_map(meta.get("annotations"), "metadata.annotations")
    into.namespaces.append(Namespace(name, labels, annotations))


Handler = Callable[[_Object, str, str, str, K8sRead], None]

_HANDLERS: dict[tuple[str, str], Handler] = {
    ("", "Service"): lambda o, k, ns, n, r: r.services.append(_service(o, ns, n)),
    ("", "Namespace"): _add_namespace,
    ("istio", "PeerAuthentication"): lambda o, k, ns, n, r: r.peer_authentications.append(
        _peer_authentication(o, ns, n)
    ),
    ("istio", "AuthorizationPolicy"): lambda o, k, ns, n, r: r.authorization_policies.append(
        _authorization_policy(o, ns, n)
    ),
    ("istio", "Gateway"): lambda o, k, ns, n, r: r.gateways.append(_istio_gateway(o, ns, n)),
    ("istio", "VirtualService"): lambda o, k, ns, n, r: r.routes.append(_virtual_service(o, ns, n)),
    ("istio", "DestinationRule"): lambda o, k, ns, n, r: r.destination_rules.append(
        _destination_rule(o, ns, n)
    ),
    ("gateway", "Gateway"): lambda o, k, ns, n, r: r.gateways.append(_api_gateway(o, ns, n)),
    **{
        ("gateway", route): lambda o, k, ns, n, r: r.routes.append(_api_route(o, k, ns, n))
        for route in GATEWAY_API_ROUTES
    },
    ("networking", "Ingress"): lambda o, k, ns, n, r: r.routes.append(_ingress(o, ns, n)),
    ("networking", "NetworkPolicy"): lambda o, k, ns, n, r: r.network_policies.append(
        _network_policy(o, ns, n)
    ),
}


def _group(api_version: str) -> str:
    if api_version == "v1":
        return ""
    if api_version.startswith(ISTIO_GROUPS):
        return "istio"
    if api_version.startswith(GATEWAY_API_GROUP):
        return "gateway"
    if api_version.startswith(("networking.k8s.io/", "extensions/")):
        return "networking"
    return api_version


def read_object(
    data: Mapping[str, Any], source: str, place: str, default_namespace: str, into: K8sRead
) -> None:
    """Parse one object (not a List) into ``into``; kinds not used are counted as skipped
    without being checked."""
    obj = _Object(data, source, place)
    kind = obj.text(data.get("kind"), "kind")
    api_version = obj.text(data.get("apiVersion"), "apiVersion") or ""
    if kind is None:
        into.warnings.append(f"{source}: {place}: no kind: not a Kubernetes object, skipped")
        return
    if "$patch" in data:
        into.warnings.append(f"{source}: {place}: a kustomize patch, not an object: skipped")
        return
    meta = obj.mapping(data.get("metadata"), "metadata")
    owned = bool(obj.items(meta.get("ownerReferences"), "metadata.ownerReferences"))
    group = _group(api_version)
    into.mesh_seen = into.mesh_seen or group == "istio"
    handler: Handler | None = _HANDLERS.get((group, kind))
    if kind in WORKLOAD_KINDS:
        handler = None if kind in CONTROLLED_KINDS and owned else _add_workload
    if handler is None:
        label = f"{kind} (owned by a controller)" if owned else kind
        into.skipped[label] = into.skipped.get(label, 0) + 1
        return
    name = obj.text(meta.get("name"), "metadata.name", required=True) or ""
    namespace = obj.text(meta.get("namespace"), "metadata.namespace") or default_namespace
    handler(obj, kind, namespace, name, into)
