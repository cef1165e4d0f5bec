"""Reading the audit trail (written by ``meshward.store.audit``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.store.auth_models import AuditEvent


def list_audit_events(
    session: Session,
    *,
    since: datetime | None = None,
    entity_kind: str | None = None,
    actor: str | None = None,
    offset: int = 0,
    limit: int | None = 200,
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if entity_kind:
        query = query.where(AuditEvent.entity_kind == entity_kind)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat().replace("+00:00", "Z"),
            "actor": e.actor,
            "via": e.via,
            "action": e.action,
            "entity_kind": e.entity_kind,
            "entity_key": e.entity_key,
            "before": e.before,
            "after": e.after,
        }
        for e in session.scalars(query)
    ]
