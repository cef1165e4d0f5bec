"""The application-security controls (ASVS V1-V10, V17): coverage, honesty and precision.

These controls become the coding tasks of every service, and scanner results are matched to
them by CWE and rule pattern. So the checks are: every application threat has a control, the
ASVS chapters and CWE Top 25 entries of this part are covered, the ids cited are real, the
central coding controls show all seven stacks, a real scanner rule id lands on the right
control (and not on a neighbour), and narrowed controls only apply where they make sense.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshward.kb.conditions import FactValue, check, evaluate
from meshward.kb.loader import KnowledgeBase, load_kb
from meshward.kb.schema import Control

from .support import CONTENT, SEVEN_STACKS, asvs_5_chapter, known_asvs_ids, known_cwe_ids

APPLICATION = CONTENT / "controls" / "application.yaml"

OWNED_THREATS = {
    "T-SQL-INJECTION",
    "T-NOSQL-INJECTION",
    "T-COMMAND-INJECTION",
    "T-CODE-INJECTION",
    "T-LDAP-INJECTION",
    "T-SEARCH-QUERY-INJECTION",
    "T-XSS",
    "T-CSRF",
    "T-CLICKJACKING",
    "T-OPEN-REDIRECT",
    "T-PATH-TRAVERSAL",
    "T-MALICIOUS-FILE-UPLOAD",
    "T-INSECURE-DESERIALIZATION",
    "T-XXE",
    "T-SSRF",
    "T-MISSING-AUTHENTICATION",
    "T-BROKEN-AUTHENTICATION",
    "T-MISSING-MFA",
    "T-CREDENTIAL-STUFFING",
    "T-SESSION-HIJACKING",
    "T-TOKEN-FORGERY",
    "T-OAUTH-MISCONFIGURATION",
    "T-BROKEN-OBJECT-AUTHORIZATION",
    "T-MISSING-FUNCTION-AUTHORIZATION",
    "T-MASS-ASSIGNMENT",
    "T-GRAPHQL-ABUSE",
    "T-BUSINESS-LOGIC-ABUSE",
    "T-EMAIL-ABUSE",
    "T-WEBRTC-ABUSE",
    "T-WEBSOCKET-HIJACKING",
    "T-PROTOTYPE-POLLUTION",
}
CHAPTERS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17}
TOP25 = {79, 89, 352, 22, 78, 77, 862, 863, 434, 94, 20, 287, 306, 502, 918, 639}
# Injection, XSS, CSRF, authentication, authorisation, sessions, tokens, SSRF, deserialisation.
CENTRAL_CODING = {
    "C-PARAMETERISED-QUERIES",
    "C-NOSQL-TYPED-QUERIES",
    "C-SAFE-COMMAND-EXECUTION",
    "C-NO-DYNAMIC-CODE-EVALUATION",
    "C-NO-TEMPLATE-INJECTION",
    "C-LDAP-FILTER-ESCAPING",
    "C-SEARCH-QUERY-STRUCTURE",
    "C-XML-PARSER-HARDENING",
    "C-CONTEXTUAL-OUTPUT-ENCODING",
    "C-CSRF-TOKENS",
    "C-SAFE-FILE-PATHS",
    "C-SAFE-DESERIALIZATION",
    "C-SSRF-EGRESS-ALLOWLIST",
    "C-AUTHENTICATION-BY-DEFAULT",
    "C-JWT-VALIDATION",
    "C-SECURE-SESSION-COOKIES",
    "C-SESSION-ROTATION-ON-LOGIN",
    "C-OBJECT-LEVEL-AUTHORIZATION",
    "C-FUNCTION-LEVEL-AUTHORIZATION",
    "C-MASS-ASSIGNMENT-ALLOWLIST",
    "C-SERVER-SIDE-INPUT-VALIDATION",
}
# Media transport lives in WebRTC stacks (pion, the browser), not in web frameworks.
NOT_WEB_FRAMEWORK_CODE = {"C-WEBRTC-MEDIA-ENCRYPTION", "C-PROTOTYPE-POLLUTION-SAFE-MERGE"}
"""Controls whose code is for one language's runtimes, not the seven web stacks."""
# Topics of controls/platform.yaml: an application control id must not claim them.
PLATFORM_WORDS = {"SECRET", "SECRETS", "TLS", "MTLS", "LOG", "LOGS", "LOGGING", "CONTAINER"}
PLATFORM_WORDS |= {"CONTAINERS", "DEPENDENCY", "DEPENDENCIES"}
TOOLS = ("bandit", "semgrep", "codeql", "eslint", "zap", "trivy", "grype")


