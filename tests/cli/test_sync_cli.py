"""`meshward advisories sync` end to end against a local OSV bucket on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from meshward.cli.main import app
from meshward.services import catalog, findings
from meshward.services.findings import FindingFilter
from meshward.services.sboms import store_sbom
from meshward.store.db import Store
from tests.services.test_matching import sbom
from tests.sync.test_osv_source import Bucket


def _affecting(rid: str, modified: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": modified,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
            }
        ],
        **extra,
    }


def active(store: Store) -> set[str]:
    with store.session() as s:
        return {f.vulnerability for f in findings.list_findings(s, FindingFilter())}


def test_sync_imports_then_follows_changes(
    db_url: str,
    store: Store,
    server: str,
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    with store.session() as s:
        seed(s)
    bucket.put("PyPI", _affecting("PYSEC-2099-9", "2099-01-01T00:00:00Z"))
    bucket.publish("PyPI")
    runner = CliRunner()

    def sync() -> Any:
        result = runner.invoke(
            app,
            [
                "--db",
                db_url,
                "advisories",
                "sync",
                "--source",
                server,
                "--cache",
                str(tmp_path),
                "--json",
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)

    first = sync()  # no --ecosystem: the ecosystems the stored SBOMs use (PyPI)
    assert first["sync"]["ecosystems"][0]["mode"] == "full"
    assert first["import"]["created"] == 4
    assert "PYSEC-2099-9" in active(store)
    second = sync()
    assert second["sync"]["ecosystems"][0]["mode"] == "not-modified"
    assert second["import"]["created"] == 0
    bucket.put(
        "PyPI",
        _affecting("PYSEC-2099-9", "2099-02-01T00:00:00Z", withdrawn="2099-02-01T00:00:00Z"),
    )
    bucket.publish("PyPI")
    third = sync()
    assert third["sync"]["ecosystems"][0]["mode"] == "incremental"
    assert third["import"]["updated"] == 1 and third["import"]["matching"]["resolved"] == 1
    assert "PYSEC-2099-9" not in active(store)


def seed(session: Session) -> None:
    catalog.create_component(session, "api")
    store_sbom(session, "api", "1", sbom(["pkg:pypi/demo@1.0"]), "d", None)
