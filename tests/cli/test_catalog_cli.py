"""The CLI as a pipeline uses it: commands, --json shapes, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app

DEMO = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "catalog"


@pytest.fixture
def cli(db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(app, ["--db", db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    def json(*args: str) -> Any:
        return orjson.loads(run(*args, "--json").stdout)

    run.json = json  # type: ignore[attr-defined]
    return run


def test_demo_then_catalog_views(cli: Any) -> None:
    out = cli("demo").stdout
    assert "15 component versions" not in out and "application versions" in out
    tree = cli.json("catalog", "tree")
    assert tree["domains"][0]["path"] == "acme"
    shown = cli.json("catalog", "show", "checkout")
    assert shown["ref"] == "component:default/checkout"
    assert shown["component"]["domain"] == "acme.payments"
    types = {r["type"] for r in shown["relations"]}
    assert {"ownedBy", "partOf", "providesApi", "consumesApi", "apiConsumedBy"} <= types or (
        {"ownedBy", "partOf", "providesApi", "consumesApi"} <= types
    )
    assert [v["version"] for v in shown["versions"]] == ["1.4.0", "1.5.0", "1.5.1"]
    group = cli.json("catalog", "show", "group:payments-team")
    assert {"type": "ownerOf", "target": "component:default/checkout", "resolved": True} in group[
        "relations"
    ]
    api = cli.json("catalog", "show", "api:payment-api")
    consumers = {r["target"] for r in api["relations"] if r["type"] == "apiConsumedBy"}
    assert consumers == {"component:default/checkout"}
    links = cli.json("catalog", "links")
    assert {
        "consumer": "component:default/checkout",
        "api": "api:default/payment-api",
        "provider": "component:default/payment-gateway",
    } in links


def test_versions_app_versions_and_deployments(cli: Any) -> None:
    cli("catalog", "import", str(DEMO))
    added = cli.json("component", "version", "add", "checkout", "2.0.0", "--commit", "abc123")
    assert added["changed"] and added["commit"] == "abc123"
    assert not cli.json("component", "version", "add", "checkout", "2.0.0")["changed"]
    cli("component", "version", "add", "ledger", "1.0.4")
    v1 = cli.json("app", "version", "create", "payments-platform", "--set", "checkout=2.0.0")
    assert v1["created"] and v1["version"] == "1" and v1["changes"][0]["change"] == "added"
    v2 = cli.json(
        "app", "version", "create", "payments-platform", "--set", "ledger=1.0.4", "--version", "r2"
    )
    assert v2["base"] == "1" and [m["component"] for m in v2["members"]] == ["checkout", "ledger"]
    assert not cli.json("app", "version", "create", "payments-platform", "--set", "ledger=1.0.4")[
        "created"
    ]
    shown = cli.json("app", "version", "show", "payments-platform", "1")
    assert [m["component"] for m in shown["members"]] == ["checkout"]
    assert [v["version"] for v in cli.json("app", "version", "list", "payments-platform")] == [
        "1",
        "r2",
    ]
    cli("deploy", "record", "prod", "checkout", "2.0.0", "--at", "2026-11-01T10:00:00Z")
    cli("component", "version", "add", "checkout", "2.1.0")
    cli("deploy", "record", "prod", "checkout", "2.1.0", "--at", "2026-11-10T10:00:00Z")
    then = cli.json("deploy", "list", "--env", "prod", "--at", "2026-11-05T00:00:00Z")
    assert [(d["component"], d["version"]) for d in then] == [("checkout", "2.0.0")]
    now = cli.json("deploy", "list", "--env", "prod")
    assert [(d["component"], d["version"], d["until"]) for d in now] == [
        ("checkout", "2.1.0", None)
    ]
    history = cli.json("deploy", "list", "--history")
    assert [d["until"] for d in history] == ["2026-11-10T10:00:00Z", None]
    envs = cli.json("deploy", "envs")
    assert {"name": "prod", "title": None, "production": True, "running": 1} in envs


def test_errors_are_one_line_and_exit_non_zero(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n")
    for args in (
        ["component", "version", "add", "nope", "1.0"],
        ["catalog", "import", str(bad)],
        ["deploy", "record", "prod", "nope", "1", "--at", "yesterday"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "meshward", "--db", db_url, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr
