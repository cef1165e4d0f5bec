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


def command_name() -> str:
    """``sbom upload``, as the user typed it (for one-line refusals)."""
    try:  # Typer carries its own copy of click, whose context stack is the one in use
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover (a Typer on the click package)
        from click import get_current_context  # type: ignore[no-redef]
    names: list[str] = []
    ctx = get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:  # the root's name is the program's
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(names) or "this command"


def open_store() -> Store:
    return Store(state.db_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    if state.server:  # a command with no API path: say which, never open a local database
        raise MeshwardError(
            f"{command_name()} does not run against --server: it works on a local database "
            "(run it where the database is)"
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
