"""What every command shares: the store it opens, JSON output, and one-line errors."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from rich.console import Console
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError
from meshward.store.db import Store

# Wide enough for purls when piped; a terminal keeps its own width.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


class State:
    db_url: str | None = None
    server: str | None = None
    """``--server`` / ``MESHWARD_SERVER``: act on a central meshward over its API."""


state = State()

JsonOption = typer.Option(False, "--json", help="Print JSON (stable shape) instead of a table.")


def open_store() -> Store:
    return Store(state.db_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    if state.server:
        raise MeshwardError(
            "this command does not run against --server yet: run it where the database is "
            "(remote: sbom upload, component version add, deploy record, app version create, "
            "findings list, blast-radius --json)"
        )
    store = open_store()
    try:
        with store.session() as session:
            yield session
    finally:
        store.dispose()


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError


def emit_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(data, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n"
    )
