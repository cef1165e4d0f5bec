"""The facts a rule may read, with their types: the schema every KB condition is checked against.

A service's facts come from four places, each under its own prefix:

* ``survey.<question id>`` — the answers (type from the question; options are the values);
* ``sbom.*`` — inferred from the component version's SBOM (languages, frameworks, datastores);
* ``graph.*`` — inferred from the catalog: API links, environments, deployments, platforms;
* ``component.*`` — the catalog entry itself.

Link threats read ``link.*`` plus the facts of both ends under ``consumer.`` and ``provider.``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

FactType = Literal["bool", "str", "int", "list"]


@dataclass(frozen=True, slots=True)
class FactSpec:
    type: FactType
    doc: str
    values: frozenset[str] | None = None
    """The closed set of values (question options, known languages); None when open."""


LANGUAGES = frozenset(
    {
        "python",
        "java",
        "kotlin",
        "go",
        "javascript",
        "typescript",
        "csharp",
        "ruby",
        "php",
        "rust",
        "c",
        "cpp",
        "scala",
        "swift",
        "dart",
        "elixir",
        "haskell",
    }
)
FRAMEWORKS = frozenset(
    {
        "django",
        "flask",
        "fastapi",
        "starlette",
        "spring",
        "spring-boot",
        "quarkus",
        "micronaut",
        "express",
        "nestjs",
        "koa",
        "fastify",
        "nextjs",
        "react",
        "angular",
        "vue",
        "aspnetcore",
        "gin",
        "echo",
        "fiber",
        "grpc",
        "rails",
        "sinatra",
        "laravel",
        "symfony",
        "actix",
        "axum",
        "phoenix",
    }
)
DATASTORES = frozenset(
    {
        "postgres",
        "mysql",
        "sqlserver",
        "oracle",
        "sqlite",
        "mongodb",
        "redis",
        "cassandra",
        "elasticsearch",
        "dynamodb",
        "s3",
    }
)
MESSAGING = frozenset({"kafka", "rabbitmq", "nats", "sqs", "pubsub"})
PLATFORM_CAPABILITIES = frozenset(
    {
        "mtls",
        "rate_limiting",
        "waf",
        "secrets_vault",
        "authz_policy",
        "network_policy",
        "workload_identity",
        "tls_termination",
        "image_signing",
        "runtime_hardening",
    }
)
"""What a platform component (mesh, gateway, vault, ...) can give every service on it."""

SERVICE_FACTS: dict[str, FactSpec] = {
    "component.type": FactSpec("str", "Backstage spec.type: service, website, library, ..."),
    "component.lifecycle": FactSpec("str", "Backstage spec.lifecycle: production, experimental"),
    "component.domain": FactSpec("str", "dotted domain path"),
    "sbom.present": FactSpec("bool", "the component version has an SBOM"),
    "sbom.package_count": FactSpec("int", "packages in the SBOM"),
    "sbom.ecosystems": FactSpec("list", "package ecosystems (pypi, maven, npm, ...)"),
    "sbom.languages": FactSpec("list", "languages inferred from packages", LANGUAGES),
    "sbom.frameworks": FactSpec("list", "frameworks inferred from packages", FRAMEWORKS),
    "sbom.datastores": FactSpec("list", "datastore clients among packages", DATASTORES),
    "sbom.messaging": FactSpec("list", "messaging clients among packages", MESSAGING),
    "sbom.xml_parsers": FactSpec("bool", "an XML parsing library is present"),
    "sbom.template_engines": FactSpec("bool", "a server-side template engine is present"),
    "graph.internet_facing": FactSpec("bool", "reachable from the internet (gateway, survey)"),
    "graph.consumer_count": FactSpec("int", "components that consume an API of this one"),
    "graph.provider_count": FactSpec("int", "components whose APIs this one consumes"),
    "graph.consumes_cross_zone": FactSpec("bool", "calls a service in another trust zone"),
    "graph.consumed_cross_zone": FactSpec("bool", "is called from another trust zone"),
    "graph.environments": FactSpec("list", "environments it runs in now"),
    "graph.runs_in_prod": FactSpec("bool", "deployed now in a production environment"),
    "graph.platforms": FactSpec(
        "list", "capabilities of platforms it runs on or behind", PLATFORM_CAPABILITIES
    ),
    "graph.stores_personal_data": FactSpec("bool", "holds personal data (survey data classes)"),
    "graph.stores_payment_data": FactSpec("bool", "holds payment data (survey data classes)"),
    "graph.shares_datastore_across_domains": FactSpec(
        "bool",
        "a datastore it uses is also used by another domain (survey, or a catalog Resource "
        "both depend on)",
    ),
}

LINK_FACTS: dict[str, FactSpec] = {
    "link.api_type": FactSpec("str", "openapi, grpc, graphql, asyncapi, ..."),
    "link.crosses_trust_boundary": FactSpec(
        "bool", "crosses an environment, namespace, cluster or zone (a domain alone is not)"
    ),
    "link.crosses_environment": FactSpec("bool", "the two ends run in different environments"),
    "link.crosses_namespace": FactSpec("bool", "different Kubernetes namespaces"),
    "link.crosses_cluster": FactSpec("bool", "different clusters"),
    "link.crosses_zone": FactSpec("bool", "different trust zones named in the survey"),
    "link.crosses_domain": FactSpec("bool", "the ends belong to different business domains"),
    "link.plaintext": FactSpec("bool", "the provider accepts a plaintext protocol"),
    "link.mutual_auth": FactSpec("bool", "the provider authenticates callers mutually (mTLS)"),
    "link.asynchronous": FactSpec("bool", "a message or event API rather than a call"),
    "link.provider_deprecated": FactSpec("bool", "the provider's API or component is deprecated"),
}


PEER_HIDDEN = frozenset(
    {
        "graph.consumer_count",
        "graph.provider_count",
        "graph.consumes_cross_zone",
        "graph.consumed_cross_zone",
    }
)
"""Service facts about a service's *other* links: a link rule reads the two ends' facts
without them (the link's own crossing facts say what matters), so a link's facts come from
the two ends alone."""


class FactSchema:
    """Fact paths and their specs; ``get`` for checks, ``closest`` for helpful errors."""

    def __init__(self, specs: Mapping[str, FactSpec]) -> None:
        self.specs = dict(specs)

    def get(self, path: str) -> FactSpec | None:
        return self.specs.get(path)

    def closest(self, path: str) -> str | None:
        near = difflib.get_close_matches(path, self.specs, n=1, cutoff=0.6)
        return near[0] if near else None

    def __contains__(self, path: object) -> bool:
        return path in self.specs


def service_schema(survey: Iterable[tuple[str, FactSpec]]) -> FactSchema:
    """The schema of service facts, with one ``survey.<id>`` entry per question."""
    specs = dict(SERVICE_FACTS)
    specs.update((f"survey.{qid}", spec) for qid, spec in survey)
    return FactSchema(specs)


def link_schema(service: FactSchema) -> FactSchema:
    """Link facts plus both ends' service facts under ``consumer.`` and ``provider.``."""
    specs = dict(LINK_FACTS)
    for path, spec in service.specs.items():
        if path not in PEER_HIDDEN:
            specs[f"consumer.{path}"] = spec
            specs[f"provider.{path}"] = spec
    return FactSchema(specs)
