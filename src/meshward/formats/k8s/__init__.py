"""Kubernetes in: workloads, Services, Istio, Gateway API and NetworkPolicies, parsed only.

``read_manifests`` reads files and folders (manifests or ``kubectl get -o json``),
``live.read_cluster`` a cluster; ``mesh_facts`` and ``platform_grants`` say what the mesh,
the gateways and the policies mean per workload and per namespace; ``rules`` maps images to
components. Nothing here touches the database (``services.k8s_import`` does).
"""

from meshward.formats.k8s.images import ImageRef, ImageReferenceError, parse_image_reference
from meshward.formats.k8s.mesh import (
    Exposure,
    MeshFacts,
    PlatformGrant,
    mesh_facts,
    platform_grants,
)
from meshward.formats.k8s.objects import (
    AuthorizationPolicy,
    Container,
    DestinationRule,
    Gateway,
    K8sRead,
    LabelSelector,
    NetworkPolicy,
    PeerAuthentication,
    Route,
    SecurityContext,
    Service,
    Workload,
)
from meshward.formats.k8s.reader import read_manifests, read_text
from meshward.formats.k8s.rules import MappingRules, RuleMatch, match_rules, parse_rules

__all__ = [
    "AuthorizationPolicy",
    "Container",
    "DestinationRule",
    "Exposure",
    "Gateway",
    "ImageRef",
    "ImageReferenceError",
    "K8sRead",
    "LabelSelector",
    "MappingRules",
    "MeshFacts",
    "NetworkPolicy",
    "PeerAuthentication",
    "PlatformGrant",
    "Route",
    "RuleMatch",
    "SecurityContext",
    "Service",
    "Workload",
    "match_rules",
    "mesh_facts",
    "parse_image_reference",
    "parse_rules",
    "platform_grants",
    "read_manifests",
    "read_text",
]
