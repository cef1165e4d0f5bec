"""Errors a user can act on. The CLI and API print them as one line, never a traceback."""

from __future__ import annotations


class MeshwardError(Exception):
    """Base of every error meant for the user."""


class NotFoundError(MeshwardError):
    """A named thing (component, version, application, ...) does not exist."""


class ConflictError(MeshwardError):
    """The request contradicts what is stored."""


class InputError(MeshwardError):
    """A file a user gave us is malformed, oversized or hostile.

    ``source`` names the file, ``place`` the spot inside it (a JSON pointer, a line number,
    an entity reference) so the user can find and fix it.
    """

    def __init__(self, source: str, place: str | None, message: str) -> None:
        self.source = source
        self.place = place
        self.message = message
        where = f"{source}: {place}" if place else source
        super().__init__(f"{where}: {message}")


class AuthenticationError(MeshwardError):
    """No credentials, or credentials that are unknown, expired or revoked (HTTP 401)."""


class PermissionDeniedError(MeshwardError):
    """Known caller, but the role or token scope does not allow this (HTTP 403)."""
