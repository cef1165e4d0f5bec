"""``meshward app diff``, ``app fix-plan`` and ``component diff`` on the demo organisation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app
from meshward.errors import NotFoundError


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


def vulnerabilities(demo: Any, app_version: str) -> set[str]:
    rows = demo.json("findings", "list", "--app", "webshop", "--app-version", app_version)
    return {r["vulnerability"] for r in rows}


def test_app_diff_webshop(demo: Any) -> None:
    diff = demo.json("app", "diff", "webshop", "2026.08", "2026.10")
    assert set(diff) == {
        "application",
        "from_version",
        "to_version",
        "components_added",
        "components_removed",
        "components_changed",
        "components_unchanged",
        "vulnerabilities_introduced",
        "vulnerabilities_fixed",
        "risk_before",
        "risk_after",
        "risk_delta",
    }
    assert (diff["application"], diff["from_version"], diff["to_version"]) == (
        "webshop",
        "2026.08",
        "2026.10",
    )
    assert diff["components_added"] == diff["components_removed"] == []
    assert {
        (c["component"], c["from_version"], c["to_version"]) for c in diff["components_changed"]
    } == {
        ("web-frontend", "3.0.0", "3.2.0"),
        ("product-catalog", "1.8.2", "1.9.0"),
        ("cart", "2.0.1", "2.1.0"),
        ("search", "4.2.0", "4.3.1"),
        ("recommendation", "0.9.0", "1.0.0"),
    }
    search = next(c for c in diff["components_changed"] if c["component"] == "search")
    log4j = next(
        p for p in search["packages_upgraded"] if p["name"] == "org.apache.logging.log4j:log4j-core"
    )
    assert (log4j["ecosystem"], log4j["from_version"], log4j["to_version"]) == (
        "Maven",
        "2.14.1",
        "2.17.2",
    )
    assert log4j["purl"] == "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.2"
    assert "CVE-2021-44228" in {v["vulnerability"] for v in search["vulnerabilities_fixed"]}
    # introduced and fixed agree with the findings of each version, asked for separately
    before, after = vulnerabilities(demo, "2026.08"), vulnerabilities(demo, "2026.10")
    assert {v["vulnerability"] for v in diff["vulnerabilities_fixed"]} == before - after
    assert {v["vulnerability"] for v in diff["vulnerabilities_introduced"]} == after - before
    assert before - after
    assert diff["risk_delta"] == pytest.approx(diff["risk_after"] - diff["risk_before"])
    assert diff["risk_delta"] < 0
    first = diff["vulnerabilities_fixed"][0]
    assert set(first) == {"vulnerability", "severity", "score", "risk", "components", "packages"}

    text = demo("app", "diff", "webshop", "2026.08", "2026.10").stdout
    assert "webshop 2026.08 → 2026.10" in text
    assert "org.apache.logging.log4j:log4j-core (Maven) 2.14.1 → 2.17.2" in text
    assert "CVE-2021-44228" in text and "vulnerabilities fixed" in text
    # the other way round, the same changes swap sides
    back = demo.json("app", "diff", "webshop", "2026.10", "2026.08")
    assert {v["vulnerability"] for v in back["vulnerabilities_introduced"]} == before - after
    assert back["risk_delta"] == pytest.approx(-diff["risk_delta"])


def test_component_diff(demo: Any) -> None:
    diff = demo.json("component", "diff", "search", "4.2.0", "4.3.1")
    assert (diff["component"], diff["from_version"], diff["to_version"]) == (
        "search",
        "4.2.0",
        "4.3.1",
    )
    assert {"CVE-2021-44228", "CVE-2021-45046"} <= {
        v["vulnerability"] for v in diff["vulnerabilities_fixed"]
    }
    assert diff["packages_downgraded"] == [] and diff["risk_delta"] < 0
    text = demo("component", "diff", "search", "4.2.0", "4.3.1").stdout
    assert "search 4.2.0 → 4.3.1" in text and "CVE-2021-44228" in text
    with pytest.raises(NotFoundError):
        demo("component", "diff", "search", "4.2.0", "9.9.9")
    with pytest.raises(NotFoundError):
        demo("app", "diff", "webshop", "2026.08", "2099.01")


def test_fix_plan_payments_platform(demo: Any) -> None:
    plan = demo.json("app", "fix-plan", "payments-platform")
    assert set(plan) == {
        "application",
        "version",
        "risk",
        "risk_cleared",
        "risk_open",
        "components",
    }
    assert (plan["application"], plan["version"]) == ("payments-platform", "3")
    assert {c["component"] for c in plan["components"]} == {
        "checkout",
        "payment-gateway",
        "fraud-detection",
        "ledger",
    }
    cleared = [c["risk_cleared"] for c in plan["components"]]
    assert cleared == sorted(cleared, reverse=True)
    ledger = next(c for c in plan["components"] if c["component"] == "ledger")
    upgrades = {u["package"]: u for u in ledger["upgrades"]}
    assert (
        upgrades["org.postgresql:postgresql"]["installed"],
        upgrades["org.postgresql:postgresql"]["target"],
    ) == (["42.5.1"], "42.5.5")
    assert upgrades["org.postgresql:postgresql"]["advisories"] == ["GHSA-24rp-q3w6-vc56"]
    databind = upgrades["com.fasterxml.jackson.core:jackson-databind"]
    assert (databind["installed"], databind["target"]) == (["2.12.6"], "2.12.6.1")
    assert set(ledger["upgrades"][0]) == {
        "ecosystem",
        "package",
        "installed",
        "target",
        "risk_cleared",
        "vulnerabilities",
        "advisories",
        "findings",
    }
    by_risk = [u["risk_cleared"] for u in ledger["upgrades"]]
    assert by_risk == sorted(by_risk, reverse=True)
    for comp in plan["components"]:
        assert comp["risk"] == pytest.approx(comp["risk_cleared"] + comp["risk_open"])
    # each fixable finding of the version is in exactly one upgrade; the rest stay open
    rows = demo.json("findings", "list", "--app", "payments-platform", "--app-version", "3")
    settled = {"not_affected", "false_positive", "fixed"}
    fixable = {r["id"] for r in rows if r["fixed_version"] and r["state"] not in settled}
    unfixable = {r["id"] for r in rows if not r["fixed_version"] and r["state"] not in settled}
    planned = [i for c in plan["components"] for u in c["upgrades"] for i in u["findings"]]
    assert sorted(planned) == sorted(fixable)
    assert {o["finding"] for c in plan["components"] for o in c["open"]} == unfixable

    first = demo.json("app", "fix-plan", "payments-platform", "--version", "1")
    assert first["version"] == "1"
    text = demo("app", "fix-plan", "payments-platform").stdout
    assert "payments-platform 3" in text and "42.5.5" in text and "GHSA-24rp-q3w6-vc56" in text
