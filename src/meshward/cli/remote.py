"""The CLI against a central meshward: ``--server URL`` (or ``MESHWARD_SERVER``) with a token
in ``MESHWARD_TOKEN``. Commands that support it send the same request the API documents and
print the same output as locally; the others refuse rather than touch a local database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx

from meshward import __version__
from meshward.errors import MeshwardError


class RemoteClient:
    def __init__(self, server: str, token: str | None, *, timeout: float = 120) -> None:
        if not server.startswith(("http://", "https://")):
            raise MeshwardError(f"--server must be an http(s) URL, got {server!r}")
        if not token:
            raise MeshwardError("--server needs a token in MESHWARD_TOKEN")
        self.base = server.rstrip("/") + "/api/v1"
        self.client = httpx.Client(
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"meshward-cli/{__version__}",
            },
            timeout=timeout,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base + path
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise MeshwardError(f"{self.base}: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = problem.get("detail") or problem.get("title")
            except ValueError:
                detail = response.text[:200]
            raise MeshwardError(f"server answered {response.status_code}: {detail}")
        return response.json()

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following ``next`` cursors."""
        params = {**params, "limit": 500}
        while True:
            body = self.request("GET", path, params=params)
            yield from body["items"]
            if not body.get("next"):
                return
            params["cursor"] = body["next"]

    def close(self) -> None:
        self.client.close()


def client_for(server: str | None) -> RemoteClient | None:
    if not server:
        return None
    return RemoteClient(server, os.environ.get("MESHWARD_TOKEN"))
