"""The shipped threat catalogue: complete against the fixed index, well-typed, and rules that fire
exactly where a threat is relevant (checked with hand-made facts, not with the rule engine)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

import meshward.kb
from meshward.kb.conditions import Facts, check, evaluate
from meshward.kb.facts import FactSchema, FactSpec, FactType, link_schema, service_schema
from meshward.kb.schema import Question, Threat

CONTENT = Path(meshward.kb.__file__).parent / "content"

# The fixed catalogue index: id -> (STRIDE, scope, key CWE ids). Controls refer to these ids.
INDEX: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "T-SQL-INJECTION": ("tampering", "service", (89,)),
    "T-NOSQL-INJECTION": ("tampering", "service", (943,)),
    "T-COMMAND-INJECTION": ("elevation_of_privilege", "service", (78, 77)),
    "T-CODE-INJECTION": ("elevation_of_privilege", "service", (94, 1336)),
    "T-LDAP-INJECTION": ("tampering", "service", (90,)),
    "T-SEARCH-QUERY-INJECTION": ("tampering", "service", (74,)),
    "T-XSS": ("tampering", "service", (79, 80)),
    "T-CSRF": ("tampering", "service", (352,)),
    "T-CLICKJACKING": ("tampering", "service", (1021,)),
    "T-OPEN-REDIRECT": ("spoofing", "service", (601,)),
    "T-PATH-TRAVERSAL": ("information_disclosure", "service", (22, 23, 36)),
    "T-MALICIOUS-FILE-UPLOAD": ("elevation_of_privilege", "service", (434,)),
    "T-INSECURE-DESERIALIZATION": ("elevation_of_privilege", "service", (502,)),
    "T-XXE": ("information_disclosure", "service", (611, 776)),
    "T-SSRF": ("information_disclosure", "service", (918,)),
    "T-MISSING-AUTHENTICATION": ("spoofing", "service", (306,)),
    "T-BROKEN-AUTHENTICATION": ("spoofing", "service", (287, 307, 521, 640)),
    "T-MISSING-MFA": ("spoofing", "service", (308,)),
    "T-CREDENTIAL-STUFFING": ("spoofing", "service", (307, 1216)),
    "T-SESSION-HIJACKING": ("spoofing", "service", (384, 613, 614, 1004)),
    "T-TOKEN-FORGERY": ("spoofing", "service", (347, 345)),
    "T-OAUTH-MISCONFIGURATION": ("spoofing", "service", (601, 346, 1390)),
    "T-BROKEN-OBJECT-AUTHORIZATION": ("elevation_of_privilege", "service", (639, 862, 863)),
    "T-MISSING-FUNCTION-AUTHORIZATION": ("elevation_of_privilege", "service", (862, 285, 269)),
    "T-MASS-ASSIGNMENT": ("tampering", "service", (915,)),
    "T-GRAPHQL-ABUSE": ("denial_of_service", "service", (770, 400)),
    "T-BUSINESS-LOGIC-ABUSE": ("tampering", "service", (840, 841, 362)),
    "T-SENSITIVE-DATA-EXPOSURE": ("information_disclosure", "service", (200, 359, 312)),
    "T-UNENCRYPTED-DATA-AT-REST": ("information_disclosure", "service", (311, 312)),
    "T-WEAK-CRYPTOGRAPHY": ("information_disclosure", "service", (327, 328, 330, 916)),
    "T-HARDCODED-SECRETS": ("information_disclosure", "service", (798, 259, 321)),
    "T-LONG-LIVED-CREDENTIALS": ("spoofing", "service", (324, 798)),
    "T-SECRETS-IN-LOGS": ("information_disclosure", "service", (532, 117)),
    "T-INSUFFICIENT-LOGGING": ("repudiation", "service", (778, 223)),
    "T-LOG-INJECTION": ("repudiation", "service", (117,)),
    "T-VERBOSE-ERRORS": ("information_disclosure", "service", (209, 215, 489)),
    "T-RESOURCE-EXHAUSTION": ("denial_of_service", "service", (400, 770, 1333)),
    "T-VULNERABLE-DEPENDENCY": ("elevation_of_privilege", "service", (1395, 1104)),
    "T-SUPPLY-CHAIN-TAMPERING": ("tampering", "service", (494, 829, 353)),
    "T-CONTAINER-ESCAPE": ("elevation_of_privilege", "service", (250, 269)),
    "T-KUBERNETES-MISCONFIGURATION": ("elevation_of_privilege", "service", (732, 250, 16)),
    "T-SECURITY-MISCONFIGURATION": ("information_disclosure", "service", (16, 1188, 489)),
    "T-MEMORY-CORRUPTION": (
        "elevation_of_privilege",
        "service",
        (787, 125, 416, 119, 120, 121, 122, 476, 190),
    ),
    "T-WEBRTC-ABUSE": ("information_disclosure", "service", (319, 306)),
    "T-EMAIL-ABUSE": ("spoofing", "service", (93, 290)),
    "T-UNGUARDED-INTERNET-ACCESS": ("elevation_of_privilege", "service", (284,)),
    "T-NO-RATE-LIMIT-PUBLIC-ENTRY": ("denial_of_service", "service", (770, 307)),
    "T-SCATTERED-AUTHORIZATION": ("elevation_of_privilege", "service", (285, 863)),
    "T-SHARED-DATASTORE": ("tampering", "service", (284, 668)),
    "T-MISSING-NETWORK-SEGMENTATION": ("elevation_of_privilege", "service", (923, 284)),
    "T-INCOMPLETE-MODEL": ("repudiation", "service", (1059,)),
    "T-LINK-CROSSES-TRUST-BOUNDARY": ("tampering", "link", (501, 923)),
    "T-LINK-PLAINTEXT": ("information_disclosure", "link", (319,)),
    "T-LINK-NO-MUTUAL-AUTH": ("spoofing", "link", (306, 295)),
    "T-LINK-MISSING-IDENTITY-PROPAGATION": ("repudiation", "link", (285, 441)),
    "T-LINK-CONFUSED-DEPUTY": ("elevation_of_privilege", "link", (441, 863)),
    "T-LINK-SENSITIVE-DATA-ACROSS-BOUNDARY": ("information_disclosure", "link", (319, 200)),
    "T-LINK-DOS-ACROSS-BOUNDARY": ("denial_of_service", "link", (400, 770)),
    "T-LINK-UNAUTHENTICATED-EVENTS": ("spoofing", "link", (345, 290)),
    "T-LINK-DEPRECATED-DEPENDENCY": ("tampering", "link", (1104,)),
}
SENSITIVE = ["personal"]


@cache
def schemas() -> tuple[FactSchema, FactSchema]:
    """Service and link schemas with one survey.<id> fact per shipped question."""
    data = yaml.safe_load((CONTENT / "survey.yaml").read_text(encoding="utf-8"))
    questions = [Question.model_validate(q) for q in data["questions"]]
    types: dict[str, FactType] = {"single": "str", "multi": "list", "bool": "bool", "text": "str"}

    def spec(q: Question) -> FactSpec:
        values = frozenset(o.value for o in q.options) if q.options else None
        return FactSpec(types[q.type], q.text, values)

    service = service_schema((q.id, spec(q)) for q in questions)
    return service, link_schema(service)


@cache
def catalogue() -> dict[str, Threat]:
    threats: dict[str, Threat] = {}
    for name in ("service.yaml", "link.yaml"):
        for entry in yaml.safe_load((CONTENT / "threats" / name).read_text(encoding="utf-8")):
            threat = Threat.model_validate(entry)
            assert threat.id not in threats, f"duplicate threat id {threat.id}"
            threats[threat.id] = threat
    return threats


def applies(threat_id: str, facts: Facts) -> bool:
    return evaluate(catalogue()[threat_id].applies_when, facts).result


def fired(facts: Facts, scope: str = "service") -> set[str]:
    return {
        t.id
        for t in catalogue().values()
        if t.scope == scope and evaluate(t.applies_when, facts).result
    }


# An internal JSON-over-gRPC service: no browsers, no sessions, service identity by mTLS.
INTERNAL: dict[str, Any] = {
    "survey.exposure": "internal",
    "survey.data_classes": ["public"],
    "survey.user_auth": "none",
    "survey.service_auth": "mtls",
    "survey.authz_location": "mesh",
    "survey.protocols": ["grpc_tls"],
    "survey.features": [],
    "survey.credentials": "workload_identity",
    "survey.runtime": "kubernetes",
    "survey.zone": "core",
    "component.type": "service",
    "sbom.present": True,
    "sbom.languages": ["go"],
    "sbom.frameworks": ["grpc"],
    "sbom.datastores": [],
    "graph.internet_facing": False,
    "graph.runs_in_prod": True,
    "graph.consumer_count": 2,
    "graph.platforms": ["mtls", "network_policy"],
}


def test_every_index_threat_is_present_with_its_stride_scope_and_key_cwes() -> None:
    threats = catalogue()
    assert set(INDEX) <= set(threats), sorted(set(INDEX) - set(threats))
    for tid, (stride, scope, cwes) in INDEX.items():
        threat = threats[tid]
        assert threat.stride == stride, tid
        assert threat.scope == scope, tid
        assert set(cwes) <= set(threat.cwe), (tid, sorted(set(cwes) - set(threat.cwe)))


def test_link_threats_live_in_link_yaml_and_read_only_link_facts() -> None:
    links = yaml.safe_load((CONTENT / "threats" / "link.yaml").read_text(encoding="utf-8"))
    assert {e["id"] for e in links} == {t for t, (_, scope, _) in INDEX.items() if scope == "link"}
    for threat in catalogue().values():
        read = threat.applies_when.facts_read()
        if threat.scope == "link":
            assert all(p.split(".")[0] in {"link", "consumer", "provider"} for p in read), threat.id
        else:
            assert all(p.split(".")[0] in {"survey", "sbom", "graph", "component"} for p in read)


@pytest.mark.parametrize("threat_id", sorted(catalogue()))
def test_rule_paths_and_values_fit_the_facts_schema(threat_id: str) -> None:
    service, link = schemas()
    threat = catalogue()[threat_id]
    check(threat.applies_when, link if threat.scope == "link" else service, threat.id)


def test_texts_ratings_and_references_are_filled_in() -> None:
    for threat in catalogue().values():
        sentences = [s for s in threat.description.replace("\n", " ").split(". ") if s.strip()]
        assert 3 <= len(sentences) <= 6, (threat.id, len(sentences))
        assert threat.cwe, threat.id
        assert 1 <= threat.likelihood <= 5 and 1 <= threat.impact <= 5
    unreferenced = [t.id for t in catalogue().values() if not t.capec]
    assert set(unreferenced) <= {"T-INCOMPLETE-MODEL", "T-LINK-DEPRECATED-DEPENDENCY"}


def test_sql_feature_gives_sql_injection_and_nothing_gives_neither() -> None:
    with_sql = {**INTERNAL, "survey.features": ["sql"]}
    assert applies("T-SQL-INJECTION", with_sql)
    assert not applies("T-NOSQL-INJECTION", with_sql)
    assert not applies("T-SQL-INJECTION", INTERNAL)
    assert not applies("T-NOSQL-INJECTION", INTERNAL)


def test_sbom_datastores_stand_in_for_features_only_while_unanswered() -> None:
    postgres = {**INTERNAL, "sbom.datastores": ["postgres", "mongodb"]}
    assert not applies("T-SQL-INJECTION", postgres)  # the answer (no sql feature) wins
    unanswered = {k: v for k, v in postgres.items() if k != "survey.features"}
    assert applies("T-SQL-INJECTION", unanswered)
    assert applies("T-NOSQL-INJECTION", unanswered)


def test_internal_service_without_html_gets_no_browser_threats() -> None:
    got = fired(INTERNAL)
    assert not got & {"T-XSS", "T-CSRF", "T-CLICKJACKING", "T-SESSION-HIJACKING", "T-OPEN-REDIRECT"}
    # exposure-driven threats stay off for an internal, mTLS-authenticated, segmented service
    assert not got & {
        "T-MISSING-AUTHENTICATION",
        "T-VERBOSE-ERRORS",
        "T-RESOURCE-EXHAUSTION",
        "T-UNGUARDED-INTERNET-ACCESS",
        "T-NO-RATE-LIMIT-PUBLIC-ENTRY",
        "T-MISSING-NETWORK-SEGMENTATION",
        "T-LONG-LIVED-CREDENTIALS",
        "T-INCOMPLETE-MODEL",
    }
    # what every service faces, plus what its runtime and production status bring
    assert got == {
        "T-HARDCODED-SECRETS",
        "T-SECRETS-IN-LOGS",
        "T-LOG-INJECTION",
        "T-VULNERABLE-DEPENDENCY",
        "T-SUPPLY-CHAIN-TAMPERING",
        "T-SECURITY-MISCONFIGURATION",
        "T-CONTAINER-ESCAPE",
        "T-KUBERNETES-MISCONFIGURATION",
        "T-INSUFFICIENT-LOGGING",
    }


def test_storefront_with_sessions_gets_the_browser_threats() -> None:
    storefront = {
        **INTERNAL,
        "survey.exposure": "internet",
        "survey.user_auth": "oidc",
        "survey.sessions": True,
        "survey.mfa": False,
        "survey.data_classes": ["personal"],
        "survey.features": ["renders_html"],
        "sbom.frameworks": ["express", "react"],
        "sbom.languages": ["typescript"],
        "graph.internet_facing": True,
        "graph.platforms": ["rate_limiting"],
    }
    got = fired(storefront)
    assert {
        "T-XSS",
        "T-CSRF",
        "T-CLICKJACKING",
        "T-SESSION-HIJACKING",
        "T-MISSING-MFA",
        "T-TOKEN-FORGERY",
        "T-OAUTH-MISCONFIGURATION",
        "T-BROKEN-OBJECT-AUTHORIZATION",
        "T-MASS-ASSIGNMENT",
        "T-PROTOTYPE-POLLUTION",
        "T-UNGUARDED-INTERNET-ACCESS",
        "T-MISSING-NETWORK-SEGMENTATION",
    } <= got
    assert "T-NO-RATE-LIMIT-PUBLIC-ENTRY" not in got  # the gateway limits rates
    assert "T-CREDENTIAL-STUFFING" not in got  # no passwords handled here
    assert "T-MISSING-MFA" not in fired({**storefront, "survey.mfa": True})
    # a page that renders HTML but keeps no session cannot be clickjacked into an action
    assert not applies("T-CLICKJACKING", {**storefront, "survey.sessions": False})
    assert applies("T-XSS", {**storefront, "survey.sessions": False})


def test_unconfirmed_protections_count_as_absent() -> None:
    stores = {**INTERNAL, "survey.stores_data": True}
    assert applies("T-UNENCRYPTED-DATA-AT-REST", stores)
    assert not applies("T-UNENCRYPTED-DATA-AT-REST", {**stores, "survey.encrypted_at_rest": True})
    assert not applies("T-UNENCRYPTED-DATA-AT-REST", INTERNAL)


def test_missing_authentication_cases() -> None:
    assert applies("T-MISSING-AUTHENTICATION", {**INTERNAL, "survey.service_auth": "none"})
    public_api = {
        **INTERNAL,
        "survey.exposure": "internet",
        "survey.user_auth": "anonymous",
        "survey.data_classes": ["public"],
    }
    assert not applies("T-MISSING-AUTHENTICATION", public_api)  # public data, anonymous by design
    assert applies("T-MISSING-AUTHENTICATION", {**public_api, "survey.data_classes": ["personal"]})
    partner = {**public_api, "survey.exposure": "partner", "survey.user_auth": "none"}
    assert applies("T-MISSING-AUTHENTICATION", {**partner, "survey.service_auth": "network"})
    assert not applies("T-MISSING-AUTHENTICATION", {**partner, "survey.service_auth": "jwt"})
    # a storefront no service calls: how services would authenticate to it does not matter
    website = {
        **INTERNAL,
        "survey.exposure": "internet",
        "survey.user_auth": "oidc",
        "survey.service_auth": "none",
        "survey.data_classes": ["personal"],
        "graph.consumer_count": 0,
    }
    assert not applies("T-MISSING-AUTHENTICATION", website)


def test_incomplete_model_without_sbom_or_zone() -> None:
    assert applies("T-INCOMPLETE-MODEL", {**INTERNAL, "sbom.present": False})
    assert applies("T-INCOMPLETE-MODEL", {k: v for k, v in INTERNAL.items() if k != "survey.zone"})


def _end(prefix: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in facts.items()}


LINK: dict[str, Any] = {
    "link.api_type": "grpc",
    "link.crosses_trust_boundary": False,
    "link.plaintext": False,
    "link.mutual_auth": True,
    "link.asynchronous": False,
    "link.provider_deprecated": False,
    **_end("consumer", INTERNAL),
    **_end("provider", INTERNAL),
}


def test_plain_internal_mtls_link_has_no_threats() -> None:
    assert fired(LINK, scope="link") == set()


def test_plaintext_link_gets_link_plaintext() -> None:
    assert fired({**LINK, "link.plaintext": True}, scope="link") == {"T-LINK-PLAINTEXT"}


def test_link_without_caller_authentication() -> None:
    no_mtls = {
        **LINK,
        "link.mutual_auth": False,
        "provider.survey.service_auth": "api_key",
        "provider.graph.platforms": [],
    }
    assert applies("T-LINK-NO-MUTUAL-AUTH", no_mtls)
    assert not applies("T-LINK-NO-MUTUAL-AUTH", {**no_mtls, "provider.survey.service_auth": "jwt"})


def test_boundary_crossing_to_sensitive_unthrottled_provider() -> None:
    crossing = {
        **LINK,
        "link.crosses_trust_boundary": True,
        "provider.survey.data_classes": ["payment"],
        "consumer.survey.exposure": "internet",
        "consumer.graph.internet_facing": True,
        "consumer.survey.user_auth": "oidc",
        "consumer.survey.propagates_identity": False,
    }
    assert fired(crossing, scope="link") == {
        "T-LINK-CROSSES-TRUST-BOUNDARY",
        "T-LINK-SENSITIVE-DATA-ACROSS-BOUNDARY",
        "T-LINK-DOS-ACROSS-BOUNDARY",
        "T-LINK-MISSING-IDENTITY-PROPAGATION",
        "T-LINK-CONFUSED-DEPUTY",
    }
    propagating = {**crossing, "consumer.survey.propagates_identity": True}
    limited = {**propagating, "provider.graph.platforms": ["mtls", "rate_limiting"]}
    assert fired(limited, scope="link") == {
        "T-LINK-CROSSES-TRUST-BOUNDARY",
        "T-LINK-SENSITIVE-DATA-ACROSS-BOUNDARY",
    }


def test_unauthenticated_events_and_deprecated_provider() -> None:
    events = {**LINK, "link.asynchronous": True, "link.mutual_auth": False}
    assert applies("T-LINK-UNAUTHENTICATED-EVENTS", events)
    assert not applies("T-LINK-UNAUTHENTICATED-EVENTS", {**events, "link.mutual_auth": True})
    assert fired({**LINK, "link.provider_deprecated": True}, scope="link") == {
        "T-LINK-DEPRECATED-DEPENDENCY"
    }
