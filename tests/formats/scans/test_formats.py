"""Semgrep, Bandit, ZAP, Trivy and Grype readers on small hand-written reports, and format
detection from content."""

from __future__ import annotations

import json

import pytest

from meshward.formats.scans.registry import detect_format, read_scan

SEMGREP = {
    "version": "1.90.0",
    "results": [
        {
            "check_id": "python.lang.security.audit.formatted-sql-query",
            "path": "svc/app.py",
            "start": {"line": 21, "col": 5, "offset": 1},
            "end": {"line": 22, "col": 9, "offset": 9},
            "extra": {
                "message": "Possible SQL injection",
                "severity": "ERROR",
                "metadata": {
                    "cwe": ["CWE-89: Improper Neutralization of Special Elements used in an SQL"],
                    "owasp": ["A03:2021 - Injection"],
                    "category": "security",
                },
                "fingerprint": "requires login",
                "lines": "requires login",
            },
        },
        {
            "check_id": "python.lang.security.deserialization.pickle",
            "path": "svc/app.py",
            "start": {"line": 30, "col": 12},
            "end": {"line": 30, "col": 30},
            "extra": {
                "message": "pickle",
                "severity": "WARNING",
                "metadata": {"cwe": "CWE-502: Deserialization of Untrusted Data"},
                "fingerprint": "f00d",
                "lines": "    return pickle.loads(blob)",
                "is_ignored": True,
            },
        },
    ],
    "errors": [],
    "paths": {"scanned": ["svc/app.py"]},
}

BANDIT = {
    "errors": [],
    "generated_at": "2026-11-24T07:14:34Z",
    "metrics": {"_totals": {"nosec": 0}},
    "results": [
        {
            "code": "20 def q(c):\n21     query = 'SELECT %s' % x\n22     return c\n",
            "col_offset": 12,
            "filename": "./svc/app.py",
            "issue_confidence": "LOW",
            "issue_cwe": {"id": 89, "link": "https://cwe.mitre.org/data/definitions/89.html"},
            "issue_severity": "MEDIUM",
            "issue_text": "Possible SQL injection vector through string-based query construction.",
            "line_number": 21,
            "line_range": [21],
            "more_info": "https://bandit.readthedocs.io/en/1.9.4/plugins/b608.html",
            "test_id": "B608",
            "test_name": "hardcoded_sql_expressions",
        }
    ],
}

ZAP_JSON = {
    "@programName": "ZAP",
    "@version": "2.15.0",
    "@generated": "Mon, 23 Nov 2026 10:00:00",
    "site": [
        {
            "@name": "https://shop.example",
            "alerts": [
                {
                    "pluginid": "40018",
                    "alertRef": "40018",
                    "alert": "SQL Injection",
                    "name": "SQL Injection",
                    "riskcode": "3",
                    "confidence": "2",
                    "desc": "<p>SQL injection may be possible.</p>",
                    "instances": [
                        {"uri": "https://shop.example/p?id=1", "method": "GET", "param": "id"},
                        {"uri": "https://shop.example/p?id=2", "method": "GET", "param": "id"},
                    ],
                    "cweid": "89",
                    "wascid": "19",
                },
                {
                    "pluginid": "10038",
                    "alertRef": "10038-1",
                    "alert": "CSP Header Not Set",
                    "riskcode": "2",
                    "confidence": "0",
                    "instances": [{"uri": "https://shop.example/", "method": "GET"}],
                    "wascid": "15",
                },
                {
                    "pluginid": "10104",
                    "alert": "User Agent Fuzzer",
                    "riskcode": "0",
                    "confidence": "2",
                    "instances": [{"uri": "https://shop.example/", "method": "GET"}],
                    "cweid": "-1",
                },
            ],
        }
    ],
}

