"""The platform, data, crypto and operations controls and the scanners' declared coverage.

These files decide which tasks every service gets and which scan results can prove a control,
so the checks here are about coverage (threats, ASVS chapters, CWE Top 25) and honesty (a code
scanner must never be able to "verify" a platform control it cannot see).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshward.kb.conditions import check
from meshward.kb.facts import PLATFORM_CAPABILITIES, FactSpec, service_schema
from meshward.kb.schema import Control, Question, Tool

from .support import CONTENT, SEVEN_STACKS, asvs_5_chapter, known_asvs_ids, known_cwe_ids

OWNED_THREATS = {
    "T-SENSITIVE-DATA-EXPOSURE",
    "T-UNENCRYPTED-DATA-AT-REST",
    "T-WEAK-CRYPTOGRAPHY",
    "T-HARDCODED-SECRETS",
    "T-LONG-LIVED-CREDENTIALS",
    "T-SECRETS-IN-LOGS",
    "T-INSUFFICIENT-LOGGING",
    "T-LOG-INJECTION",
    "T-VERBOSE-ERRORS",
    "T-RESOURCE-EXHAUSTION",
    "T-VULNERABLE-DEPENDENCY",
    "T-SUPPLY-CHAIN-TAMPERING",
    "T-CONTAINER-ESCAPE",
    "T-KUBERNETES-MISCONFIGURATION",
    "T-SECURITY-MISCONFIGURATION",
    "T-MEMORY-CORRUPTION",
    "T-UNGUARDED-INTERNET-ACCESS",
    "T-NO-RATE-LIMIT-PUBLIC-ENTRY",
    "T-SCATTERED-AUTHORIZATION",
    "T-SHARED-DATASTORE",
    "T-MISSING-NETWORK-SEGMENTATION",
    "T-INCOMPLETE-MODEL",
    "T-LINK-CROSSES-TRUST-BOUNDARY",
    "T-LINK-PLAINTEXT",
    "T-LINK-NO-MUTUAL-AUTH",
    "T-LINK-MISSING-IDENTITY-PROPAGATION",
    "T-LINK-CONFUSED-DEPUTY",
    "T-LINK-SENSITIVE-DATA-ACROSS-BOUNDARY",
    "T-LINK-DOS-ACROSS-BOUNDARY",
    "T-LINK-UNAUTHENTICATED-EVENTS",
    "T-LINK-DEPRECATED-DEPENDENCY",
}
CAPABILITIES = {
    "C-MTLS-SERVICE-TO-SERVICE": "mtls",
    "C-RATE-LIMITING": "rate_limiting",
    "C-WAF-AT-EDGE": "waf",
    "C-SECRETS-VAULT": "secrets_vault",
    "C-AUTHZ-POLICY-AT-PROXY": "authz_policy",
    "C-NETWORK-POLICIES": "network_policy",
    "C-WORKLOAD-IDENTITY": "workload_identity",
    "C-SIGNED-IMAGES": "image_signing",
}
TOP25 = {787, 125, 416, 119, 120, 121, 122, 476, 190, 200, 269, 798, 400, 770, 284}
# The central coding controls of this file (secrets, crypto, logging): all seven stacks.
CENTRAL_CODING = {
    "C-NO-HARDCODED-SECRETS",
    "C-PASSWORD-HASHING",
    "C-APPROVED-CRYPTO-ALGORITHMS",
    "C-CSPRNG-FOR-SECRETS",
    "C-LOG-REDACTION",
    "C-SECURITY-EVENT-LOGGING",
    "C-LOG-INJECTION-PREVENTION",
    "C-GENERIC-ERROR-RESPONSES",
}


def _load(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CONTENT / name).read_text(encoding="utf-8"))
    assert isinstance(data, list), f"{name} must be a plain list"
    return data


@pytest.fixture(scope="module")
def controls() -> dict[str, Control]:
    parsed = [Control.model_validate(entry) for entry in _load("controls/platform.yaml")]
    ids = [c.id for c in parsed]
    assert len(ids) == len(set(ids)), "duplicate control ids"
    return {c.id: c for c in parsed}


@pytest.fixture(scope="module")
def tools() -> dict[str, Tool]:
    parsed = [Tool.model_validate(entry) for entry in _load("tools.yaml")]
    assert len({t.id for t in parsed}) == len(parsed), "duplicate tool ids"
    return {t.id: t for t in parsed}


def _stacks(control: Control) -> set[tuple[str, str | None]]:
    return {(s.language, s.framework) for s in control.code_samples if s.language != "any"}


def test_enough_controls_and_every_owned_threat_mitigated(controls: dict[str, Control]) -> None:
    assert len(controls) >= 32
    mitigated = {t for c in controls.values() for t in c.mitigates}
    assert mitigated >= OWNED_THREATS, sorted(OWNED_THREATS - mitigated)


def test_platform_capabilities(controls: dict[str, Control]) -> None:
    for control_id, capability in CAPABILITIES.items():
        assert controls[control_id].platform_capability == capability
    declared = {c.platform_capability for c in controls.values() if c.platform_capability}
    assert declared <= PLATFORM_CAPABILITIES, declared - PLATFORM_CAPABILITIES
    mtls = controls["C-MTLS-SERVICE-TO-SERVICE"].mitigates
    assert {"T-LINK-NO-MUTUAL-AUTH", "T-LINK-PLAINTEXT", "T-LINK-UNAUTHENTICATED-EVENTS"} <= set(
        mtls
    )


def test_dependency_tracking_matches_sca_results(controls: dict[str, Control]) -> None:
    control = controls["C-DEPENDENCY-TRACKING"]
    assert "T-VULNERABLE-DEPENDENCY" in control.mitigates
    patterns = control.verification.rule_patterns
    for rule in (
        "trivy:CVE-2021-44228",
        "trivy:GHSA-jfh8-c2jp-5v3q",
        "grype:CVE-2021-44228-log4j-core",
        "meshward:GHSA-jfh8-c2jp-5v3q",
    ):
        assert any(fnmatchcase(rule, p) for p in patterns), rule
    assert not any(fnmatchcase("bandit:B608", p) for p in patterns)


def test_review_unmapped_findings(controls: dict[str, Control]) -> None:
    control = controls["C-REVIEW-UNMAPPED-FINDINGS"]
    assert control.priority == "medium"
    assert control.mitigates == ["T-INCOMPLETE-MODEL"]


def test_asvs_chapters_v11_to_v16_and_cwe_top25(controls: dict[str, Control]) -> None:
    chapters = {asvs_5_chapter(a) for c in controls.values() for a in c.asvs}
    assert {11, 12, 13, 14, 15, 16} <= chapters
    cwes = {w for c in controls.values() for w in c.verification.cwe}
    assert cwes >= TOP25, sorted(TOP25 - cwes)


def test_each_control_is_actionable(controls: dict[str, Control]) -> None:
    for c in controls.values():
        assert 3 <= len(c.test_plan) <= 7, c.id
        assert len(c.asvs) <= 4, c.id
        assert c.asvs, f"{c.id} cites no ASVS requirement"


def test_code_sample_stacks(controls: dict[str, Control]) -> None:
    for control_id in CENTRAL_CODING:
        missing = SEVEN_STACKS - _stacks(controls[control_id])
        assert not missing, (control_id, missing)
    for c in controls.values():
        stacks = _stacks(c)
        config = [s for s in c.code_samples if s.language == "any"]
        if stacks and not config:  # mitigation lives in application code: four stacks or more
            assert len(stacks & SEVEN_STACKS) >= 4, (c.id, stacks)
        for sample in c.code_samples:
            assert sample.code.strip(), c.id


def test_rules_fit_the_facts_schema(controls: dict[str, Control]) -> None:
    survey = yaml.safe_load((CONTENT / "survey.yaml").read_text(encoding="utf-8"))
    types = {"single": "str", "multi": "list", "bool": "bool", "text": "str"}

    def spec(q: Question) -> FactSpec:
        values = frozenset(o.value for o in q.options) if q.options else None
        return FactSpec(types[q.type], q.text, values)  # type: ignore[arg-type]

    schema = service_schema(
        (q.id, spec(q)) for q in (Question.model_validate(d) for d in survey["questions"])
    )
    for c in controls.values():
        if c.applies_when is not None:
            check(c.applies_when, schema, c.id)


def test_tools_declared(tools: dict[str, Tool], controls: dict[str, Control]) -> None:
    kinds = {
        "bandit": "sast",
        "semgrep": "sast",
        "codeql": "sast",
        "eslint": "sast",
        "zap": "dast",
        "trivy": "sca",
        "grype": "sca",
        "meshward": "sca",
        "gitleaks": "secrets",
        "trufflehog": "secrets",
        "manual": "manual",
    }
    for tool_id, kind in kinds.items():
        assert tools[tool_id].kind == kind, tool_id
    for tool_id in ("trivy", "grype", "meshward"):
        assert "C-DEPENDENCY-TRACKING" in tools[tool_id].controls
    for tool in tools.values():
        assert set(tool.controls) <= set(controls), (tool.id, tool.controls)
    assert tools["bandit"].languages == ["python"]
    assert 89 in tools["bandit"].cwe and 798 not in tools["bandit"].cwe


def test_code_scanners_cannot_verify_platform_controls(
    tools: dict[str, Tool], controls: dict[str, Control]
) -> None:
    """A clean SAST/DAST run says nothing about a mesh, a cluster or a vault."""
    platform_side = [c for c in controls.values() if c.platform_capability] + [
        controls[i]
        for i in (
            "C-CONTAINER-HARDENING",
            "C-KUBERNETES-RBAC",
            "C-POD-SECURITY-ADMISSION",
            "C-BUILD-PROVENANCE",
            "C-ENCRYPTION-AT-REST",
        )
    ]
    for tool in tools.values():
        if tool.kind not in ("sast", "dast"):
            continue
        for c in platform_side:
            if c.id == "C-RATE-LIMITING":  # CodeQL's missing-rate-limiting is real evidence
                continue
            overlap = set(tool.cwe) & set(c.verification.cwe)
            if c.id == "C-ENCRYPTION-AT-REST":  # clear-text storage queries see application code
                overlap -= {312}
            assert not overlap, (tool.id, c.id, overlap)


def test_asvs_ids_exist(controls: dict[str, Control], shared_data: Path) -> None:
    known = known_asvs_ids(shared_data)
    cited = {(c.id, a) for c in controls.values() for a in c.asvs}
    assert not [x for x in cited if x[1] not in known]


def test_cwe_ids_exist(
    controls: dict[str, Control], tools: dict[str, Tool], shared_data: Path
) -> None:
    known = known_cwe_ids(shared_data)
    used = {w for c in controls.values() for w in c.verification.cwe}
    used |= {w for t in tools.values() for w in t.cwe}
    assert not used - known, sorted(used - known)
