"""SBOMs, advisories, findings and VEX from the CLI, on the demo organisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app


@pytest.fixture
def demo(db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(app, ["--db", db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    def json(*args: str) -> Any:
        return orjson.loads(run(*args, "--json").stdout)

    run.json = json  # type: ignore[attr-defined]
    assert "findings in prod now" in run("demo").stdout
    return run


def test_findings_list_shape_and_filters(demo: Any) -> None:
    rows = demo.json("findings", "list")
    assert len(rows) > 40
    first = rows[0]
    assert set(first) >= {
        "id",
        "vulnerability",
        "aliases",
        "purl",
        "component",
        "version",
        "severity",
        "score",
        "fixed_version",
        "state",
        "first_seen",
    }
    log4shell = demo.json("findings", "list", "--vuln", "GHSA-jfh8-c2jp-5v3q")
    assert {(r["component"], r["version"]) for r in log4shell} == {("search", "4.2.0")}
    assert log4shell[0]["fixed_version"] == "2.15.0" and log4shell[0]["severity"] == "critical"
    assert "CVE-2021-44228" in log4shell[0]["aliases"]
    prod_critical = demo.json("findings", "list", "--env", "prod", "--severity", "critical")
    assert prod_critical and all(r["severity"] == "critical" for r in prod_critical)
    webshop = demo.json("findings", "list", "--app", "webshop", "--app-version", "2026.10")
    assert {r["component"] for r in webshop} <= {
        "cart",
        "product-catalog",
        "recommendation",
        "search",
        "web-frontend",
    }
    payments = demo.json("findings", "list", "--domain", "acme.payments")
    assert {r["component"] for r in payments} <= {
        "checkout",
        "payment-gateway",
        "fraud-detection",
        "ledger",
    }
    assert payments


def test_analysis_and_vex_round_trip(demo: Any, tmp_path: Path) -> None:
    (row,) = demo.json("findings", "list", "--vuln", "CVE-2021-44228")
    demo(
        "findings",
        "analyse",
        str(row["id"]),
        "--state",
        "not_affected",
        "--justification",
        "code_not_reachable",
        "--detail",
        "JNDI lookups disabled",
        "--actor",
        "ada",
    )
    out = tmp_path / "search.openvex.json"
    demo("vex", "export", "search", "4.2.0", "--output", str(out))
    doc = orjson.loads(out.read_bytes())
    statement = next(s for s in doc["statements"] if s["vulnerability"]["name"] == "CVE-2021-44228")
    assert statement["status"] == "not_affected"
    assert statement["justification"] == "vulnerable_code_not_in_execute_path"
    demo("findings", "analyse", str(row["id"]), "--state", "in_triage")
    report = demo.json("vex", "import", str(out), "--component", "search", "--version", "4.2.0")
    assert report["applied"] >= 1
    (after,) = demo.json("findings", "list", "--vuln", "CVE-2021-44228")
    assert after["state"] == "not_affected" and after["detail"] == "JNDI lookups disabled"
    # without --component the statement's product purl names the version
    demo("findings", "analyse", str(row["id"]), "--state", "in_triage")
    assert demo.json("vex", "import", str(out))["applied"] >= 1
    (again,) = demo.json("findings", "list", "--vuln", "CVE-2021-44228")
    assert again["state"] == "not_affected"
    cdx = tmp_path / "search.cdx.json"
    demo("vex", "export", "search", "4.2.0", "--format", "cyclonedx", "--output", str(cdx))
    assert orjson.loads(cdx.read_bytes())["vulnerabilities"]


def test_sbom_show_export_and_advisory_show(demo: Any, tmp_path: Path) -> None:
    view = demo.json("sbom", "show", "search", "4.2.0")
    purls = {p["purl"] for p in view["packages"]}
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" in purls
    assert view["format"] == "manifest"
    out = tmp_path / "webshop.cdx.json"
    demo("sbom", "export", "webshop", "--version", "2026.08", "--output", str(out))
    bom = orjson.loads(out.read_bytes())
    assert bom["metadata"]["component"]["version"] == "2026.08"
    assert {c["name"] for c in bom["components"]} == {
        "cart",
        "product-catalog",
        "recommendation",
        "search",
        "web-frontend",
    }
    adv = demo.json("advisories", "show", "CVE-2021-44228")
    assert adv["id"] == "GHSA-jfh8-c2jp-5v3q" and adv["severity"] == "critical"
    events = demo.json("findings", "events")
    assert events and events[0]["kind"] in {"new", "analysis"}
