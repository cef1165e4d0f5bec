"""A real meshward server on 127.0.0.1 (uvicorn in a thread, a free port), loaded with the
demo organisation once per module, and tokens for the roles the tests play."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select, update

from meshward.api.app import create_app
from meshward.demo.load import load_demo
from meshward.services import auth
from meshward.store.db import Store
from meshward.store.models import Finding
from tests.conftest import PG_URL, empty_postgres


@dataclass
class Server:
    url: str
    store: Store
    tokens: dict[str, str]

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def api_db(_template_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        empty_postgres(_template_db)
        return _template_db
    target = Path(tmp_path_factory.mktemp("api")) / "meshward.db"
    shutil.copyfile(_template_db, target)
    return f"sqlite:///{target}"


TOKENS = {
    "admin": ("admin", None),
    "payments-viewer": ("viewer", "acme.payments"),
    "payments-editor": ("editor", "acme.payments"),
    "commerce-editor": ("editor", "acme.commerce"),
}


@pytest.fixture(scope="module")
def server(api_db: str) -> Iterator[Server]:
    store = Store(api_db)
    tokens: dict[str, str] = {}
    with store.session() as session:
        load_demo(session)
        for name, (role, domain) in TOKENS.items():
            _, tokens[name] = auth.create_token(session, name, role=role, domain=domain)
        _, tokens["payments-readonly-editor"] = auth.create_token(
            session,
            "payments-readonly-editor",
            role="editor",
            domain="acme.payments",
            scopes=["read"],
        )
    port = _free_port()
    app = create_app(api_db)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", store, tokens)
    uv.should_exit = True
    thread.join(10)
    app.state.store.dispose()
    store.dispose()


def age_half_the_findings(store: Store) -> None:
    """Every other finding appeared 200 days ago: past any SLA, so ``overdue`` keeps some
    and drops others, on every page."""
    with store.session() as session:
        rows = session.execute(select(Finding.id, Finding.first_seen)).all()
        older = [
            {"id": fid, "first_seen": seen - timedelta(days=200)}
            for fid, seen in rows
            if fid % 2 == 0
        ]
        session.execute(update(Finding), older)
