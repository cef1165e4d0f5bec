"""The same CLI commands against a central meshward: `--server` + MESHWARD_TOKEN, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.api.conftest import Server

SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {"component": {"type": "application", "bom-ref": "root", "name": "ledger"}},
    "components": [
        {
            "type": "library",
            "bom-ref": "pg",
            "name": "postgresql",
            "version": "42.5.1",
            "purl": "pkg:maven/org.postgresql/postgresql@42.5.1",
        }
    ],
    "dependencies": [{"ref": "root", "dependsOn": ["pg"]}],
}


def run(server: Server, who: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MESHWARD_SERVER": server.url,
        "MESHWARD_TOKEN": server.tokens[who],
        # no database on this machine: a command that needed one would fail here
        "MESHWARD_DATABASE_URL": f"sqlite:///{tmp_path}/absent/never.db",
    }
    return subprocess.run(
        [sys.executable, "-m", "meshward", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_pipeline_commands_work_against_the_server(server: Server, tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    bom.write_text(json.dumps(SBOM))
    made = ok(
        run(
            server,
            "payments-editor",
            tmp_path,
            "component",
            "version",
            "add",
            "ledger",
            "9.9.9",
            "--commit",
            "abc",
            "--json",
        )
    )
    assert made["changed"] and made["commit"] == "abc"
    uploaded = ok(
        run(
            server,
            "payments-editor",
            tmp_path,
            "sbom",
            "upload",
            "ledger",
            "9.9.9",
            str(bom),
            "--json",
        )
    )
    assert uploaded["changed"] and uploaded["packages"] == 2 and uploaded["findings"] >= 1
    again = ok(
        run(
            server,
            "payments-editor",
            tmp_path,
            "sbom",
            "upload",
            "ledger",
            "9.9.9",
            str(bom),
            "--json",
        )
    )
    assert not again["changed"]
    deployed = ok(
        run(
            server,
            "payments-editor",
            tmp_path,
            "deploy",
            "record",
            "staging",
            "ledger",
            "9.9.9",
            "--json",
        )
    )
    assert deployed["environment"] == "staging" and deployed["version"] == "9.9.9"
    version = ok(
        run(
            server,
            "payments-editor",
            tmp_path,
            "app",
            "version",
            "create",
            "payments-platform",
            "--set",
            "ledger=9.9.9",
            "--json",
        )
    )
    assert version["created"] and any(m["version"] == "9.9.9" for m in version["members"])
    found = ok(
        run(
            server,
            "payments-viewer",
            tmp_path,
            "findings",
            "list",
            "--component",
            "ledger",
            "--version",
            "9.9.9",
            "--json",
        )
    )
    assert found and {f["component"] for f in found} == {"ledger"}
    radius = ok(run(server, "admin", tmp_path, "blast-radius", "CVE-2021-44228", "--json"))
    assert [c["component"] for c in radius["components"]] == ["search"]
    assert not (tmp_path / "absent").exists()  # nothing touched a local database


def test_refusals_are_one_line(server: Server, tmp_path: Path) -> None:
    denied = run(server, "payments-viewer", tmp_path, "deploy", "record", "prod", "ledger", "1.0.4")
    assert denied.returncode == 1 and denied.stderr.startswith("error: server answered 403")
    local_only = run(server, "admin", tmp_path, "db", "upgrade")
    assert local_only.returncode == 1
    assert local_only.stderr.startswith("error: db upgrade does not run against --server: ")
    assert local_only.stderr.count("\n") == 1 and not (tmp_path / "absent").exists()
    no_token = subprocess.run(
        [sys.executable, "-m", "meshward", "--server", server.url, "findings", "list"],
        env={k: v for k, v in os.environ.items() if k != "MESHWARD_TOKEN"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_token.returncode == 1 and "MESHWARD_TOKEN" in no_token.stderr
