"""The audit trail: one mechanism for every change, whether it comes from the CLI or the API.

A session ``after_flush`` hook turns the ORM's own bookkeeping (new, changed and deleted
objects, with each attribute's history) into audit events, and writes them in one
``executemany`` with the flush: no query per row, and nothing a service has to remember.
Bulk paths that bypass the ORM (``meshward.store.bulk``, Core ``insert``/``update``) record one
summary event each with :func:`record` instead of one event per row.

Who acted comes from ``session.info["actor"]`` (set by the API per request), else from the
``current_actor`` context variable, else the OS user through the CLI.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from weakref import WeakSet

import orjson
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from meshward.store.auth_models import ApiToken, AuditEvent, RoleBinding
from meshward.store.models import (
    Advisory,
    Api,
    Application,
    ApplicationVersion,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Environment,
    Finding,
    SbomDocument,
    SlaPolicy,
    TriageRule,
)
from meshward.store.threat_models import ControlTask, KbRelease, Platform, Survey
from meshward.store.types import utcnow


@dataclass(frozen=True)
class Actor:
    name: str
    via: str
    """``cli`` or ``api``."""


current_actor: ContextVar[Actor | None] = ContextVar("meshward_actor", default=None)

MAX_VALUE = 200
"""Longest value kept in before/after, in characters of its JSON; longer ones are cut."""


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def actor_of(session: Session) -> Actor:
    given = session.info.get("actor")
    if isinstance(given, Actor):
        return given
    return current_actor.get() or Actor(_os_user(), "cli")


def _component_key(session: Session, component_id: int) -> str:
    """The component's key when the session already holds it (no query), else its id."""
    comp = session.identity_map.get(identity_key(Component, component_id))
    return comp.key if isinstance(comp, Component) else f"#{component_id}"


KeyOf = Callable[[Session, Any], str]

AUDITED: dict[type[Any], tuple[str, KeyOf]] = {
    Domain: ("domain", lambda s, o: o.path),
    Component: ("component", lambda s, o: o.key),
    ComponentVersion: (
        "component_version",
        lambda s, o: f"{_component_key(s, o.component_id)}@{o.version}",
    ),
    Api: ("api", lambda s, o: o.key),
    Application: ("application", lambda s, o: o.key),
    ApplicationVersion: ("application_version", lambda s, o: f"#{o.application_id}@{o.version}"),
    Environment: ("environment", lambda s, o: o.name),
    Deployment: (
        "deployment",
        lambda s, o: f"{_component_key(s, o.component_id)} in #{o.environment_id}",
    ),
    SbomDocument: ("sbom_document", lambda s, o: str(o.id)),
    Advisory: ("advisory", lambda s, o: o.osv_id),
    Finding: ("finding", lambda s, o: str(o.id)),
    TriageRule: ("triage_rule", lambda s, o: str(o.id)),
    SlaPolicy: ("sla_policy", lambda s, o: f"{o.severity} #{o.domain_id or 'estate'}"),
    ApiToken: ("api_token", lambda s, o: o.name),
    RoleBinding: ("role_binding", lambda s, o: f"{o.subject_kind}:{o.subject}"),
    Survey: ("survey", lambda s, o: f"version #{o.component_version_id}"),
    ControlTask: (
        "control_task",
        lambda s, o: f"{o.control_key} of version #{o.component_version_id}",
    ),
    Platform: ("platform", lambda s, o: o.name),
    KbRelease: ("kb_release", lambda s, o: o.version),
}

SECRET = frozenset({"secret_hash"})
"""Never recorded, not even as changed."""
NOISE = frozenset({"last_used_at", "last_seen", "raw", "digest", "imported_at", "content"})
"""Left out of before/after; a change of these alone is not an event."""


def _short(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + "…"
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = str(value)
    if len(text) <= MAX_VALUE:
        return orjson.loads(text)
    return text[: MAX_VALUE - 1] + "…"


def _columns(obj: Any) -> list[str]:
    return [
        attr.key
        for attr in inspect(type(obj)).column_attrs
        if attr.key not in SECRET and attr.key not in NOISE
    ]


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {k: _short(state.dict.get(k)) for k in _columns(obj) if k in state.dict}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        hist = state.attrs[key].history
        if not hist.added and not hist.deleted:
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[key], after[key] = _short(old), _short(new)
    return before, after


def _after_flush(session: Session, _context: Any) -> None:
    rows: list[dict[str, Any]] = []
    actor = None
    now = utcnow()

    def add(
        obj: Any, verb: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        nonlocal actor
        kind, key_of = AUDITED[type(obj)]
        actor = actor or actor_of(session)
        rows.append(
            {
                "at": now,
                "actor": actor.name[:200],
                "via": actor.via,
                "action": f"{kind}.{verb}",
                "entity_kind": kind,
                "entity_key": str(key_of(session, obj))[:500],
                "before": before,
                "after": after,
            }
        )

    for obj in session.new:
        if type(obj) in AUDITED:
            add(obj, "create", None, _snapshot(obj))
    for obj in session.dirty:
        if type(obj) in AUDITED and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after or before:
                add(obj, "update", before, after)
    for obj in session.deleted:
        if type(obj) in AUDITED:
            add(obj, "delete", _snapshot(obj), None)
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)  # type: ignore[arg-type]


_installed: WeakSet[sessionmaker[Session]] = WeakSet()
"""Factories already audited. Not ``event.contains``: SQLAlchemy keys that by ``id(factory)``
and never forgets a dead factory's key, so a new factory at its address would go unaudited."""


def install(factory: sessionmaker[Session]) -> None:
    """Audit every session this factory makes."""
    if factory not in _installed:
        event.listen(factory, "after_flush", _after_flush)
        _installed.add(factory)


def record(
    session: Session,
    action: str,
    entity_kind: str,
    entity_key: str | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One summary event for a bulk operation the ORM does not see (an SBOM's occurrences,
    a catalog or advisory import)."""
    actor = actor_of(session)
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=actor.name[:200],
            via=actor.via,
            action=action,
            entity_kind=entity_kind,
            entity_key=entity_key[:500] if entity_key else None,
            before={k: _short(v) for k, v in before.items()} if before else None,
            after={k: _short(v) for k, v in after.items()} if after else None,
        )
    )
