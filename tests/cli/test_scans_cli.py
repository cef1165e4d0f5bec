"""``meshward scan``, ``verify`` and ``gate`` on the small test KB (tests/services/fixtures):
web 1.0 needs C-PARAMS (critical), C-ENCODE, C-CSRF, C-DEPS and C-MTLS (high)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app
from meshward.errors import InputError
from meshward.kb.loader import load_kb
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services.catalog_import import import_catalog
from meshward.store.db import Store
from tests.services.test_threat_models import FIXTURES
from tests.services.test_verification import result, sarif

Run = Callable[..., Any]
POLICY = """
controls:
  fail_on_failed: [critical, high]
scans:
  require_tools: [bandit]
"""


@pytest.fixture
def cli(db_url: str) -> Run:
    store = Store(db_url)
    with store.session() as session:
        import_catalog(session, [FIXTURES / "catalog.yaml"])
        tm.install_kb(session, load_kb(FIXTURES / "kb", overlay=False))
        catalog.add_component_version(session, "web", "1.0")
        catalog.add_component_version(session, "payments", "1.0")
        tm.answer_survey(
            session, "web", "1.0", {"features": ["sql", "renders_html"], "sessions": True}
        )
    store.dispose()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        out = runner.invoke(app, ["--db", db_url, *args], catch_exceptions=False)
        assert out.exit_code == code, out.output
        return out

    return run


def report(tmp_path: Path, name: str, *results: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_bytes(sarif("Bandit", list(results)))
    return str(path)


SQLI = result("B608", "CWE-89", "app/db.py", 12, "sqli")
XSS = result("B703", "CWE-79", "app/views.py", 3, "xss")
ODD = result("B999", "CWE-4242", "app/x.py", 1, "odd")


def test_upload_prints_counts_and_failing_controls(cli: Run, tmp_path: Path) -> None:
    first = report(tmp_path, "bandit.sarif", SQLI, ODD)
    out = cli("scan", "upload", "web", "1.0", first).stdout
    assert "web 1.0: bandit (sarif) scan #1: 2 results, 2 new, 0 still present, 0 gone" in out
    assert "1 unmapped" in out and "C-REVIEW-UNMAPPED-FINDINGS" in out
    assert "controls now failing: C-PARAMS, C-REVIEW-UNMAPPED-FINDINGS" in out
    assert "unchanged" in cli("scan", "upload", "web", "1.0", first).stdout

    second = report(tmp_path, "bandit-2.sarif", SQLI, XSS)
    up = orjson.loads(cli("scan", "upload", "web", "1.0", second, "--json").stdout)
    assert (up["new"], up["present"], up["gone"], up["unmapped"]) == (1, 1, 1, 0)
    assert up["failed_controls"] == ["C-ENCODE", "C-PARAMS"]

    scans = orjson.loads(cli("scan", "list", "web", "1.0", "--json").stdout)
    assert [(s["id"], s["effective"]) for s in scans] == [(2, True), (1, False)]
    assert "superseded" in cli("scan", "list", "web", "1.0").stdout

    rows = orjson.loads(cli("scan", "results", "web", "1.0", "--json").stdout)
    assert {(r["rule_id"], r["lifecycle"]) for r in rows} == {("B608", "present"), ("B703", "new")}
    every = orjson.loads(cli("scan", "results", "web", "1.0", "--include-gone", "--json").stdout)
    assert ("B999", "gone") in {(r["rule_id"], r["lifecycle"]) for r in every}
    table = cli("scan", "results", "web", "1.0").stdout
    assert "app/db.py:12" in table and "C-PARAMS" in table


def test_merge_and_reopen(cli: Run, tmp_path: Path, db_url: str) -> None:
    cli("scan", "upload", "web", "1.0", report(tmp_path, "a.sarif", XSS))
    store = Store(db_url)
    with store.session() as session:
        tm.set_control(session, "web", "1.0", "C-PARAMS", status="done")
    store.dispose()
    b = report(tmp_path, "b.sarif", SQLI)
    out = cli("scan", "upload", "web", "1.0", b, "--policy", "merge", "--reopen-failed").stdout
    assert "controls now failing: C-ENCODE, C-PARAMS" in out
    assert "tasks reopened: C-PARAMS" in out
    rows = orjson.loads(cli("scan", "results", "web", "1.0", "--json").stdout)
    assert {r["rule_id"] for r in rows} == {"B608", "B703"}


def test_a_bad_report_is_refused_and_changes_nothing(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "broken.sarif"
    bad.write_bytes(b'{"version": "2.1.0", "runs": [')
    with pytest.raises(InputError, match=r"broken\.sarif"):
        cli("scan", "upload", "web", "1.0", str(bad))
    assert orjson.loads(cli("scan", "list", "web", "1.0", "--json").stdout) == []


def test_manual_tests_and_the_verification_view(cli: Run) -> None:
    out = cli("verify", "manual", "web", "1.0", "C-CSRF", "--pass", "--notes", "token checked")
    assert "C-CSRF: manual test passed" in out.stdout and "verification now verified" in out.stdout
    failed = cli(
        "verify", "manual", "web", "1.0", "C-MTLS", "--fail", "--valid-days", "7", "--json"
    )
    assert orjson.loads(failed.stdout)["state"] == "failed"
    view = orjson.loads(cli("verify", "show", "web", "1.0", "--json").stdout)
    states = {c["control"]: c["state"] for c in view["controls"]}
    assert (states["C-CSRF"], states["C-MTLS"], states["C-PARAMS"]) == (
        "verified",
        "failed",
        "unverified",
    )
    (evidence,) = next(c for c in view["controls"] if c["control"] == "C-CSRF")["evidence"]
    assert (evidence["kind"], evidence["notes"]) == ("manual", "token checked")
    assert "manual test passed by" in cli("verify", "show", "web", "1.0").stdout
    cli("verify", "manual", "web", "1.0", "C-CSRF", code=2)  # neither --pass nor --fail


def test_gate_exit_codes_and_reports(cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    junit, sarif_file = tmp_path / "gate.xml", tmp_path / "gate.sarif"
    args = ["gate", "web", "1.0", "--policy", str(policy)]
    out = cli(*args, "--junit", str(junit), "--sarif", str(sarif_file), code=1).stdout
    assert "FAIL scans.require_tools" in out and "no bandit scan of this version" in out
    assert "policy broken" in out

    cli("scan", "upload", "web", "1.0", report(tmp_path, "b.sarif", SQLI))
    verdict = orjson.loads(cli(*args, "--json", "--junit", str(junit), code=1).stdout)
    assert [(r["id"], r["passed"]) for r in verdict["rules"]] == [
        ("controls.fail_on_failed", False),
        ("scans.require_tools", True),
    ]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    log = orjson.loads(sarif_file.read_bytes())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]

    cli("scan", "upload", "web", "1.0", report(tmp_path, "clean.sarif"))
    assert "policy passed" in cli(*args).stdout


def test_gate_errors_exit_2(cli: Run, tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("controls: {fail_on_faild: [high]}\n")
    out = cli("gate", "web", "1.0", "--policy", str(typo), code=2)
    assert "typo.yaml: controls.fail_on_faild: Extra inputs are not permitted" in out.output
    good = tmp_path / "policy.yaml"
    good.write_text(POLICY)
    assert "has no version" in cli("gate", "web", "9.9", "--policy", str(good), code=2).output
    cli("gate", "web", "1.0", "--policy", str(tmp_path / "absent.yaml"), code=2)
