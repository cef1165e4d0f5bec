"""Integration tables: ticket trackers (Jira, GitHub) kept in sync with control tasks and
findings, and notifications out (webhook, Slack, Teams, email).

Secrets never live here: a target or channel names the *environment variable* that holds its
token, password or HMAC key, so a database dump or an API answer never carries one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshward.store.models import Base
from meshward.store.types import utcnow


class TicketTarget(Base):
    """A tracker an admin configured: the only place ticket sync may send requests to."""

    __tablename__ = "ticket_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    """``jira`` or ``github``."""
    base_url: Mapped[str] = mapped_column(String(1000))
    """``https://acme.atlassian.net`` or ``https://api.github.com``."""
    project: Mapped[str] = mapped_column(String(300))
    """Jira project key (``SEC``) or GitHub ``owner/repo``."""
    api_version: Mapped[str] = mapped_column(String(10), default="3")
    """Jira REST API ``2`` (wiki markup) or ``3`` (Atlassian Document Format)."""
    auth_kind: Mapped[str] = mapped_column(String(10))
    """``basic`` (Jira Cloud: email + API token) or ``bearer`` (Jira Data Center PAT, GitHub
    token)."""
    auth_user: Mapped[str | None] = mapped_column(String(300))
    """The account email for ``basic``."""
    secret_env: Mapped[str] = mapped_column(String(200))
    """NAME of the environment variable holding the token (never the token)."""
    grouping: Mapped[str] = mapped_column(String(30), default="control_service")
    """``control_service``: one ticket per control per service; ``vulnerability_application``:
    one per vulnerability per application."""
    labels: Mapped[list[str]] = mapped_column(default=list)
    min_priority: Mapped[str | None] = mapped_column(String(10))
    """Only controls of this priority or higher get tickets (None: every control)."""
    issue_type: Mapped[str] = mapped_column(String(100), default="Task")
    done_transition: Mapped[str] = mapped_column(String(100), default="Done")
    reopen_transition: Mapped[str] = mapped_column(String(100), default="To Do")
    web_url: Mapped[str] = mapped_column(String(1000), default="http://127.0.0.1:8000")
    """meshward's own address, for the back-links written into tickets."""
    allow_private: Mapped[bool] = mapped_column(default=False)
    """Loopback addresses allowed (tests, a tracker on the same host)."""
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column()


class TicketLink(Base):
    """Our idempotent key for a ticket and what we know of the remote one: which it is, its
    state when we last looked, and a hash of what we last pushed (a changed text updates it)."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("target_id", "key"),
        Index("ix_ticket_links_subject", "subject_kind", "component_id", "control_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("ticket_targets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    """``meshward:<hash>``: also a label on the remote ticket, so a retry finds it."""
    subject_kind: Mapped[str] = mapped_column(String(20))
    """``control`` or ``vulnerability``."""
    subject: Mapped[str] = mapped_column(String(500))
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("components.id", ondelete="SET NULL")
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL")
    )
    control_key: Mapped[str | None] = mapped_column(String(80))
    vulnerability: Mapped[str | None] = mapped_column(String(200))
    remote_id: Mapped[str] = mapped_column(String(100))
    remote_key: Mapped[str] = mapped_column(String(100))
    """``SEC-12`` or ``#12``."""
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    remote_status: Mapped[str] = mapped_column(String(10), default="open")
    """``open`` or ``closed``, as last seen remotely."""
    local_state: Mapped[str] = mapped_column(String(10), default="open")
    """``open`` or ``closed``: what meshward last wanted."""
    pushed_hash: Mapped[str | None] = mapped_column(String(64))
    evidence_hash: Mapped[str | None] = mapped_column(String(64))
    """Of the failing evidence last commented, so one failure comments once."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketOutbox(Base):
    """A ticket change not yet made remotely. It outlives a crash or a restart; a failure
    waits until ``next_attempt_at`` (exponential backoff with jitter, or the tracker's
    ``Retry-After``)."""

    __tablename__ = "ticket_outbox"
    __table_args__ = (UniqueConstraint("target_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("ticket_targets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    """create, update, close, reopen, comment."""
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    """pending, or dead after too many permanent failures."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationChannel(Base):
    """Where notifications may go, as an admin configured it."""

    __tablename__ = "notification_channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    """webhook, slack, teams, email."""
    url: Mapped[str | None] = mapped_column(String(1000))
    url_env: Mapped[str | None] = mapped_column(String(200))
    """NAME of a variable holding the URL, for Slack and Teams URLs (they are secrets)."""
    secret_env: Mapped[str | None] = mapped_column(String(200))
    """NAME of the variable holding the webhook HMAC key, or the SMTP password."""
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """email: host, port, sender, username, recipients, starttls; teams: allowed_hosts for
    per-team webhook annotations."""
    allow_private: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationRule(Base):
    """An event of the feed, filtered, sent to a channel or to the owning team through it."""

    __tablename__ = "notification_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    """critical_finding, kev, control_failed, kb_update."""
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    route: Mapped[str] = mapped_column(String(10), default="channel")
    """``channel``: to the channel as configured; ``owner``: to the affected service's team."""
    only_prod: Mapped[bool] = mapped_column(default=False)
    latest_only: Mapped[bool] = mapped_column(default=False)
    min_severity: Mapped[str | None] = mapped_column(String(20))
    min_services: Mapped[int] = mapped_column(default=1)
    """kb_update: only when the release changed at least this many services."""
    allow_private: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One message to one recipient: sent once per event and channel and recipient, retried
    until it goes or gives up, and kept as the record of what was said."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_key", "recipient"),
        Index("ix_notification_deliveries_status", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_rules.id", ondelete="SET NULL")
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    event_key: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(500))
    """An email address, a Slack channel, a team's webhook host, or ``*`` for the channel."""
    team: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    """pending, sent, refused, dead."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    response_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