@pytest.fixture(scope="module")
def raw() -> list[dict[str, Any]]:
    data = yaml.safe_load(APPLICATION.read_text(encoding="utf-8"))
    assert isinstance(data, list), "application.yaml must be a plain list"
    return data


@pytest.fixture(scope="module")
def controls(raw: list[dict[str, Any]]) -> dict[str, Control]:
    parsed = [Control.model_validate(entry) for entry in raw]
    ids = [c.id for c in parsed]
    assert len(ids) == len(set(ids)), "duplicate control ids"
    return {c.id: c for c in parsed}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb(overlay=False)


def _stacks(control: Control) -> set[tuple[str, str | None]]:
    """Go counts as one stack whatever the router (net/http, gorilla, gqlgen)."""
    return {
        (s.language, None if s.language == "go" else s.framework)
        for s in control.code_samples
        if s.language != "any"
    }


def _matches(controls: Mapping[str, Control], rule: str) -> set[str]:
    return {
        c.id
        for c in controls.values()
        if any(fnmatchcase(rule, p) for p in c.verification.rule_patterns)
    }


def test_enough_controls_and_every_owned_threat_mitigated(controls: dict[str, Control]) -> None:
    assert len(controls) >= 34
    mitigated = {t for c in controls.values() for t in c.mitigates}
    assert mitigated >= OWNED_THREATS, sorted(OWNED_THREATS - mitigated)
    assert mitigated <= OWNED_THREATS, sorted(mitigated - OWNED_THREATS)


def test_ids_stay_out_of_the_platform_file(controls: dict[str, Control]) -> None:
    for control_id in controls:
        words = set(control_id.split("-"))
        assert not words & PLATFORM_WORDS, control_id
        assert "RATE-LIMIT" not in control_id, control_id
    platform = CONTENT / "controls" / "platform.yaml"
    if platform.exists():
        theirs = {e["id"] for e in yaml.safe_load(platform.read_text(encoding="utf-8")) or []}
        assert not theirs & set(controls), sorted(theirs & set(controls))


def test_asvs_chapters_and_cwe_top25(controls: dict[str, Control]) -> None:
    chapters = {asvs_5_chapter(a) for c in controls.values() for a in c.asvs}
    assert chapters >= CHAPTERS, sorted(CHAPTERS - chapters)
    cwes = {w for c in controls.values() for w in c.verification.cwe}
    assert cwes >= TOP25, sorted(TOP25 - cwes)


def test_each_control_is_actionable(controls: dict[str, Control]) -> None:
    for c in controls.values():
        assert 3 <= len(c.test_plan) <= 7, c.id
        assert 1 <= len(c.asvs) <= 4, c.id
        assert len(set(c.test_plan)) == len(c.test_plan), c.id
        assert len(c.description) >= 200, f"{c.id}: the description explains too little"


def test_code_sample_stacks(controls: dict[str, Control]) -> None:
    for control_id in CENTRAL_CODING:
        missing = SEVEN_STACKS - _stacks(controls[control_id])
        assert not missing, (control_id, sorted(missing, key=str))
    for c in controls.values():
        config = [s for s in c.code_samples if s.language == "any"]
        if c.code_samples and not config and c.id not in NOT_WEB_FRAMEWORK_CODE:
            assert len(_stacks(c) & SEVEN_STACKS) >= 4, (c.id, _stacks(c))
        pairs = [(s.language, s.framework) for s in c.code_samples]
        assert len(pairs) == len(set(pairs)), f"{c.id}: two samples for one stack"


