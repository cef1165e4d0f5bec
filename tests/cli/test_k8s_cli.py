"""``meshward k8s import`` and ``POST /api/v1/environments/{env}/k8s-import``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meshward.api.app import create_app
from meshward.cli.main import app
from meshward.services import auth, catalog
from meshward.store.db import Store
from meshward.store.models import Domain

FIXTURES = Path(__file__).resolve().parents[1] / "formats" / "k8s" / "fixtures"
RULES = "rules:\n  - image: registry.acme.example:5000/shop/{name}\n    strip_prefix: v\n"


@pytest.fixture
def db(db_url: str) -> str:
    store = Store(db_url)
    with store.session() as s:
        payments = Domain(key="domain:default/payments", name="payments", path="acme.payments")
        other = Domain(key="domain:default/search", name="search", path="acme.search")
        s.add_all([payments, other])
        s.flush()
        for name in ("web", "db", "report"):
            catalog.create_component(s, name).domain_id = payments.id
    store.dispose()
    return db_url


def _cli(db: str, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--db", db, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_import_json_then_unchanged(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = ["k8s", "import", str(FIXTURES / "shop.yaml"), "--env", "prod", "--rules", str(rules)]
    first = orjson.loads(_cli(db, *args, "--cluster", "eu-1", "--json").stdout)
    assert first["changed"] and first["source"] == "k8s:eu-1"
    assert sorted(d["component"] for d in first["deployments_started"]) == ["report", "web"]
    assert sorted(v["version"] for v in first["versions_created"]) == ["1.4.0", "2.0.1"]
    assert {u["container"] for u in first["unmapped"]} == {"migrate", "shell", "postgres"}
    assert {p["name"] for p in first["platforms"]} == {
        "istio:prod@eu-1",
        "istio:prod@eu-1/shop",
        "kubernetes:prod@eu-1/shop",
    }
    running = orjson.loads(_cli(db, "deploy", "list", "--env", "prod", "--json").stdout)
    assert {(d["component"], d["version"]) for d in running} == {
        ("web", "1.4.0"),
        ("report", "2.0.1"),
    }
    again = orjson.loads(_cli(db, *args, "--cluster", "eu-1", "--json").stdout)
    assert not again["changed"] and again["deployments_unchanged"] == 2


def test_dry_run_table(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    out = _cli(
        db, "k8s", "import", str(FIXTURES), "--env", "prod", "--rules", str(rules), "--dry-run"
    ).stdout
    assert out.startswith("dry run: nothing recorded.")
    assert "started" in out and "istio:prod" in out and "unmapped" in out
    assert orjson.loads(_cli(db, "deploy", "list", "--json").stdout) == []
    assert orjson.loads(_cli(db, "deploy", "envs", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{bomb}", "--env", "prod"], "alias bomb"),
        (["{shop}", "--env", "prod", "--rules", "{bad_rules}"], "rules[0].image"),
        (["{shop}", "--env", "prod", "--kubeconfig", "{shop}"], "not both"),
        (["--env", "prod"], "give manifest files"),
        (["--env", "prod", "--kubeconfig", "{missing}"], "kubeconfig"),
    ],
)
def test_errors_are_one_line(db: str, tmp_path: Path, args: list[str], message: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
            for p, c in zip("abcdef", "bcdefg", strict=True)
        )
    )
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("rules: [{component: x}]\n")
    paths = {
        "bomb": str(bomb),
        "shop": str(FIXTURES / "shop.yaml"),
        "bad_rules": str(bad_rules),
        "missing": str(tmp_path / "nope"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "meshward", "--db", db, "k8s", "import"]
        + [a.format(**paths) for a in args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr


# ---------------------------------------------------------------- the API

NO_MESH = (FIXTURES / "shop.yaml").read_text().replace("kind: PeerAuthentication", "kind: Other")


@pytest.fixture
def api(db: str) -> Any:
    store = Store(db)
    tokens: dict[str, str] = {}
    with store.session() as s:
        for name, role, domain, scopes in (
            ("estate-admin", "admin", None, None),
            ("estate-editor", "editor", None, None),
            ("payments-admin", "admin", "acme.payments", None),
            ("search-admin", "admin", "acme.search", None),
            ("payments-admin-readonly", "admin", "acme.payments", ["read"]),
        ):
            _, tokens[name] = auth.create_token(s, name, role=role, domain=domain, scopes=scopes)
    store.dispose()
    client = TestClient(create_app(db))

    def post(who: str, body: dict[str, Any]) -> Any:
        return client.post(
            "/api/v1/environments/prod/k8s-import",
            json=body,
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )

    yield post
    client.close()


def test_api_import_needs_admin_over_what_it_touches(api: Any) -> None:
    mesh = {"manifests": (FIXTURES / "shop.yaml").read_text(), "rules": RULES}
    for who in ("estate-editor", "search-admin", "payments-admin-readonly"):
        response = api(who, mesh)
        assert response.status_code == 403, response.text
    # a mesh-wide platform is the estate's: a domain admin may not set it
    assert api("payments-admin", mesh).status_code == 403
    dry = api("payments-admin", {"manifests": NO_MESH, "rules": RULES, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] and dry.json()["changed"]
    done = api("payments-admin", {"manifests": NO_MESH, "rules": RULES})
    assert done.status_code == 201, done.text
    assert sorted(d["component"] for d in done.json()["deployments_started"]) == ["report", "web"]
    again = api("estate-admin", {"manifests": NO_MESH, "rules": RULES})
    assert again.status_code == 200 and not again.json()["changed"]
    with_mesh = api("estate-admin", mesh)
    assert with_mesh.status_code == 201
    assert [p["name"] for p in with_mesh.json()["platforms"]] == ["istio:prod"]


def test_api_bad_manifests_are_problems(api: Any) -> None:
    response = api("estate-admin", {"manifests": "kind: Pod\napiVersion: v1\nmetadata: {}\n"})
    assert response.status_code in (400, 422)
    assert "metadata.name" in response.text


@pytest.fixture
def remote(db: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real server on 127.0.0.1 over ``db``, and an estate admin's token in the env."""
    import socket
    import threading
    import time

    import uvicorn

    store = Store(db)
    with store.session() as s:
        _, token = auth.create_token(s, "ci", role="admin")
    store.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    web = create_app(db)
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    monkeypatch.setenv("MESHWARD_TOKEN", token)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    web.state.store.dispose()


def test_remote_import_sends_the_files(db: str, remote: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    runner = CliRunner()
    args = ["--server", remote, "k8s", "import", str(FIXTURES), "--env", "prod"]
    result = runner.invoke(app, [*args, "--rules", str(rules), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert sorted(d["component"] for d in data["deployments_started"]) == ["report", "web"]
    assert data["source"] == "k8s" and data["changed"]
    shown = runner.invoke(app, [*args, "--rules", str(rules)], catch_exceptions=False)
    assert "2 deployments unchanged" in shown.stdout
    live = runner.invoke(
        app, ["--server", remote, "k8s", "import", "--kubeconfig", "x", "--env", "prod"]
    )
    assert live.exit_code != 0 and "against --server" in str(live.exception)
    running = orjson.loads(_cli(db, "deploy", "list", "--env", "prod", "--json").stdout)
    assert {d["component"] for d in running} == {"web", "report"}
