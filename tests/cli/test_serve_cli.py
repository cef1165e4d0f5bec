"""``meshward serve --workers N``: several processes, one database, one session key."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from meshward.services import auth
from meshward.store.db import Store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_workers_share_the_database_and_the_session_key(db_url: str) -> None:
    store = Store(db_url)
    with store.session() as s:
        _, token = auth.create_token(s, "serve-test", role="admin")
    store.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MESHWARD_SECRET_KEY"}
    command = [sys.executable, "-m", "meshward", "--db", db_url, "serve", "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "meshward serve --workers 2 did not start"
            time.sleep(0.2)
        # a new connection per request, so the kernel spreads them over both workers
        page = httpx.get(f"{base}/ui/sign-in", timeout=10)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        signed = httpx.post(
            f"{base}/ui/sign-in",
            data={"csrf": csrf.group(1), "token": token, "next": "/ui/"},
            cookies=page.cookies,
            timeout=10,
        )
        assert signed.status_code == 303, signed.text
        cookies = signed.cookies
        for _ in range(30):
            ui = httpx.get(f"{base}/ui/", cookies=cookies, timeout=10)
            assert ui.status_code == 200 and "Sign out" in ui.text
            api = httpx.get(
                f"{base}/api/v1/domains", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert api.status_code == 200
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert output.count("Started server process") >= 2, output


def test_a_worker_app_reads_the_environment_and_tunes_the_collector(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from meshward.api.app import GC_THRESHOLDS, app_from_environment

    monkeypatch.setenv("MESHWARD_DATABASE_URL", db_url)
    before = gc.get_threshold()
    try:
        app = app_from_environment()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert app.state.store.url == db_url
        app.state.store.dispose()
    finally:
        gc.set_threshold(*before)
