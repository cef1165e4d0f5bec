"""Run the real Bandit and Semgrep (offline, our own rules) on the deliberately vulnerable
fixture service, read their SARIF and JSON with our readers, and check the CWEs found."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshward.formats.scans.interface import ScanFinding, ScanReport
from meshward.formats.scans.registry import read_scan

SERVICE = Path(__file__).resolve().parents[2] / "fixtures" / "vulnerable_service"
RULES = SERVICE / "semgrep-rules.yml"


TOOLS_VENV = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"
"""Semgrep lives in its own venv (``make setup``): its pins clash with FastAPI's."""


def _tool(name: str) -> str:
    """The tool in the tools venv or beside this interpreter, else on PATH; skip when
    missing (``make setup`` installs both)."""
    for folder in (TOOLS_VENV, Path(sys.executable).parent):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _run(args: list[str]) -> bytes:
    env = {
        **os.environ,
        "SEMGREP_ENABLE_VERSION_CHECK": "0",
        "SEMGREP_SEND_METRICS": "off",
        "SEMGREP_USER_AGENT_APPEND": "meshward-tests",
    }
    done = subprocess.run(args, cwd=SERVICE, env=env, capture_output=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr.decode(errors="replace")[-2000:]
    return done.stdout


def _bandit(fmt: str) -> ScanReport:
    return read_scan(_run([_tool("bandit"), "-q", "-f", fmt, "app.py"]), f"bandit.{fmt}")


def _semgrep(fmt: str, *extra: str) -> ScanReport:
    args = [_tool("semgrep"), "scan", "--config", str(RULES), "--metrics=off"]
    args += ["--disable-version-check", "--quiet", f"--{fmt}", *extra, "app.py"]
    return read_scan(_run(args), f"semgrep.{fmt}")


def _cwes_by_line(findings: list[ScanFinding]) -> dict[int, tuple[str, ...]]:
    found: dict[int, tuple[str, ...]] = {}
    for finding in findings:
        assert finding.location.start_line is not None
        line = finding.location.start_line
        found[line] = tuple(sorted({*found.get(line, ()), *finding.cwes}))
    return found


BANDIT_CWES = {
    "CWE-20",  # B506 yaml.load (Bandit's own classification)
    "CWE-89",  # B608 SQL built from strings
    "CWE-259",  # B105 hard-coded password
    "CWE-327",  # B324 md5
    "CWE-502",  # B403 / B301 pickle
}


def test_bandit_sarif_and_json_agree() -> None:
    sarif, as_json = _bandit("sarif"), _bandit("json")
    assert (sarif.format, sarif.tool, as_json.format) == ("sarif", "bandit", "bandit-json")
    assert {cwe for f in sarif.results for cwe in f.cwes} == BANDIT_CWES
    assert _cwes_by_line(sarif.results) == _cwes_by_line(as_json.results)
    assert sarif.tool_version == as_json.tool_version
    by_rule = {f.rule_id: f.cwes for f in sarif.results}
    assert by_rule["B608"] == ("CWE-89",)
    assert by_rule["B105"] == ("CWE-259",)
    assert by_rule["B324"] == ("CWE-327",)
    assert by_rule["B301"] == ("CWE-502",)
    # the reviewed "# nosec" line is left out by Bandit itself
    assert all(f.snippet is None or "etag" not in f.snippet for f in sarif.results)


def test_bandit_fingerprints_are_stable_across_runs() -> None:
    assert [f.fingerprint for f in _bandit("json").results] == [
        f.fingerprint for f in _bandit("json").results
    ]


def test_semgrep_sarif_with_our_rules() -> None:
    report = _semgrep("sarif", "--disable-nosem")
    assert (report.tool, report.kind) == ("semgrep", "sast")
    active = [f for f in report.results if not f.suppressed]
    assert {cwe for f in active for cwe in f.cwes} == {
        "CWE-89",
        "CWE-328",
        "CWE-502",
        "CWE-798",
        "CWE-916",
    }
    by_rule = {f.rule_id.rsplit(".", 1)[-1]: f.cwes for f in active}
    assert by_rule["sqli-string-formatting"] == ("CWE-89",)
    assert by_rule["hardcoded-secret"] == ("CWE-798",)
    assert by_rule["insecure-deserialisation"] == ("CWE-502",)
    assert by_rule["weak-password-hash"] == ("CWE-328", "CWE-916")
    (suppressed,) = [f for f in report.results if f.suppressed]
    assert suppressed.suppression is not None and suppressed.suppression.kind == "inSource"
    assert suppressed.snippet is not None and "sha1" in suppressed.snippet
    assert len({f.fingerprint for f in report.results}) == len(report.results)


def test_semgrep_json_matches_its_sarif() -> None:
    as_json = _semgrep("json")
    sarif = _semgrep("sarif")
    assert as_json.format == "semgrep-json"
    # Semgrep's SARIF keeps the nosemgrep match as a suppressed result; its JSON drops it.
    active = [f for f in sarif.results if not f.suppressed]
    assert _cwes_by_line(as_json.results) == _cwes_by_line(active)
    assert [f.location.start_line for f in sarif.results if f.suppressed] == [31]
    assert not any(f.suppressed for f in as_json.results)
