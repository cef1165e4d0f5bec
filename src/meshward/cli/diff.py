"""CLI commands for diff (filled in by its issue's work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, app_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `app` group."""
