"""``meshward blast-radius`` on the demo organisation: Log4Shell hits search 4.2.0, which runs
in prod and which web-frontend calls over search-api."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app

LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"


@pytest.fixture
def demo(db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(app, ["--db", db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    assert "findings in prod now" in run("demo").stdout
    return run


def test_blast_radius_json(demo: Any) -> None:
    r = orjson.loads(demo("blast-radius", "CVE-2021-44228", "--json").stdout)
    assert set(r) == {
        "query",
        "kind",
        "vulnerability",
        "package",
        "environment",
        "at",
        "packages",
        "advisories",
        "components",
        "applications",
        "environments",
        "consumers",
        "summary",
    }
    assert (r["kind"], r["vulnerability"], r["packages"]) == ("advisory", "CVE-2021-44228", [LOG4J])
    (adv,) = r["advisories"]
    assert adv["ids"] == ["GHSA-jfh8-c2jp-5v3q"] and adv["severity"] == "critical"
    assert adv["fixes"] == [{"purl": LOG4J, "fixed_version": "2.15.0"}]
    (search,) = r["components"]
    assert search == {
        "component": "search",
        "key": "component:default/search",
        "owner": "group:default/storefront",
        "version": "4.2.0",
        "purl": LOG4J,
        "package": "org.apache.logging.log4j:log4j-core",
        "ecosystem": "Maven",
        "installed": "2.14.1",
        "dependency": "direct",
        "path": ["pkg:maven/com.acme/search@4.2.0", LOG4J],
        "vulnerabilities": [
            {
                "vulnerability": "CVE-2021-44228",
                "severity": "critical",
                "score": 10.0,
                "fixed_version": "2.15.0",
                "state": "open",
            }
        ],
        "upgrade_to": "2.15.0",
        "environments": ["prod"],
    }
    # webshop 2026.10 ships search 4.3.1: only the two older versions contain 4.2.0
    assert [(a["application"], a["version"], a["latest"]) for a in r["applications"]] == [
        ("webshop", "2026.09", False),
        ("webshop", "2026.08", False),
    ]
    assert r["environments"] == [
        {
            "environment": "prod",
            "production": True,
            "component": "search",
            "version": "4.2.0",
            "since": "2026-08-15T14:00:00Z",
        }
    ]
    assert [(c["component"], c["depth"], c["path"]) for c in r["consumers"]] == [
        ("web-frontend", 1, ["search", "search-api", "web-frontend"])
    ]
    # the GHSA id gives the same answer; staging runs search 4.3.1, so nothing is hit there
    ghsa = orjson.loads(demo("blast-radius", "GHSA-jfh8-c2jp-5v3q", "--json").stdout)
    assert ghsa["components"] == r["components"] and ghsa["consumers"] == r["consumers"]
    staging = orjson.loads(
        demo("blast-radius", "CVE-2021-44228", "--env", "staging", "--json").stdout
    )
    assert staging["components"] == [] and staging["environment"] == "staging"


def test_blast_radius_tree(demo: Any) -> None:
    out = demo("blast-radius", "CVE-2021-44228").stdout
    for text in (
        "blast radius of CVE-2021-44228 (GHSA-jfh8-c2jp-5v3q)",
        "critical 10.0",
        "search 4.2.0",
        LOG4J,
        "direct",
        "upgrade to 2.15.0",
        "webshop 2026.09: search@4.2.0",
        "prod (production): search 4.2.0 since 2026-08-15T14:00:00Z",
        "web-frontend",
        "search -> search-api -> web-frontend",
    ):
        assert text in out, text
    by_name = demo("blast-radius", "log4j-core").stdout
    assert "advisories (2)" in by_name and "CVE-2021-45046" in by_name


def test_blast_radius_unknown_query_fails_in_one_line(db_url: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "meshward", "--db", db_url, "blast-radius", "CVE-2099-0000"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no advisory 'CVE-2099-0000'")


def test_blast_radius_a_page_at_a_time(demo: Any) -> None:
    whole = orjson.loads(demo("blast-radius", "log4j-core", "--json").stdout)
    assert "page" not in whole
    rows, offset = [], 0
    while offset is not None:
        part = orjson.loads(
            demo(
                "blast-radius",
                "log4j-core",
                "--limit",
                "1",
                "--offset",
                str(offset),
                "--consumers",
                "0",
                "--json",
            ).stdout
        )
        assert part["summary"] == whole["summary"] and part["consumers"] == []
        assert part["page"]["total"] == len(whole["components"]) >= 2
        rows += part["components"]
        offset = part["page"]["next_offset"]
    assert rows == whole["components"]
    tree = demo("blast-radius", "log4j-core", "--limit", "1").stdout
    assert f"components (1-1 of {len(whole['components'])})" in tree
    assert "--limit 1 --offset 1" in tree
    cut = demo("blast-radius", "CVE-2021-44228", "--applications", "1").stdout
    assert "application versions (1 of 2)" in cut
