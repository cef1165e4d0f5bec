"""Risk roll-up from the CLI on the demo organisation: app and domain risk, KEV and EPSS
imports (idempotent, older refused, damaged refused whole), snapshots and trends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app
from meshward.errors import ConflictError, InputError

FIXTURES = Path(__file__).parents[1] / "formats" / "fixtures"
KEV = FIXTURES / "kev" / "known_exploited_vulnerabilities.json"
EPSS = FIXTURES / "epss" / "epss_scores-2025-01-15.csv"
ROLLUP_KEYS = {
    "scope",
    "name",
    "version",
    "findings",
    "by_severity",
    "vulnerabilities",
    "services",
    "fixable",
    "kev",
    "kev_vulnerabilities",
    "risk_score",
    "components",
}


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
    run("demo")
    return run


def test_app_risk_table_and_json(demo: Any) -> None:
    table = demo("app", "risk", "webshop").stdout
    assert "application webshop 2026.10" in table and "risk score" in table
    assert "product-catalog" in table and "by component version" in table
    latest = demo.json("app", "risk", "webshop")
    assert set(latest) == ROLLUP_KEYS
    assert (latest["scope"], latest["name"], latest["version"]) == (
        "application",
        "webshop",
        "2026.10",
    )
    assert latest["findings"] == sum(latest["by_severity"].values())
    assert latest["findings"] == sum(c["findings"] for c in latest["components"])
    assert latest["risk_score"] == pytest.approx(
        sum(c["risk_score"] for c in latest["components"]), abs=0.05
    )
    assert {c["component"] for c in latest["components"]} == {
        "web-frontend",
        "product-catalog",
        "cart",
        "search",
        "recommendation",
    }
    front = next(c for c in latest["components"] if c["component"] == "web-frontend")
    assert (front["internet"], front["production"]) == ("facing", True)
    older = demo.json("app", "risk", "webshop", "--version", "2026.08")
    assert older["version"] == "2026.08" and older["findings"] > latest["findings"]
    assert older["risk_score"] > latest["risk_score"]


def test_domain_risk_covers_the_tree(demo: Any) -> None:
    acme = demo.json("domain", "risk", "acme")
    assert set(acme) == ROLLUP_KEYS and acme["scope"] == "domain" and acme["version"] is None
    subdomains = [demo.json("domain", "risk", f"acme.{d}") for d in ("commerce", "payments")]
    assert all(0 < d["findings"] <= acme["findings"] for d in subdomains)
    assert acme["services"] >= sum(d["services"] for d in subdomains)
    assert acme["fixable"] <= acme["findings"] and acme["kev"] == 0
    assert "domain acme" in demo("domain", "risk", "acme").stdout


def test_kev_and_epss_imports_weigh_in_and_are_idempotent(demo: Any) -> None:
    before = demo.json("domain", "risk", "acme")
    first = demo.json("risk", "import-kev", str(KEV))
    assert (first["entries"], first["added"], first["changed_anything"]) == (3, 3, True)
    again = demo.json("risk", "import-kev", str(KEV))
    assert (again["unchanged"], again["changed_anything"]) == (3, False)
    after = demo.json("domain", "risk", "acme")
    # Log4Shell (CVE-2021-44228) runs in prod in search 4.2.0
    assert after["kev"] >= 1 and after["risk_score"] > before["risk_score"]
    assert demo.json("app", "risk", "webshop", "--version", "2026.08")["kev"] == 1
    epss = demo.json("risk", "import-epss", str(EPSS))
    assert (epss["release"], epss["entries"]) == ("2025-01-15", 5)
    assert demo.json("risk", "import-epss", str(EPSS))["changed_anything"] is False
    assert demo.json("risk", "status") == {
        "kev": {"catalog_version": "2025.01.15", "entries": 3},
        "epss": {"score_date": "2025-01-15", "scores": 5},
    }
    assert "3 unchanged" in demo("risk", "import-kev", str(KEV)).stdout


def test_bad_and_older_files_change_nothing(demo: Any, tmp_path: Path) -> None:
    demo("risk", "import-kev", str(KEV))
    older = tmp_path / "old.json"
    older.write_text(
        KEV.read_text()
        .replace("2025.01.15", "2024.01.01")
        .replace("2025-01-15T17:01:52.4817Z", "2024-01-01T00:00:00Z")
    )
    with pytest.raises(ConflictError, match="older"):
        demo("risk", "import-kev", str(older))
    damaged = tmp_path / "damaged.csv"
    damaged.write_text(EPSS.read_text() + "CVE-2024-9999,2.0,0.5\n")
    with pytest.raises(InputError, match="line 8"):
        demo("risk", "import-epss", str(damaged))
    assert demo.json("risk", "status")["epss"]["scores"] == 0
    assert demo.json("risk", "status")["kev"]["catalog_version"] == "2025.01.15"


def test_snapshot_and_trend(demo: Any) -> None:
    assert "no snapshots yet" in demo("domain", "trend", "acme").stdout
    taken = demo.json("risk", "snapshot")
    assert (taken["applications"], taken["domains"]) == (4, 5)
    assert taken["created"] == 9
    assert demo.json("risk", "snapshot")["created"] == 0
    (point,) = demo.json("domain", "trend", "acme", "--days", "7")
    assert point["findings"] == demo.json("domain", "risk", "acme")["findings"]
    (app_point,) = demo.json("app", "trend", "webshop")
    assert app_point["version"] == "2026.10"
    assert "risk" in demo("domain", "trend", "acme").stdout