ZAP_XML = b"""<?xml version="1.0"?>
<OWASPZAPReport version="2.4.3" generated="Fri, 29 Jan 2016 12:17:58">
<site name="http://localhost:8080" host="localhost" port="8080" ssl="false"><alerts>
<alertitem>
  <pluginid>40018</pluginid>
  <alert>SQL Injection</alert>
  <riskcode>3</riskcode>
  <confidence>2</confidence>
  <desc>&lt;p&gt;SQL injection may be possible.&lt;/p&gt;</desc>
  <instances><instance><uri>http://localhost:8080/bodgeit/login.jsp</uri><method>POST</method>
  <param>username</param><attack>' OR '1'='1</attack></instance></instances>
  <cweid>89</cweid>
</alertitem>
<alertitem>
  <pluginid>10020</pluginid>
  <alert>X-Frame-Options Header Not Set</alert>
  <riskcode>2</riskcode>
  <confidence>2</confidence>
  <instances><instance><uri>http://localhost:8080/bodgeit</uri></instance></instances>
</alertitem>
</alerts></site></OWASPZAPReport>
"""

TRIVY = {
    "SchemaVersion": 2,
    "CreatedAt": "2026-11-24T07:00:00Z",
    "ArtifactName": "registry.acme.example/orders:1.4.0",
    "ArtifactType": "container_image",
    "Trivy": {"Version": "0.58.1"},
    "Results": [
        {
            "Target": "python-pkg",
            "Class": "lang-pkgs",
            "Type": "python-pkg",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "CVE-2020-14343",
                    "PkgName": "PyYAML",
                    "PkgPath": "usr/lib/python3/site-packages/PyYAML-5.3.1.dist-info/METADATA",
                    "PkgIdentifier": {"PURL": "pkg:pypi/pyyaml@5.3.1"},
                    "InstalledVersion": "5.3.1",
                    "FixedVersion": "5.4",
                    "Severity": "CRITICAL",
                    "Title": "PyYAML: incomplete fix for CVE-2020-1747",
                    "CweIDs": ["CWE-20"],
                }
            ],
        },
        {
            "Target": "app/settings.py",
            "Class": "secret",
            "Secrets": [
                {
                    "RuleID": "stripe-secret-token",
                    "Category": "Stripe",
                    "Severity": "CRITICAL",
                    "Title": "Stripe Secret Key",
                    "StartLine": 17,
                    "EndLine": 17,
                    "Match": "API_TOKEN = '*****'",
                }
            ],
        },
    ],
}

GRYPE = {
    "matches": [
        {
            "vulnerability": {
                "id": "GHSA-8q59-q68h-6hv4",
                "severity": "Critical",
                "description": "PyYAML arbitrary code execution",
                "fix": {"versions": ["5.4"], "state": "fixed"},
                "cwes": [{"cve": "CVE-2020-14343", "cwe": "CWE-20", "source": "nvd"}],
            },
            "relatedVulnerabilities": [
                {"id": "CVE-2020-14343", "cwes": [{"cwe": "CWE-94"}]},
            ],
            "matchDetails": [
                {"type": "exact-direct-match", "found": {"versionConstraint": "<5.4"}}
            ],
            "artifact": {
                "name": "pyyaml",
                "version": "5.3.1",
                "type": "python",
                "purl": "pkg:pypi/pyyaml@5.3.1",
                "locations": [{"path": "/app/requirements.txt"}],
            },
        }
    ],
    "source": {"type": "directory", "target": "/app"},
    "descriptor": {"name": "grype", "version": "0.84.0", "timestamp": "2026-11-24T07:00:00Z"},
}


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_bytes(SEMGREP), "semgrep-json"),
        (_bytes(BANDIT), "bandit-json"),
        (_bytes(ZAP_JSON), "zap-json"),
        (ZAP_XML, "zap-xml"),
        (_bytes(TRIVY), "trivy-json"),
        (_bytes(GRYPE), "grype-json"),
        (_bytes({"version": "2.1.0", "runs": []}), "sarif"),
    ],
)
def test_detect_format_from_content(data: bytes, expected: str) -> None:
    assert detect_format(data, "report.json") == expected