def test_rule_patterns_are_well_formed(controls: dict[str, Control]) -> None:
    for c in controls.values():
        for pattern in c.verification.rule_patterns:
            tool, _, rule = pattern.partition(":")
            assert tool in TOOLS and rule, (c.id, pattern)
            if tool == "bandit":
                assert re.fullmatch(r"B[0-9\[\]-]{3,7}", rule), (c.id, pattern)
            if tool == "zap":
                assert rule.isdigit(), (c.id, pattern)


@pytest.mark.parametrize(
    ("rule", "control_id"),
    [
        ("bandit:B608", "C-PARAMETERISED-QUERIES"),
        ("codeql:py/sql-injection", "C-PARAMETERISED-QUERIES"),
        ("zap:40018", "C-PARAMETERISED-QUERIES"),
        ("bandit:B602", "C-SAFE-COMMAND-EXECUTION"),
        ("codeql:js/command-line-injection", "C-SAFE-COMMAND-EXECUTION"),
        ("eslint:security/detect-child-process", "C-SAFE-COMMAND-EXECUTION"),
        ("bandit:B307", "C-NO-DYNAMIC-CODE-EVALUATION"),
        ("codeql:js/reflected-xss", "C-CONTEXTUAL-OUTPUT-ENCODING"),
        ("zap:40012", "C-CONTEXTUAL-OUTPUT-ENCODING"),
        ("zap:10202", "C-CSRF-TOKENS"),
        ("codeql:java/spring-disabled-csrf-protection", "C-CSRF-TOKENS"),
        ("zap:10020", "C-FRAME-ANCESTORS"),
        ("codeql:go/unvalidated-url-redirection", "C-REDIRECT-ALLOWLIST"),
        ("codeql:py/path-injection", "C-SAFE-FILE-PATHS"),
        ("codeql:java/zipslip", "C-SAFE-ARCHIVE-EXTRACTION"),
        ("bandit:B301", "C-SAFE-DESERIALIZATION"),
        ("bandit:B314", "C-XML-PARSER-HARDENING"),
        ("codeql:cs/xml/insecure-dtd-handling", "C-XML-PARSER-HARDENING"),
        ("codeql:py/full-ssrf", "C-SSRF-EGRESS-ALLOWLIST"),
        ("zap:10011", "C-SECURE-SESSION-COOKIES"),
        ("codeql:js/session-fixation", "C-SESSION-ROTATION-ON-LOGIN"),
        ("codeql:go/missing-jwt-signature-check", "C-JWT-VALIDATION"),
        ("codeql:go/constant-oauth2-state", "C-OAUTH-CODE-FLOW-WITH-PKCE"),
        ("codeql:cs/web/insecure-direct-object-reference", "C-OBJECT-LEVEL-AUTHORIZATION"),
        ("zap:50007", "C-GRAPHQL-QUERY-LIMITS"),
    ],
)
def test_real_scanner_rules_land_on_the_right_control(
    controls: dict[str, Control], rule: str, control_id: str
) -> None:
    assert control_id in _matches(controls, rule)


@pytest.mark.parametrize(
    ("rule", "not_control"),
    [
        ("bandit:B608", "C-SAFE-COMMAND-EXECUTION"),
        ("bandit:B602", "C-PARAMETERISED-QUERIES"),
        ("codeql:py/nosql-injection", "C-PARAMETERISED-QUERIES"),
        ("zap:40012", "C-CSRF-TOKENS"),
        ("trivy:CVE-2021-44228", "C-SAFE-DESERIALIZATION"),
    ],
)
def test_scanner_rules_do_not_spill_over(
    controls: dict[str, Control], rule: str, not_control: str
) -> None:
    assert not_control not in _matches(controls, rule)


