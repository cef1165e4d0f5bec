"""Who may read or change what, and the record of every change (DESIGN.md: User / Token /
RoleBinding / AuditEvent). On the same ``Base`` as the catalog, so one metadata holds it all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meshward.store.models import Base
from meshward.store.types import utcnow


class ApiToken(Base):
    """A bearer token. The secret is shown once at creation; only its sha256 is kept, and
    ``token_prefix`` (a random, non-secret part of the token) finds the row in one lookup."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    """``read``, ``write``, ``admin``: the most the token may do, whatever its roles."""
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class RoleBinding(Base):
    """``subject`` (a token's or a user's name, per ``subject_kind``) holds ``role`` over a
    domain's subtree, or over the whole estate when ``domain_id`` is NULL."""

    __tablename__ = "role_bindings"
    __table_args__ = (Index("ix_role_bindings_subject", "subject_kind", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    """``token`` or ``user``."""
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    """``viewer``, ``editor`` or ``admin``."""
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One change, by CLI or API: who, through what, which entity, and the changed columns
    before and after (short; secrets never)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_kind", "entity_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(10))
    """``cli`` or ``api``."""
    action: Mapped[str] = mapped_column(String(60))
    entity_kind: Mapped[str] = mapped_column(String(60))
    entity_key: Mapped[str | None] = mapped_column(String(500))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
