"""``meshward token ...`` and ``meshward audit list`` (on a local app until main wires them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from meshward.cli import admin
from meshward.cli.common import state
from meshward.services import auth
from meshward.services.catalog_import import import_catalog
from meshward.store.db import Store

DEMO = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "catalog"

app = typer.Typer()


@app.callback()
def _root(db: str = typer.Option(..., "--db")) -> None:
    state.db_url = db


admin.register(app)


@pytest.fixture
def cli(db_url: str, store: Store) -> Any:
    with store.session() as session:
        import_catalog(session, [DEMO / "all.yaml"])
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["--db", db_url, *args])
        assert result.exit_code == code, result.output
        return result

    return run


def test_token_create_list_revoke_and_audit(cli: Any, store: Store) -> None:
    made = orjson.loads(
        cli(
            "token",
            "create",
            "--role",
            "editor",
            "--domain",
            "acme.payments",
            "--name",
            "ci",
            "--json",
        ).stdout
    )
    secret = made["token"]
    assert secret.startswith(made["prefix"] + "_")
    assert made["roles"] == [{"role": "editor", "domain": "acme.payments"}]
    assert made["scopes"] == ["read", "write"]
    listed = orjson.loads(cli("token", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    assert secret not in cli("token", "list").stdout
    with store.session() as s:
        principal = auth.verify_token(s, secret)
    assert principal.may("write", "acme.payments.cards") and not principal.may("write", "acme")
    cli("token", "revoke", "ci")
    with store.session() as s, pytest.raises(auth.AuthenticationError):
        auth.verify_token(s, secret)
    events = orjson.loads(cli("audit", "list", "--kind", "api_token", "--json").stdout)
    assert [e["action"] for e in events] == ["api_token.update", "api_token.create"]
    assert all(e["via"] == "cli" for e in events)
    assert events[0]["after"].keys() == {"revoked_at"}
    assert "secret_hash" not in orjson.dumps(events).decode()
    assert cli("audit", "list", "--since", "2000-01-01").stdout.count("api_token") >= 2


def test_token_create_refuses_unknown_role_and_duplicate_names(cli: Any) -> None:
    cli("token", "create", "--role", "owner", code=1)
    cli("token", "create", "--role", "viewer", "--name", "x")
    cli("token", "create", "--role", "viewer", "--name", "x", code=1)