def test_controls_load_into_the_shipped_kb(kb: KnowledgeBase, controls: dict[str, Control]) -> None:
    assert set(controls) <= set(kb.controls)
    for c in controls.values():
        assert set(c.mitigates) <= set(kb.threats), c.id
        if c.applies_when is not None:
            check(c.applies_when, kb.service_facts, c.id)


def _applies(control: Control, facts: Mapping[str, FactValue]) -> bool:
    return control.applies_when is None or evaluate(control.applies_when, facts).result


def test_narrowed_controls_apply_only_where_they_fit(controls: dict[str, Control]) -> None:
    stateless_api: dict[str, FactValue] = {
        "survey.sessions": False,
        "survey.user_auth": "api_key",
        "survey.service_auth": "mtls",
        "survey.features": ["sql", "fetches_urls"],
        "survey.protocols": ["https"],
    }
    for control_id in (
        "C-SECURE-SESSION-COOKIES",
        "C-SESSION-ROTATION-ON-LOGIN",
        "C-OAUTH-CODE-FLOW-WITH-PKCE",
        "C-JWT-VALIDATION",
        "C-PASSWORD-STRENGTH-POLICY",
        "C-WEBRTC-TURN-RELAY-RESTRICTIONS",
        "C-GRAPHQL-QUERY-LIMITS",
        "C-UPLOAD-ISOLATED-STORAGE",
        "C-SAML-ASSERTION-VALIDATION",
    ):
        assert not _applies(controls[control_id], stateless_api), control_id
    assert _applies(controls["C-PARAMETERISED-QUERIES"], stateless_api)
    assert _applies(controls["C-SSRF-EGRESS-ALLOWLIST"], stateless_api)

    web_app: dict[str, FactValue] = {
        "survey.sessions": True,
        "survey.user_auth": "oidc",
        "survey.service_auth": "jwt",
        "survey.features": ["renders_html", "file_upload", "templates"],
        "survey.protocols": ["https", "graphql", "webrtc"],
    }
    for control_id in (
        "C-SECURE-SESSION-COOKIES",
        "C-OAUTH-CODE-FLOW-WITH-PKCE",
        "C-OIDC-ID-TOKEN-VALIDATION",
        "C-JWT-VALIDATION",
        "C-MULTI-FACTOR-AUTHENTICATION",
        "C-STEP-UP-REAUTHENTICATION",
        "C-GRAPHQL-QUERY-LIMITS",
        "C-WEBRTC-SIGNALING-SECURITY",
        "C-UPLOAD-ISOLATED-STORAGE",
        "C-NO-TEMPLATE-INJECTION",
    ):
        assert _applies(controls[control_id], web_app), control_id
    assert not _applies(controls["C-PASSWORD-STRENGTH-POLICY"], web_app)
    assert not _applies(controls["C-STEP-UP-REAUTHENTICATION"], {"survey.user_auth": "none"})


def test_asvs_ids_exist(controls: dict[str, Control], shared_data: Path) -> None:
    known = known_asvs_ids(shared_data)
    unknown = sorted((c.id, a) for c in controls.values() for a in c.asvs if a not in known)
    assert not unknown


def test_cwe_ids_exist(controls: dict[str, Control], shared_data: Path) -> None:
    known = known_cwe_ids(shared_data)
    used = {w for c in controls.values() for w in c.verification.cwe}
    assert not used - known, sorted(used - known)


def test_zap_alert_ids_exist(controls: dict[str, Control], shared_data: Path) -> None:
    alerts = json.loads(
        (shared_data / "standards" / "zap-alerts" / "zap-alerts.json").read_text(encoding="utf-8")
    )
    known = {str(a["alertid"]).split("-")[0] for a in alerts if "alertid" in a}
    cited = {
        (c.id, p.removeprefix("zap:"))
        for c in controls.values()
        for p in c.verification.rule_patterns
        if p.startswith("zap:")
    }
    assert not sorted(x for x in cited if x[1] not in known)
