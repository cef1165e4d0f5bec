from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.scans.interface import ScanFinding
from meshward.formats.scans.registry import read_scan

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def mixed() -> list[ScanFinding]:
    report = read_scan((FIXTURES / "mixed.sarif").read_bytes(), "mixed.sarif")
    assert report.format == "sarif"
    assert (report.tool, report.tool_version, report.kind) == ("codeql", "2.19.3", "sast")
    assert report.started == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert report.finished == datetime(2026, 11, 20, 10, 5, 0, 500000, tzinfo=UTC)
    assert report.target == "https://git.example/acme/orders"
    assert [rule.rule_id for rule in report.rules] == [
        "py/sql-injection",
        "py/weak-sensitive-data-hashing",
        "py/unsafe-deserialization",
        "no-eval",
    ]
    return report.results


def test_pass_results_are_left_out_and_runs_keep_their_tool(mixed: list[ScanFinding]) -> None:
    assert [(f.tool, f.rule_id) for f in mixed] == [
        ("codeql", "py/sql-injection"),
        ("codeql", "py/weak-sensitive-data-hashing"),
        ("codeql", "py/unsafe-deserialization"),
        ("codeql", "custom/no-rule"),
        ("eslint", "no-eval"),
    ]


def test_cwes_from_rule_tags_taxa_and_result_properties(mixed: list[ScanFinding]) -> None:
    assert mixed[0].cwes == ("CWE-89",)  # zero-padded CodeQL tag
    assert mixed[1].cwes == ("CWE-327", "CWE-328", "CWE-916")  # rule by rule.index
    # extension rule (toolComponent.index 0 -> extensions[0]) + taxa by index and by guid
    assert mixed[2].cwes == ("CWE-79", "CWE-502", "CWE-798")
    assert mixed[3].cwes == ("CWE-22", "CWE-23")
    assert mixed[4].cwes == ()


def test_severity_from_security_severity_then_level(mixed: list[ScanFinding]) -> None:
    assert [f.severity for f in mixed] == ["high", "low", "medium", "medium", "high"]


def test_messages_are_plain_text(mixed: list[ScanFinding]) -> None:
    assert mixed[0].message == "This SQL query depends on a user-provided value."
    assert mixed[1].message == "Sensitive data (password) is hashed with MD5."


def test_locations(mixed: list[ScanFinding]) -> None:
    first = mixed[0].location
    assert (first.uri, first.start_line, first.end_line, first.start_column) == (
        "orders/app.py",
        21,
        22,
        5,
    )
    assert mixed[0].snippet == "conn.execute(query)"
    assert mixed[1].location.uri == "orders/app.py"  # from artifacts[0] by index


def test_suppressions_count_only_when_accepted_or_without_status(
    mixed: list[ScanFinding],
) -> None:
    assert not mixed[1].suppressed
    assert mixed[1].suppression is not None and mixed[1].suppression.status == "underReview"
    assert mixed[2].suppressed
    assert mixed[2].suppression is not None
    assert (mixed[2].suppression.kind, mixed[2].suppression.justification) == (
        "inSource",
        "trusted queue only",
    )
    assert not mixed[3].suppressed


def test_fingerprints(mixed: list[ScanFinding]) -> None:
    assert mixed[0].fingerprint.startswith("tool:")
    assert mixed[3].fingerprint.startswith("sast:")
    assert len({f.fingerprint for f in mixed}) == len(mixed)


def _log(results: list[dict[str, object]], **run: object) -> bytes:
    body = {"tool": {"driver": {"name": "Scanner"}}, "results": results, **run}
    return json.dumps({"version": "2.1.0", "runs": [body]}).encode()


def test_same_finding_on_a_moved_line_keeps_its_fingerprint() -> None:
    def at(line: int) -> str:
        result = {
            "ruleId": "r1",
            "message": {"text": "m"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "a.py"},
                        "region": {"startLine": line, "snippet": {"text": "eval(x)"}},
                    }
                }
            ],
        }
        return read_scan(_log([result]), "x.sarif").results[0].fingerprint

    assert at(3) == at(30)


def test_message_capped_and_message_markdown_fallback() -> None:
    report = read_scan(_log([{"ruleId": "r", "message": {"markdown": "x" * 10_000}}]), "x")
    assert len(report.results[0].message) == 4_000


def test_trivy_style_sca_results_get_a_package() -> None:
    message = "Package: openssl\nInstalled Version: 1.1.1c-r0\nFixed Version: 1.1.1d-r0"
    data = _log([{"ruleId": "CVE-2019-1549", "message": {"text": message}}])
    finding = read_scan(data, "x").results[0]
    assert finding.package is not None
    assert (finding.package.name, finding.package.version, finding.package.fixed_version) == (
        "openssl",
        "1.1.1c-r0",
        "1.1.1d-r0",
    )
    assert finding.package.vulnerability_id == "CVE-2019-1549"
    assert finding.fingerprint.startswith("sca:")


def test_tool_hint_fills_in_a_missing_driver_name() -> None:
    data = json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]})
    assert read_scan(data.encode(), "x", tool_hint="Bandit").tool == "bandit"


@pytest.mark.parametrize(
    ("document", "place"),
    [
        ({"version": "2.1.0", "runs": [{"tool": {}, "results": 42}]}, "/runs/0/results"),
        ({"version": "2.1.0", "runs": {"a": 1}}, "/runs"),
        ({"version": "2.1.0", "runs": [{"results": ["x"]}]}, "/runs/0/results/0"),
        (
            {"version": "2.1.0", "runs": [{"results": [{"message": {}, "locations": "here"}]}]},
            "/runs/0/results/0/locations",
        ),
        ({"version": "1.0.0", "runs": []}, "/version"),
    ],
)
def test_wrong_shapes_name_the_place(document: object, place: str) -> None:
    with pytest.raises(InputError) as caught:
        read_scan(json.dumps(document).encode(), "bad.sarif")
    assert caught.value.source == "bad.sarif"
    assert caught.value.place == place
