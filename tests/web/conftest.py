"""The demo estate with three tokens, and clients signed in as each."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshward.api.app import create_app
from meshward.demo.load import load_demo
from meshward.services import auth, rollup
from meshward.store.db import Store

PG = bool(os.environ.get("MESHWARD_TEST_DATABASE_URL"))
TOKENS = {
    "admin": ("admin", None),
    "payments-viewer": ("viewer", "acme.payments"),
    "commerce-editor": ("editor", "acme.commerce"),
}


def seed(url: str) -> dict[str, str]:
    """Load the demo, take today's snapshot, make the tokens; their secrets by name."""
    store = Store(url)
    secrets: dict[str, str] = {}
    with store.session() as s:
        load_demo(s)
        rollup.snapshot_rollups(s)
        for name, (role, domain) in TOKENS.items():
            _, secrets[name] = auth.create_token(s, name, role=role, domain=domain)
    store.dispose()
    return secrets


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("webdemo") / "demo.db"
    return path, seed(f"sqlite:///{path}")


@pytest.fixture
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """(database URL, token secrets): a fresh copy of the demo estate for each test."""
    if PG:
        url: str = request.getfixturevalue("db_url")
        return url, seed(url)
    path, secrets = request.getfixturevalue("_demo_template")
    target = tmp_path / "demo.db"
    shutil.copyfile(path, target)
    return f"sqlite:///{target}", secrets


@pytest.fixture
def app_url(demo: tuple[str, dict[str, str]]) -> str:
    return demo[0]


@pytest.fixture
def tokens(demo: tuple[str, dict[str, str]]) -> dict[str, str]:
    return demo[1]


@pytest.fixture
def client(app_url: str) -> Iterator[TestClient]:
    app = create_app(app_url)
    with TestClient(app, base_url="http://testserver") as c:
        yield c
    app.state.store.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/ui/sign-in")
    response = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(page.text), "token": token, "next": "/ui/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def admin(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["admin"])
    return client
