"""Threat modelling tables (DESIGN.md: Survey / ThreatModel / ControlTask / KB), plus the runtime
facts and platforms that feed the rules. On the same ``Base`` as the catalog."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshward.store.models import Base
from meshward.store.types import utcnow


class KbRelease(Base):
    """A KB version loaded into this store; the newest row is the KB in force."""

    __tablename__ = "kb_releases"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(100), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the update changed: threats/controls added, retired, changed; services touched."""
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The whole KB as loaded (``KnowledgeBase.to_data``): models are evaluated against the
    release in force, whatever the installed package ships."""


class KbEntry(Base):
    """A threat or control as the store knows it: texts of the KB in force, and retired
    entries kept (never deleted) so old decisions still read."""

    __tablename__ = "kb_entries"
    __table_args__ = (UniqueConstraint("kind", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    """``threat`` or ``control``."""
    key: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    """Of the entry's content: a changed digest is a changed text or rule."""
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    added_in: Mapped[str] = mapped_column(String(100))
    retired_in: Mapped[str | None] = mapped_column(String(100))


class Survey(Base):
    """The answers for one component version (only what a person answered or confirmed;
    prefilled and implied answers are recomputed from facts each time)."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), unique=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inherited_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("component_versions.id", ondelete="SET NULL")
    )
    updated_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelThreat(Base):
    """A threat that applies to a component version, with the trace of why. Link threats name
    the other end (``peer_component_id``) and this end's role on the link."""

    __tablename__ = "model_threats"
    __table_args__ = (
        UniqueConstraint("component_version_id", "threat_key", "peer_component_id", "role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), index=True
    )
    threat_key: Mapped[str] = mapped_column(String(80), index=True)
    role: Mapped[str] = mapped_column(String(10), default="service")
    """``service``, or ``consumer``/``provider`` for a link threat."""
    peer_component_id: Mapped[int] = mapped_column(default=0)
    """The other end of a link threat (0 for service threats, so the unique key holds)."""
    active: Mapped[bool] = mapped_column(default=True)
    """False once the threat stops applying or is retired from the KB (kept, never deleted)."""
    why: Mapped[list[str]] = mapped_column(default=list)
    """The tests of the rule's trace that made it apply."""
    likelihood: Mapped[int] = mapped_column(default=3)
    impact: Mapped[int] = mapped_column(default=3)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelState(Base):
    """What a component version's model was last evaluated from: a digest of the KB release,
    its facts, its links' facts and its platforms. Unchanged digest, nothing to re-evaluate."""

    __tablename__ = "model_states"
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlTask(Base):
    """A control to put in place for a component version: the human decision (status, reason,
    author, assignee, due date) survives re-evaluation and KB updates."""

    __tablename__ = "control_tasks"
    __table_args__ = (
        UniqueConstraint("component_version_id", "control_key"),
        Index("ix_control_tasks_status", "status"),
        Index("ix_control_tasks_board", "component_version_id", "active", "status", "platform_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), index=True
    )
    control_key: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(20), default="todo")
    """todo, in_progress, done, not_applicable, risk_accepted."""
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column()
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    """False when no applying threat needs it any more, or the KB retired it."""
    retired_in: Mapped[str | None] = mapped_column(String(100))
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id", ondelete="SET NULL"))
    """A platform that satisfies this control for the service (mesh mTLS, gateway limits)."""
    inherited_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("control_tasks.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Platform(Base):
    """A shared platform (service mesh, API gateway, secrets vault) that gives capabilities to
    every service on it: its explicit members, or everything deployed in ``environment_id``
    (and ``namespace``, when runtime facts know namespaces)."""

    __tablename__ = "platforms"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("components.id", ondelete="SET NULL")
    )
    capabilities: Mapped[list[str]] = mapped_column(default=list)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE")
    )
    namespace: Mapped[str | None] = mapped_column(String(253))
    source: Mapped[str] = mapped_column(String(100), default="declared")
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatformMember(Base):
    __tablename__ = "platform_members"
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RuntimeFact(Base):
    """What a runtime source (a Kubernetes import) observed about a component in an
    environment: namespace, cluster, internet exposure, mTLS mode, ..."""

    __tablename__ = "runtime_facts"
    __table_args__ = (UniqueConstraint("component_id", "environment_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), index=True
    )
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(100))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
