"""The CLI against a central meshward: ``--server URL`` (or ``MESHWARD_SERVER``) with a token
in ``MESHWARD_TOKEN``. A command fetches a plain value either from the services on a local
session or from the API, then renders it with one function, so both print the same; the few
commands that only make sense next to a database refuse in one line."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session

from meshward import __version__
from meshward.cli.common import command_name, session_scope, state
from meshward.errors import MeshwardError

T = TypeVar("T")

BATCH_BYTES = 900 * 1024
"""Bodies the CLI splits (advisories, catalog entities) stay under the API's 1 MB limit."""


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

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response of a successful request; a problem+json answer becomes one line."""
        url = self.base + path
        if "params" in kwargs:  # None means "not given", as for a CLI option
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
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
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.send(method, path, **kwargs).json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """Every item of a paginated list, following ``next`` cursors."""
        params = {k: v for k, v in params.items() if v is not None and v != []}
        params["limit"] = 500
        while True:
            body = self.request("GET", path, params=params)
            yield from body["items"]
            if not body.get("next"):
                return
            params["cursor"] = httpx.URL(body["next"]).params["cursor"]

    def all(self, path: str, **params: Any) -> list[Any]:
        return list(self.pages(path, params))

    def close(self) -> None:
        self.client.close()


def quote(part: str) -> str:
    """One path segment of an API URL (a name may hold ``/`` or ``@``)."""
    return urllib.parse.quote(part, safe="")


def client_for(server: str | None) -> RemoteClient | None:
    if not server:
        return None
    return RemoteClient(server, os.environ.get("MESHWARD_TOKEN"))


def fetch(local: Callable[[Session], T], remote: Callable[[RemoteClient], T]) -> T:
    """The value a command shows: from a local session, or from the API with ``--server``."""
    client = client_for(state.server)
    if client is None:
        with session_scope() as session:
            return local(session)
    try:
        return remote(client)
    finally:
        client.close()


def local_only(reason: str) -> None:
    """Refuse, in one line, a command that only makes sense next to the database."""
    if state.server:
        raise MeshwardError(f"{command_name()} does not run against --server: {reason}")


# ---------------------------------------------------------------- JSON back to views


def revive(cls: type[T], data: Any) -> T:
    """A service's dataclass view rebuilt from its JSON form (nested views included), so the
    CLI renders what the API sent with the very function that renders a local result."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    values = {f.name: _value(hints[f.name], data[f.name]) for f in fields if f.name in data}
    init = {f.name for f in fields if f.init}
    obj = cls(**{k: v for k, v in values.items() if k in init})
    for name in values.keys() - init:
        setattr(obj, name, values[name])
    return obj


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return revive(hint, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        return [_value(args[0], v) for v in value]
    if origin is tuple and args:
        return tuple(_value(args[0], v) for v in value)
    if origin is dict and args:
        return {k: _value(args[1], v) for k, v in value.items()}
    return value
