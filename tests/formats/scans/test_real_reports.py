"""Every real report under ../shared/data/scans is read; concrete facts are checked."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.scans.interface import ScanReport
from meshward.formats.scans.registry import read_scan

pytestmark = pytest.mark.shared

_SNAPSHOT_START = b"=== stdout - plain\n"
_SNAPSHOT_END = b"=== end of stdout"


def _payload(path: Path) -> bytes:
    """Semgrep's test snapshots wrap the SARIF it printed in the command and its exit code."""
    data = path.read_bytes()
    if _SNAPSHOT_START in data:
        return data.split(_SNAPSHOT_START, 1)[1].split(_SNAPSHOT_END, 1)[0]
    return data


def _is_sarif(data: bytes) -> bool:
    try:
        root = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(root, dict) and "runs" in root


def _read(path: Path, root: Path) -> ScanReport:
    return read_scan(_payload(path), str(path.relative_to(root)))


@pytest.fixture(scope="module")
def scans(shared_data: Path) -> Path:
    return shared_data / "scans"


def test_every_sarif_file_ingests(scans: Path) -> None:
    read = Counter[str]()
    refused = []
    for path in sorted((scans / "sarif").rglob("*")):
        if not path.is_file() or not _is_sarif(_payload(path)):
            continue
        try:
            report = _read(path, scans)
        except InputError as error:
            refused.append(path.name)
            assert path.name == "invalid-sarif.sarif", error  # results: 42
            continue
        assert report.format == "sarif"
        read[path.relative_to(scans / "sarif").parts[0]] += 1
    assert refused == ["invalid-sarif.sarif"]
    assert read == {
        "codeql-action": 9,
        "sarif-sdk": 52,
        "sarif-spec": 7,
        "sarif-tutorials": 31,
        "semgrep": 11,
        "trivy": 1,
    }


def test_native_inputs_of_the_sarif_sdk_are_not_taken_for_reports(scans: Path) -> None:
    for name in ("Fortify/bannedAPIs_java.xml", "SemmleQL/results.csv", "Pylint/Pylint-01.json"):
        with pytest.raises(InputError):
            _read(scans / "sarif/sarif-sdk/converter-test-data" / name, scans)


def test_ghas_sample_cwes(scans: Path) -> None:
    report = _read(scans / "sarif/sarif-sdk/taxonomies/CweGhasSample.sarif", scans)
    by_rule = {f.rule_id: f.cwes for f in report.results}
    assert by_rule["CWE-89"] == ("CWE-89",)  # from "external/cwe/cwe-89"
    assert by_rule["CWE-79"] == ("CWE-79",)
    assert {cwe for f in report.results for cwe in f.cwes} >= {
        "CWE-22",
        "CWE-79",
        "CWE-89",
        "CWE-798",
    }
    assert all(f.fingerprint.startswith("tool:") for f in report.results if f.rule_id == "CWE-79")


def test_standard_taxonomy_relationship_resolves(scans: Path) -> None:
    path = scans / "sarif/sarif-tutorials/samples/3-Beyond-basics/standard-taxonomy.sarif"
    (finding,) = _read(path, scans).results
    assert finding.cwes == ("CWE-401",)


def test_fortify_result_properties_cwe(scans: Path) -> None:
    path = scans / "sarif/sarif-sdk/converter-test-data/Fortify/bannedAPIs_m0.xml.sarif"
    counts = Counter(cwe for f in _read(path, scans).results for cwe in f.cwes)
    assert counts["CWE-134"] == 89


def test_semgrep_nosemgrep_is_a_suppression(scans: Path) -> None:
    path = (
        scans / "sarif/semgrep/test_output_sarif/test_sarif_output_include_nosemgrep/results.sarif"
    )
    report = _read(path, scans)
    assert report.tool == "semgrep"
    assert [f.suppressed for f in report.results] == [True, False]
    assert report.results[0].suppression is not None
    assert report.results[0].suppression.kind == "inSource"


def test_codeql_fingerprints_come_from_partial_fingerprints(scans: Path) -> None:
    report = _read(scans / "sarif/codeql-action/testdata/valid-sarif.sarif", scans)
    assert report.tool == "codeql"
    assert all(f.fingerprint.startswith("tool:") for f in report.results[:1])


def test_trivy_sarif_is_sca(scans: Path) -> None:
    report = _read(scans / "sarif/trivy/alpine-310.sarif.json", scans)
    assert (report.tool, report.kind) == ("trivy", "sca")
    assert report.target == "testdata/fixtures/images/alpine-310.tar.gz"
    first = report.results[0]
    assert first.package is not None
    assert (first.package.vulnerability_id, first.package.name, first.package.version) == (
        "CVE-2019-1549",
        "libcrypto1.1",
        "1.1.1c-r0",
    )
    assert first.severity == "medium"  # security-severity 5.3


def test_legacy_sarif_2_0_suppression_states(scans: Path) -> None:
    (finding,) = _read(
        scans / "sarif/sarif-sdk/spec-examples-v2/Comprehensive.sarif", scans
    ).results
    assert finding.suppressed and finding.suppression is not None
    assert finding.suppression.kind == "external"


def test_every_zap_report_ingests(scans: Path) -> None:
    counts = {}
    for path in sorted((scans / "zap").rglob("*")):
        if path.suffix in (".json", ".xml"):
            report = _read(path, scans)
            assert report.tool == "zap" and report.kind == "dast"
            counts[path.name] = len(report.results)
    assert counts == {
        "zap-2.11.0-2021-11-23-itsecgames.json": 809,
        "zap-2.12.0-2023-07-09-itsecgames.json": 49,
        "zap-2.13.0-2023-10-08-itsecgames.json": 57,
        "basic-traditional-json-plus.json": 2,
        "basic-traditional-json.json": 2,
        "basic-traditional-xml-plus.xml": 2,
        "basic-traditional-xml.xml": 2,
        "ZAP_2.4.3_report-merged.xml": 125,
        "ZAP_2.4.3_report-unmerged.xml": 295,
    }


def test_zap_baseline_facts(scans: Path) -> None:
    report = _read(scans / "zap/bcgov-zap-baseline/zap-2.13.0-2023-10-08-itsecgames.json", scans)
    assert (report.tool_version, report.target) == ("2.13.0", "http://www.itsecgames.com")
    csp = [f for f in report.results if f.rule_id == "10038-1"]
    assert csp and all(f.cwes == ("CWE-693",) and f.severity == "medium" for f in csp)
    assert {f.rule_id for f in report.results if f.cwes == ("CWE-352",)} == {
        "90005-1",
        "90005-2",
        "90005-3",
        "90005-4",
    }


def test_zap_json_and_xml_of_one_scan_agree(scans: Path) -> None:
    folder = scans / "zap/zap-extensions-reports"
    as_json = _read(folder / "basic-traditional-json.json", scans).results
    as_xml = _read(folder / "basic-traditional-xml.xml", scans).results
    assert [(f.rule_id, f.cwes, f.severity, f.location, f.fingerprint) for f in as_json] == [
        (f.rule_id, f.cwes, f.severity, f.location, f.fingerprint) for f in as_xml
    ]
    assert as_json[0].cwes == ("CWE-123",)


def test_legacy_zap_2_4_report(scans: Path) -> None:
    report = _read(scans / "zap/zaproxy-examples/ZAP_2.4.3_report-merged.xml", scans)
    assert report.tool_version == "2.4.3"
    by_rule = {f.rule_id: f.cwes for f in report.results}
    assert by_rule["40018"] == ("CWE-89",)
    assert by_rule["10016"] == ("CWE-933",)