def test_semgrep_json() -> None:
    report = read_scan(_bytes(SEMGREP), "semgrep.json")
    assert (report.tool, report.tool_version, report.kind) == ("semgrep", "1.90.0", "sast")
    sql, pickle = report.results
    assert sql.cwes == ("CWE-89",) and pickle.cwes == ("CWE-502",)
    assert (sql.severity, pickle.severity) == ("high", "medium")
    assert sql.snippet is None  # "requires login" is a placeholder, not code
    assert sql.fingerprint.startswith("sast:") and pickle.fingerprint.startswith("tool:")
    assert (sql.location.uri, sql.location.start_line, sql.location.end_line) == (
        "svc/app.py",
        21,
        22,
    )
    assert not sql.suppressed and pickle.suppressed
    assert "A03:2021 - Injection" in sql.tags


def test_bandit_json_keeps_only_flagged_lines() -> None:
    report = read_scan(_bytes(BANDIT), "bandit.json")
    (finding,) = report.results
    assert (report.tool, report.tool_version) == ("bandit", "1.9.4")
    assert finding.cwes == ("CWE-89",)
    assert finding.severity == "medium"
    assert finding.snippet == "    query = 'SELECT %s' % x"
    assert finding.location.uri == "./svc/app.py"
    assert finding.location.start_column == 13


def test_zap_json() -> None:
    report = read_scan(_bytes(ZAP_JSON), "zap.json")
    assert (report.tool, report.tool_version, report.kind) == ("zap", "2.15.0", "dast")
    assert report.target == "https://shop.example"
    first, second, csp, fuzzer = report.results
    assert first.cwes == ("CWE-89",) and first.severity == "high"
    assert first.message == "SQL injection may be possible."
    assert (first.location.url, first.location.method, first.location.param) == (
        "https://shop.example/p?id=1",
        "GET",
        "id",
    )
    assert first.fingerprint == second.fingerprint  # query values do not matter
    assert "WASC-19" in first.tags
    # no cweid: our table maps alertRef 10038-1 to CWE-693; cweid -1 says none
    assert csp.cwes == ("CWE-693",)
    assert fuzzer.cwes == () and fuzzer.severity == "info"
    assert csp.suppressed and csp.suppression is not None
    assert csp.suppression.kind == "falsePositive"


def test_zap_xml_legacy_falls_back_to_the_alert_table() -> None:
    report = read_scan(ZAP_XML, "zap.xml")
    assert (report.format, report.tool_version) == ("zap-xml", "2.4.3")
    sqli, frame = report.results
    assert sqli.cwes == ("CWE-89",)
    assert (sqli.location.method, sqli.location.param, sqli.snippet) == (
        "POST",
        "username",
        "' OR '1'='1",
    )
    assert frame.rule_id == "10020" and frame.cwes == ("CWE-1021",)


def test_trivy_json() -> None:
    report = read_scan(_bytes(TRIVY), "trivy.json")
    assert (report.tool, report.tool_version, report.kind) == ("trivy", "0.58.1", "sca")
    assert report.target == "registry.acme.example/orders:1.4.0"
    vuln, secret = report.results
    assert vuln.cwes == ("CWE-20",) and vuln.severity == "critical"
    assert vuln.package is not None
    assert (vuln.package.purl, vuln.package.fixed_version) == ("pkg:pypi/pyyaml@5.3.1", "5.4")
    assert vuln.fingerprint.startswith("sca:")
    assert secret.rule_id == "stripe-secret-token" and secret.cwes == ()
    assert (secret.location.uri, secret.location.start_line) == ("app/settings.py", 17)


def test_grype_json() -> None:
    report = read_scan(_bytes(GRYPE), "grype.json")
    assert (report.tool, report.tool_version, report.target) == ("grype", "0.84.0", "/app")
    (finding,) = report.results
    assert finding.cwes == ("CWE-20", "CWE-94")
    assert finding.tags == ("CVE-2020-14343",)
    assert finding.package is not None
    assert (finding.package.name, finding.package.version, finding.package.fixed_version) == (
        "pyyaml",
        "5.3.1",
        "5.4",
    )
