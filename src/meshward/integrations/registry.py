"""Which :class:`Tracker` a configured target is, and where its secret comes from.

The secret is read from the environment variable the target names, at the moment of use:
it never enters the database, an API answer or a log line."""

from __future__ import annotations

import os
import re

import httpx

from meshward.errors import MeshwardError
from meshward.integrations.github import GitHub
from meshward.integrations.interface import Tracker
from meshward.integrations.jira import Jira
from meshward.store.integration_models import TicketTarget

KINDS = ("jira", "github")
AUTH_KINDS = {"jira": ("basic", "bearer"), "github": ("bearer",)}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def secret_from_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MeshwardError(f"{what}: environment variable {name} is not set")
    return value


def tracker_for(target: TicketTarget, *, transport: httpx.BaseTransport | None = None) -> Tracker:
    secret = secret_from_env(target.secret_env, f"ticket target {target.name}")
    if target.kind == "jira":
        return Jira(
            target.base_url,
            target.project,
            api_version=target.api_version,
            auth_kind=target.auth_kind,
            secret=secret,
            user=target.auth_user,
            issue_type=target.issue_type,
            done_transition=target.done_transition,
            reopen_transition=target.reopen_transition,
            allow_private=target.allow_private,
            transport=transport,
        )
    if target.kind == "github":
        return GitHub(
            target.base_url,
            target.project,
            secret=secret,
            allow_private=target.allow_private,
            transport=transport,
        )
    raise MeshwardError(f"unknown tracker kind {target.kind!r}; known: {', '.join(KINDS)}")
