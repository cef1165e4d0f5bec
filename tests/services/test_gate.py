"""The pipeline gate on the small test KB: every rule breaks for a stated reason and holds once
the reason is gone; the policy file is checked strictly; JUnit and SARIF say the same thing.

web 1.0 (survey: sql, renders_html, sessions) needs C-PARAMS (critical), C-ENCODE, C-CSRF,
C-DEPS and, for its call to payments, C-MTLS (high); its SBOM holds django 3.2.4, hit by
CVE-2099-0001 (critical)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.formats.junit import junit_xml
from meshward.formats.sarif_out import sarif_log
from meshward.services import findings, gate
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.services.advisories import import_advisories
from meshward.services.sboms import store_sbom
from meshward.store.models import Finding, KevEntry
from meshward.store.threat_models import ControlTask
from meshward.store.types import utcnow

from .test_matching import OSV, sbom
from .test_threat_models import estate, t  # noqa: F401  (the fixture)
from .test_verification import result, sarif

POLICY = b"""
findings:
  max_unanalysed: {critical: 0, high: 0}   # open / in-triage findings by severity
  fail_on_kev: true
controls:
  fail_on_failed: [critical, high]
  max_unverified_age_days: 30
  require_done: [critical]
scans:
  require_tools: [bandit, zap]
