"""A live cluster as the same input as manifests, through the ``kubernetes`` client (the
optional extra ``meshward[k8s]``).

Each list call's model objects are turned back into the API's own JSON shape
(``ApiClient.sanitize_for_serialization``: camelCase, no nulls) and read by the very parser
that reads ``kubectl get -o json``, so a cluster and its manifests give the same facts.
Custom resources (Istio, Gateway API) come from ``CustomObjectsApi`` as plain dicts; a
resource the cluster does not serve (no Istio installed) is skipped with a warning.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from meshward.errors import MeshwardError
from meshward.formats.k8s.objects import K8sRead, read_object

PAGE = 500

BUILTIN: tuple[tuple[str, str, str, str], ...] = (
    ("AppsV1Api", "list_deployment_for_all_namespaces", "apps/v1", "Deployment"),
    ("AppsV1Api", "list_stateful_set_for_all_namespaces", "apps/v1", "StatefulSet"),
    ("AppsV1Api", "list_daemon_set_for_all_namespaces", "apps/v1", "DaemonSet"),
    ("BatchV1Api", "list_cron_job_for_all_namespaces", "batch/v1", "CronJob"),
    ("BatchV1Api", "list_job_for_all_namespaces", "batch/v1", "Job"),
    ("CoreV1Api", "list_pod_for_all_namespaces", "v1", "Pod"),
    ("CoreV1Api", "list_service_for_all_namespaces", "v1", "Service"),
    ("CoreV1Api", "list_namespace", "v1", "Namespace"),
    (
        "NetworkingV1Api",
        "list_network_policy_for_all_namespaces",
        "networking.k8s.io/v1",
        "NetworkPolicy",
    ),
    ("NetworkingV1Api", "list_ingress_for_all_namespaces", "networking.k8s.io/v1", "Ingress"),
)
"""(API class, list method, apiVersion, kind): what ``kubectl get`` would list."""

CUSTOM: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("security.istio.io", ("v1", "v1beta1"), "peerauthentications", "PeerAuthentication"),
    ("security.istio.io", ("v1", "v1beta1"), "authorizationpolicies", "AuthorizationPolicy"),
    ("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "gateways", "Gateway"),
    ("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "virtualservices", "VirtualService"),
    ("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "destinationrules", "DestinationRule"),
    ("gateway.networking.k8s.io", ("v1", "v1beta1"), "gateways", "Gateway"),
    ("gateway.networking.k8s.io", ("v1", "v1beta1"), "httproutes", "HTTPRoute"),
)
"""(group, versions to try, plural, kind)."""


def kubernetes_client() -> Any:
    """The ``kubernetes.client`` module, or a MeshwardError saying how to get it."""
    try:
        return importlib.import_module("kubernetes.client")
    except ImportError:
        raise MeshwardError(
            "reading a live cluster needs the kubernetes client: "
            "pip install 'meshward[k8s]' (or pip install 'kubernetes>=29')"
        ) from None


def as_object(
    item: Any, api_version: str, kind: str, sanitize: Callable[[Any], Any]
) -> dict[str, Any]:
    """A client model object (or a dict) as the API's JSON, with its apiVersion and kind
    (typed list responses leave them out of their items)."""
    data = item if isinstance(item, Mapping) else sanitize(item)
    if not isinstance(data, Mapping):
        raise MeshwardError(f"the cluster returned a {kind} that is not an object")
    result = dict(data)
    result["apiVersion"] = result.get("apiVersion") or api_version
    result["kind"] = result.get("kind") or kind
    return result


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _continue_token(response: Any) -> str | None:
    meta = response.get("metadata") if isinstance(response, Mapping) else response.metadata
    if meta is None:
        return None
    if isinstance(meta, Mapping):
        token = meta.get("continue")
    else:
        token = getattr(meta, "var_continue", None) or getattr(meta, "_continue", None)
    return token if isinstance(token, str) and token else None


def _pages(call: Callable[..., Any]) -> Iterator[Any]:
    token: str | None = None
    while True:
        response = call(limit=PAGE, _continue=token) if token else call(limit=PAGE)
        items = response.get("items") if isinstance(response, Mapping) else response.items
        yield from items or []
        token = _continue_token(response)
        if token is None:
            return


def collect_objects(
    client: Any, api_client: Any, read: K8sRead, source: str, default_namespace: str = "default"
) -> None:
    """Every object the importer uses, listed across namespaces, into ``read``."""
    sanitize = api_client.sanitize_for_serialization
    read.files.append(source)

    def add(item: Any, api_version: str, kind: str) -> None:
        data = as_object(item, api_version, kind, sanitize)
        meta = data.get("metadata") or {}
        place = f"{kind} {meta.get('namespace') or '-'}/{meta.get('name') or '?'}"
        read_object(data, source, place, default_namespace, read)

    for class_name, method, api_version, kind in BUILTIN:
        api = getattr(client, class_name)(api_client)
        try:
            for item in _pages(getattr(api, method)):
                add(item, api_version, kind)
        except Exception as exc:
            if _status(exc) is None:
                raise
            raise MeshwardError(f"{source}: listing {kind} failed: HTTP {_status(exc)}") from None
    custom = client.CustomObjectsApi(api_client)
    for group, versions, plural, kind in CUSTOM:
        for version in versions:
            try:
                items = list(
                    _pages(
                        lambda version=version, plural=plural, group=group, **kw: (
                            custom.list_cluster_custom_object(group, version, plural, **kw)
                        )
                    )
                )
            except Exception as exc:
                if _status(exc) == 404:
                    continue  # this version (or the whole CRD) is not served
                if _status(exc) == 403:
                    read.warnings.append(f"{source}: not allowed to list {plural}.{group}")
                    break
                raise
            for item in items:
                add(item, f"{group}/{version}", kind)
            break
        else:
            read.warnings.append(f"{source}: the cluster serves no {plural}.{group}")


def read_cluster(kubeconfig: Path, context: str | None = None) -> K8sRead:
    """Everything the importer uses from the cluster a kubeconfig (and context) names."""
    client = kubernetes_client()
    config = importlib.import_module("kubernetes.config")
    try:
        api_client = config.new_client_from_config(str(kubeconfig), context=context)
    except Exception as exc:  # ConfigException, a missing or unreadable file, a bad context
        raise MeshwardError(f"{kubeconfig}: cannot use this kubeconfig: {exc}") from None
    read = K8sRead()
    try:
        collect_objects(client, api_client, read, f"cluster:{context or 'current-context'}")
    except MeshwardError:
        raise
    except Exception as exc:  # urllib3 and client errors: unreachable, TLS, auth
        raise MeshwardError(f"cannot read the cluster: {type(exc).__name__}: {exc}") from None
    finally:
        close = getattr(api_client, "close", None)
        if callable(close):
            close()
    return read