"""


@pytest.fixture
def web(estate: Session) -> Session:  # noqa: F811
    store_sbom(estate, "web", "1.0", sbom(["pkg:pypi/django@3.2.4"]), "django", None)
    import_advisories(estate, [OSV])
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql", "renders_html"], "sessions": True})
    estate.add(KevEntry(cve="CVE-2099-0001", date_added=date(2024, 1, 1), catalog_version="t"))
    vf.upload_scan(
        estate,
        "web",
        "1.0",
        sarif("Bandit", [result("B608", "CWE-89", "app/db.py", 12, "sqli")]),
        "bandit.sarif",
    )
    # the tasks were required 60 days ago: past the 30-day window for verification
    estate.execute(update(ControlTask).values(created_at=utcnow() - timedelta(days=60)))
    return estate


def broken(verdict: dict[str, Any]) -> dict[str, list[str]]:
    return {r["id"]: [b["id"] for b in r["broken"]] for r in verdict["rules"]}


def check(session: Session) -> dict[str, Any]:
    policy = gate.read_policy(POLICY, "policy.yaml")
    return gate.evaluate_gate(session, "web", "1.0", policy).to_dict()


def test_every_rule_breaks_with_its_reason(web: Session) -> None:
    verdict = check(web)
    assert not verdict["passed"]
    assert broken(verdict) == {
        "findings.max_unanalysed.critical": ["1"],
        "findings.max_unanalysed.high": [],
        "findings.fail_on_kev": ["1"],
        "controls.fail_on_failed": ["C-DEPS", "C-PARAMS"],
        "controls.max_unverified_age_days": ["C-CSRF", "C-ENCODE", "C-MTLS"],
        "controls.require_done": ["C-PARAMS"],
        "scans.require_tools": ["zap"],
    }
    rules = {r["id"]: r for r in verdict["rules"]}
    (sqli,) = [b for b in rules["controls.fail_on_failed"]["broken"] if b["id"] == "C-PARAMS"]
    assert sqli["message"] == "C-PARAMS (critical) failed: bandit B608 at app/db.py:12"
    assert sqli["locations"] == [{"uri": "app/db.py", "start_line": 12}]
    (finding,) = rules["findings.fail_on_kev"]["broken"]
    assert finding["details"]["purl"] == "pkg:pypi/django@3.2.4"
    assert finding["details"]["vulnerability"] == "CVE-2099-0001"
    assert rules["findings.max_unanalysed.high"]["passed"]


def test_the_gate_holds_once_each_reason_is_gone(web: Session) -> None:
    fid = web.scalar(select(Finding.id))
    findings.set_analysis(
        web, [fid], "not_affected", justification="code_not_reachable", actor="tester"
    )
    vf.upload_scan(web, "web", "1.0", sarif("Bandit", []), "bandit-fixed.sarif")
    vf.upload_scan(web, "web", "1.0", sarif("ZAP", []), "zap.sarif")
    tm.set_control(web, "web", "1.0", "C-PARAMS", status="done")
    vf.record_manual_test(web, "web", "1.0", "C-MTLS", passed=True, notes="mesh mTLS strict")
    verdict = check(web)
    assert broken(verdict) == {rule: [] for rule in broken(verdict)}
    assert verdict["passed"]


def test_risk_accepted_controls_are_left_to_the_decision(web: Session) -> None:
    tm.set_control(web, "web", "1.0", "C-CSRF", status="risk_accepted", reason="internal only")
    assert broken(check(web))["controls.max_unverified_age_days"] == ["C-ENCODE", "C-MTLS"]


def test_an_empty_policy_passes_with_no_rules(web: Session) -> None:
    verdict = gate.evaluate_gate(web, "web", "1.0", gate.read_policy(b"", "empty.yaml"))
    assert (verdict.passed, verdict.rules) == (True, [])


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (b"controls: {fail_on_faild: [high]}", "controls.fail_on_faild", "Extra inputs"),
        (b"findings: {max_unanalysed: {urgent: 0}}", "findings.max_unanalysed.urgent", "Input"),
        (b"findings: {max_unanalysed: {high: -1}}", "findings.max_unanalysed.high", "greater"),
        (b"- findings", None, "a policy is a mapping"),
        (b"controls: [", "line 2", "invalid YAML"),
        (b"a: &a [1]\n---\nb: 2\n", "document 2", "expected one document"),
        (b"\xff\xfe", "byte 0", "not UTF-8"),
    ],
)
def test_bad_policies_name_the_place(text: bytes, place: str | None, message: str) -> None:
    with pytest.raises(InputError) as caught:
        gate.read_policy(text, "policy.yaml")
    assert caught.value.source == "policy.yaml"
    if place is None:
        assert caught.value.place is None
    else:
        assert caught.value.place is not None and caught.value.place.startswith(place)
    assert message in caught.value.message


NASTY: dict[str, Any] = {
    "component": "web<&>",
    "version": "1.0\"'",
    "passed": False,
    "evaluated_at": "2026-11-24T10:00:00Z",
    "rules": [
        {
            "id": "controls.fail_on_failed",
            "description": "no failed control of priority critical",
            "passed": False,
            "limit": ["critical"],
            "actual": 1,
            "broken": [
                {
                    "kind": "control",
                    "id": "C-<X>",
                    "message": "C-<X> failed: \"a\" & 'b' ]]> \x01\x1b end \u2603",
                    "severity": "critical",
                    "locations": [{"uri": "src/a&b.py", "start_line": 3}],
                    "details": {"status": "todo"},
                }
            ],
        },
        {
            "id": "scans.require_tools",
            "description": "scanned by bandit",
            "passed": True,
            "limit": ["bandit"],
            "actual": 0,
            "broken": [],
        },
    ],
}


def test_junit_is_one_suite_with_escaped_failures() -> None:
    root = ET.fromstring(junit_xml(NASTY))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "meshward gate web<&>@1.0\"'"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == [
        "controls.fail_on_failed",
        "controls.fail_on_failed: control C-<X>",
        "scans.require_tools",
    ]
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "C-<X> failed: \"a\" & 'b' ]]> \ufffd\ufffd end \u2603"
    assert failure.text is not None and "at src/a&b.py:3" in failure.text
    assert suite.findall("testcase")[2].find("failure") is None


def test_junit_and_sarif_of_a_real_verdict(web: Session, sarif_validator: Any) -> None:
    verdict = check(web)
    root = ET.fromstring(junit_xml(verdict))
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert "controls.fail_on_failed: control C-PARAMS" in failed
    assert "findings.max_unanalysed.high" not in failed
    log = sarif_log(verdict, policy_uri="ci/policy.yaml")
    sarif_validator.validate(log)
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "meshward"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r["id"] for r in verdict["rules"]]
    by_item = {(r["ruleId"], r["properties"]["item"]): r for r in run["results"]}
    assert len(by_item) == sum(len(r["broken"]) for r in verdict["rules"]) == 9
    sqli = by_item[("controls.fail_on_failed", "C-PARAMS")]
    assert sqli["level"] == "error"
    assert sqli["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/db.py"},
        "region": {"startLine": 12},
    }
    kev = by_item[("findings.fail_on_kev", "1")]
    assert kev["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "ci/policy.yaml"
    assert kev["locations"][0]["logicalLocations"][0]["name"] == "pkg:pypi/django@3.2.4"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_sarif_of_hostile_text_is_valid(sarif_validator: Any) -> None:
    log = sarif_log(NASTY)
    sarif_validator.validate(log)
    (res,) = log["runs"][0]["results"]
    assert res["message"]["text"].startswith("web<&>@1.0\"': C-<X> failed")


@pytest.fixture(scope="module")
def sarif_validator(shared_data: Path) -> Any:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    path = shared_data / "scans/sarif/sarif-spec/sarif-2.1/schema/sarif-schema-2.1.0.json"
    if not path.exists():
        pytest.skip("the SARIF 2.1.0 schema is absent")
    return jsonschema_rs.validator_for(json.loads(path.read_text()))
