"""Notifications: rules on the event feed, routed by the catalog, delivered once.

* Events: a new (or reopened) finding at or above a severity (``critical_finding``), a finding
  whose vulnerability is in CISA's KEV catalog (``kev``), a control whose verification failed
  (``control_failed``), a KB release that changed at least N services (``kb_update``). Each
  event has a stable key, so a delivery is made once per event, channel and recipient however
  often the rules run.
* Routing: to the channel as configured, or to the *owning team* of the affected service —
  its Backstage owner Group's email (``spec.profile.email``), its ``slack.com/channel``
  annotation, or its ``meshward.io/teams-webhook`` annotation (on the component or the Group;
  the webhook's host must be one the admin allowed on the channel). A team without an address
  gets nothing rather than someone else's alerts. Filters: production only, latest version
  only, minimum severity.
* Delivery: rows in ``notification_deliveries`` are the queue and the record; a failure is
  retried with backoff (or the receiver's ``Retry-After``), a refusal for good ends it.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError, NotFoundError
from meshward.integrations import notify
from meshward.integrations.notify import DeliveryError, Message
from meshward.integrations.registry import ENV_NAME, secret_from_env
from meshward.integrations.safety import OutboundRefused, check_host, check_url
from meshward.services import threat_models as tm
from meshward.services.tickets import backoff_seconds, evidence_lines
from meshward.store import audit
from meshward.store.integration_models import (
    NotificationChannel,
    NotificationDelivery,
    NotificationRule,
)
from meshward.store.models import (
    Advisory,
    Component,
    ComponentVersion,
    Deployment,
    Entity,
    Environment,
    Finding,
    FindingEvent,
    KevEntry,
    Package,
)
from meshward.store.scan_models import ControlVerification
from meshward.store.threat_models import ControlTask, KbRelease
from meshward.store.types import utcnow

EVENTS = ("critical_finding", "kev", "control_failed", "kb_update")
CHANNEL_KINDS = ("webhook", "slack", "teams", "email")
ROUTES = ("channel", "owner")
SEVERITIES = ("critical", "high", "medium", "low")
OPEN_FINDING_STATES = ("open", "in_triage", "exploitable")
SLACK_ANNOTATION = "slack.com/channel"
TEAMS_ANNOTATION = "meshward.io/teams-webhook"
TEAM_WEBHOOK = "team-webhook:"
"""Recipient prefix for a team's own Teams webhook (resolved from the catalog when sent, so
the URL, a secret, is never stored or shown)."""
MAX_ATTEMPTS = 8
DEFAULT_WINDOW = timedelta(days=1)


def default_web_url() -> str:
    return os.environ.get("MESHWARD_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


# ------------------------------------------------------------------------------ configuration


def _channel_view(c: NotificationChannel) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "url": c.url,
        "url_env": c.url_env,
        "secret_env": c.secret_env,
        "settings": dict(c.settings),
        "allow_private": c.allow_private,
    }


def add_channel(
    session: Session,
    name: str,
    kind: str,
    *,
    url: str | None = None,
    url_env: str | None = None,
    secret_env: str | None = None,
    settings: dict[str, Any] | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """Configure (or change) a destination. Slack and Teams URLs embed their secret: give
    them as ``url_env``, the NAME of a variable holding the URL."""
    if kind not in CHANNEL_KINDS:
        raise MeshwardError(f"channel kind must be one of: {', '.join(CHANNEL_KINDS)}")
    for env in (url_env, secret_env):
        if env is not None and not ENV_NAME.match(env):
            raise MeshwardError(f"give the NAME of an environment variable, not {env[:3]}…")
    settings = dict(settings or {})
    if kind == "email":
        if not settings.get("host"):
            raise MeshwardError("an email channel needs settings.host (the SMTP server)")
        check_host(str(settings["host"]), allow_private=allow_private)
    else:
        if (url is None) == (url_env is None):
            raise MeshwardError(f"a {kind} channel needs exactly one of --url and --url-env")
        if url is not None:
            check_url(url, allow_private=allow_private)
    channel = session.scalars(
        select(NotificationChannel).where(NotificationChannel.name == name)
    ).first()
    if channel is None:
        channel = NotificationChannel(name=name, created_by=audit.actor_of(session).name)
        session.add(channel)
    channel.kind, channel.url, channel.url_env = kind, url, url_env
    channel.secret_env, channel.settings, channel.allow_private = (
        secret_env,
        settings,
        allow_private,
    )
    session.flush()
    view = _channel_view(channel)
    audit.record(session, "notification_channel.save", "notification_channel", name, after=view)
    return view


def _channel(session: Session, name: str) -> NotificationChannel:
    channel = session.scalars(
        select(NotificationChannel).where(NotificationChannel.name == name)
    ).first()
    if channel is None:
        raise NotFoundError(f"no notification channel named {name!r}")
    return channel


def list_channels(session: Session) -> list[dict[str, Any]]:
    return [
        _channel_view(c)
        for c in session.scalars(select(NotificationChannel).order_by(NotificationChannel.name))
    ]


def _rule_view(r: NotificationRule, channel: str) -> dict[str, Any]:
    return {
        "name": r.name,
        "event": r.event,
        "channel": channel,
        "route": r.route,
        "only_prod": r.only_prod,
        "latest_only": r.latest_only,
        "min_severity": r.min_severity,
        "min_services": r.min_services,
        "allow_private": r.allow_private,
        "enabled": r.enabled,
        "last_run_at": _iso(r.last_run_at),
    }


def add_rule(
    session: Session,
    name: str,
    event: str,
    channel: str,
    *,
    route: str = "channel",
    only_prod: bool = False,
    latest_only: bool = False,
    min_severity: str | None = None,
    min_services: int = 1,
    allow_private: bool = False,
) -> dict[str, Any]:
    if event not in EVENTS:
        raise MeshwardError(f"event must be one of: {', '.join(EVENTS)}")
    if route not in ROUTES:
        raise MeshwardError(f"route must be one of: {', '.join(ROUTES)}")
    if min_severity is not None and min_severity not in SEVERITIES:
        raise MeshwardError(f"severity must be one of: {', '.join(SEVERITIES)}")
    if min_services < 1:
        raise MeshwardError("min services is at least 1")
    target = _channel(session, channel)
    rule = session.scalars(select(NotificationRule).where(NotificationRule.name == name)).first()
    if rule is None:
        rule = NotificationRule(name=name, created_by=audit.actor_of(session).name)
        session.add(rule)
    rule.event, rule.channel_id, rule.route = event, target.id, route
    rule.only_prod, rule.latest_only, rule.min_severity = only_prod, latest_only, min_severity
    rule.min_services, rule.allow_private = min_services, allow_private
    session.flush()
    view = _rule_view(rule, channel)
    audit.record(session, "notification_rule.save", "notification_rule", name, after=view)
    return view


def list_rules(session: Session) -> list[dict[str, Any]]:
    return [
        _rule_view(r, name)
        for r, name in session.execute(
            select(NotificationRule, NotificationChannel.name)
            .join(NotificationChannel, NotificationChannel.id == NotificationRule.channel_id)
            .order_by(NotificationRule.name)
        )
    ]


def remove_rule(session: Session, name: str) -> None:
    rule = session.scalars(select(NotificationRule).where(NotificationRule.name == name)).first()
    if rule is None:
        raise NotFoundError(f"no notification rule named {name!r}")
    session.delete(rule)
    session.flush()
    audit.record(session, "notification_rule.remove", "notification_rule", name)


# ------------------------------------------------------------------------------ events


@dataclass
class Event:
    key: str
    message: Message
    component_id: int | None = None


def _at_least(severity: str | None) -> list[str]:
    return list(SEVERITIES[: SEVERITIES.index(severity) + 1]) if severity else list(SEVERITIES)


def _prod_versions(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(Deployment.component_version_id)
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(Environment.production.is_(True), Deployment.ended_at.is_(None))
        )
    )


def _newest_versions(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(func.max(ComponentVersion.id)).group_by(ComponentVersion.component_id)
        )
    )


class _Scope:
    """The rule's filters on component versions, read once per run."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._prod: set[int] | None = None
        self._newest: set[int] | None = None

    def keeps(self, rule: NotificationRule, cv_id: int) -> bool:
        if rule.only_prod:
            if self._prod is None:
                self._prod = _prod_versions(self._session)
            if cv_id not in self._prod:
                return False
        if rule.latest_only:
            if self._newest is None:
                self._newest = _newest_versions(self._session)
            if cv_id not in self._newest:
                return False
        return True


def _page(web_url: str, component: str, version: str) -> str:
    return f"{web_url}/ui/components/{quote(component, safe='')}/versions/{quote(version, safe='')}"


def _finding_message(
    event: str, key: str, row: Any, summary: str | None, web_url: str, title: str
) -> Message:
    return Message(
        event=event,
        key=key,
        title=title,
        text=f"{row.purl} in {row.component} {row.version}: {summary or row.vulnerability}",
        severity=row.severity,
        url=_page(web_url, row.component, row.version),
        facts=(
            ("Vulnerability", row.vulnerability),
            ("Service", f"{row.component} {row.version}"),
            ("Severity", row.severity or "unknown"),
            ("Fixed in", row.fixed_version or "no fix yet"),
        ),
        data={
            "finding": row.finding_id,
            "vulnerability": row.vulnerability,
            "component": row.component,
            "version": row.version,
            "purl": row.purl,
        },
    )


def _finding_query() -> Any:
    return (
        select(
            Finding.id.label("finding_id"),
            Finding.vulnerability,
            Finding.severity,
            Finding.fixed_version,
            Finding.component_version_id.label("cv_id"),
            Component.id.label("component_id"),
            Component.name.label("component"),
            ComponentVersion.version,
            Package.purl,
        )
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == Finding.package_id)
        .where(Finding.active.is_(True))
    )


def _summaries(session: Session, vulns: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    wanted = sorted(set(vulns))
    for i in range(0, len(wanted), 900):
        for vuln, summary in session.execute(
            select(Advisory.vulnerability, Advisory.summary).where(
                Advisory.vulnerability.in_(wanted[i : i + 900])
            )
        ):
            if summary:
                out.setdefault(vuln, summary)
    return out


def collect_events(
    session: Session, rule: NotificationRule, since: datetime, web_url: str, scope: _Scope
) -> list[Event]:
    if rule.event == "critical_finding":
        rows = session.execute(
            _finding_query()
            .add_columns(FindingEvent.id.label("event_id"), FindingEvent.kind)
            .join(FindingEvent, FindingEvent.finding_id == Finding.id)
            .where(
                FindingEvent.at >= since,
                FindingEvent.kind.in_(("new", "reopened")),
                Finding.severity.in_(_at_least(rule.min_severity or "critical")),
                Finding.state.in_(OPEN_FINDING_STATES),
            )
            .order_by(FindingEvent.id)
        ).all()
        rows = [r for r in rows if scope.keeps(rule, r.cv_id)]
        summaries = _summaries(session, (r.vulnerability for r in rows))
        return [
            Event(
                f"finding-event:{r.event_id}",
                _finding_message(
                    rule.event,
                    f"finding-event:{r.event_id}",
                    r,
                    summaries.get(r.vulnerability),
                    web_url,
                    f"{(r.severity or 'unknown').capitalize()} {r.vulnerability} in "
                    f"{r.component} {r.version}" + (" (again)" if r.kind == "reopened" else ""),
                ),
                r.component_id,
            )
            for r in rows
        ]
    if rule.event == "kev":
        query = (
            _finding_query()
            .join(KevEntry, KevEntry.cve == Finding.vulnerability)
            .where(Finding.state.in_(OPEN_FINDING_STATES))
            .order_by(Finding.id)
        )
        if rule.min_severity:
            query = query.where(Finding.severity.in_(_at_least(rule.min_severity)))
        rows = [r for r in session.execute(query).all() if scope.keeps(rule, r.cv_id)]
        summaries = _summaries(session, (r.vulnerability for r in rows))
        return [
            Event(
                f"kev:{r.finding_id}",
                _finding_message(
                    rule.event,
                    f"kev:{r.finding_id}",
                    r,
                    summaries.get(r.vulnerability),
                    web_url,
                    f"Exploited in the wild: {r.vulnerability} in {r.component} {r.version}",
                ),
                r.component_id,
            )
            for r in rows
        ]
    if rule.event == "control_failed":
        kb = tm.current_kb(session)
        rows = session.execute(
            select(
                ControlVerification.component_version_id,
                ControlVerification.control_key,
                ControlVerification.evidence,
                Component.id,
                Component.name,
                ComponentVersion.version,
            )
            .join(
                ControlTask,
                and_(
                    ControlTask.component_version_id == ControlVerification.component_version_id,
                    ControlTask.control_key == ControlVerification.control_key,
                ),
            )
            .join(ComponentVersion, ComponentVersion.id == ControlVerification.component_version_id)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(ControlVerification.state == "failed", ControlTask.active.is_(True))
            .order_by(ControlVerification.id)
        ).all()
        events = []
        for cv_id, control_key, evidence, comp_id, comp, version in rows:
            if not scope.keeps(rule, cv_id):
                continue
            control = kb.controls.get(control_key)
            if rule.min_severity and (
                control is None or control.priority not in _at_least(rule.min_severity)
            ):
                continue
            lines = evidence_lines(list(evidence))
            digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:12]
            key = f"control-failed:{cv_id}:{control_key}:{digest}"
            title = control.title if control else control_key
            events.append(
                Event(
                    key,
                    Message(
                        event=rule.event,
                        key=key,
                        title=f"Control failed: {title} in {comp} {version}",
                        text="; ".join(lines) or "verification failed",
                        severity=control.priority if control else None,
                        url=_page(web_url, comp, version),
                        facts=(("Control", control_key), ("Service", f"{comp} {version}")),
                        data={"control": control_key, "component": comp, "version": version},
                    ),
                    comp_id,
                )
            )
        return events
    releases = session.scalars(
        select(KbRelease).where(KbRelease.loaded_at >= since).order_by(KbRelease.id)
    ).all()
    events = []
    for release in releases:
        touched = int((release.summary or {}).get("services_touched") or 0)
        if touched < rule.min_services:
            continue
        changes = (release.summary or {}).get("changes") or {}
        key = f"kb-update:{release.version}"
        events.append(
            Event(
                key,
                Message(
                    event=rule.event,
                    key=key,
                    title=f"Knowledge base {release.version} changed {touched} services",
                    text=", ".join(f"{n} {kind}" for kind, n in sorted(changes.items()))
                    or "re-evaluated every threat model",
                    url=f"{web_url}/ui/kb",
                    facts=(("From", str(release.summary.get("from"))), ("To", release.version)),
                    data={"version": release.version, "services_touched": touched},
                ),
            )
        )
    return events


# ------------------------------------------------------------------------------ routing


@dataclass
class _Catalog:
    """Owners and their addresses, read once per run."""

    components: dict[int, Component]
    groups: dict[str, Entity]

    @classmethod
    def load(cls, session: Session) -> _Catalog:
        components = {c.id: c for c in session.scalars(select(Component))}
        return cls(
            components,
            {e.key: e for e in session.scalars(select(Entity).where(Entity.kind == "Group"))},
        )

    def annotation(self, component: Component | None, team: str | None, name: str) -> str | None:
        if component is not None and component.annotations.get(name):
            return str(component.annotations[name])
        group = self.groups.get(team or "")
        value = ((group.metadata_ if group else {}).get("annotations") or {}).get(name)
        return str(value) if value else None

    def email(self, team: str | None) -> str | None:
        group = self.groups.get(team or "")
        value = ((group.spec if group else {}).get("profile") or {}).get("email")
        return str(value) if value else None


def _recipients(
    route: str, channel: NotificationChannel, event: Event, cat: _Catalog
) -> list[tuple[str, str | None]]:
    """(recipient, team) pairs; none when the owning team has no address on this channel."""
    if route == "channel" or event.component_id is None:
        return [("*", None)]
    component = cat.components.get(event.component_id)
    team = component.owner if component else None
    if team is None:
        return []
    if channel.kind == "email":
        address = cat.email(team)
        return [(address, team)] if address else []
    if channel.kind == "slack":
        where = cat.annotation(component, team, SLACK_ANNOTATION)
        return [(where, team)] if where else []
    if channel.kind == "teams":
        has = cat.annotation(component, team, TEAMS_ANNOTATION)
        key = component.key if component else team
        return [(f"{TEAM_WEBHOOK}{key}", team)] if has else []
    return [(team, team)]


# ------------------------------------------------------------------------------ running


@dataclass
class RunReport:
    dry_run: bool
    events: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)
    """Deliveries made by this run (not yet made before)."""
    unroutable: list[str] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    refused: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "events": self.events,
            "deliveries": self.planned,
            "unroutable": self.unroutable,
            "sent": self.sent,
            "failed": self.failed,
            "refused": self.refused,
            "pending": self.pending,
            "errors": self.errors,
        }


def _existing(session: Session, keys: list[tuple[int, str, str]]) -> set[tuple[int, str, str]]:
    found: set[tuple[int, str, str]] = set()
    for i in range(0, len(keys), 300):
        chunk = keys[i : i + 300]
        found |= {
            (a, b, c)
            for a, b, c in session.execute(
                select(
                    NotificationDelivery.channel_id,
                    NotificationDelivery.event_key,
                    NotificationDelivery.recipient,
                ).where(
                    tuple_(
                        NotificationDelivery.channel_id,
                        NotificationDelivery.event_key,
                        NotificationDelivery.recipient,
                    ).in_(chunk)
                )
            )
        }
    return found


def _queue_and_deliver(
    session: Session,
    report: RunReport,
    items: list[tuple[NotificationRule | None, NotificationChannel, Event, str, str | None]],
    now: datetime,
    dry_run: bool,
    transport: httpx.BaseTransport | None,
) -> RunReport:
    """A dry run plans and rolls back (rule clocks included); a real one commits the queue
    before sending, so a crash mid-delivery leaves rows to retry, not events to lose."""
    keys = [(c.id, e.key, r) for _, c, e, r, _ in items]
    have = _existing(session, keys)
    for rule, channel, event, recipient, team in items:
        if (channel.id, event.key, recipient) in have:
            continue
        have.add((channel.id, event.key, recipient))
        report.planned.append(
            {
                "rule": rule.name if rule else None,
                "channel": channel.name,
                "event": event.key,
                "recipient": recipient,
                "team": team,
                "title": event.message.title,
            }
        )
        if not dry_run:
            session.add(
                NotificationDelivery(
                    rule_id=rule.id if rule else None,
                    channel_id=channel.id,
                    event_key=event.key,
                    recipient=recipient,
                    team=team,
                    message=event.message.to_data(),
                    next_attempt_at=now,
                )
            )
    if dry_run:
        session.rollback()
        return report
    session.commit()
    deliver_pending(session, report, now=now, transport=transport)
    return report


def run_notifications(
    session: Session,
    *,
    since: datetime | None = None,
    rule: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    web_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> RunReport:
    """Evaluate the rules on what happened since ``since`` (default: each rule's last run,
    else a day), queue a delivery per new event and recipient, then deliver what is due.
    Commits as it goes: use :func:`meshward.services.tickets.durable_session`."""
    now = now or utcnow()
    web_url = (web_url or default_web_url()).rstrip("/")
    report = RunReport(dry_run)
    query = select(NotificationRule).where(NotificationRule.enabled.is_(True))
    if rule is not None:
        query = query.where(NotificationRule.name == rule)
    rules = list(session.scalars(query.order_by(NotificationRule.id)))
    if rule is not None and not rules:
        raise NotFoundError(f"no notification rule named {rule!r}")
    channels = {c.id: c for c in session.scalars(select(NotificationChannel))}
    cat = _Catalog.load(session)
    scope = _Scope(session)
    items: list[tuple[NotificationRule | None, NotificationChannel, Event, str, str | None]] = []
    for r in rules:
        channel = channels[r.channel_id]
        events = collect_events(
            session, r, since or r.last_run_at or now - DEFAULT_WINDOW, web_url, scope
        )
        report.events += len(events)
        for event in events:
            recipients = _recipients(r.route, channel, event, cat)
            if not recipients:
                report.unroutable.append(f"{r.name}: {event.key} (no address for the owning team)")
            items += [(r, channel, event, to, team) for to, team in recipients]
        if not dry_run:
            r.last_run_at = now
    return _queue_and_deliver(session, report, items, now, dry_run, transport)


def daily_digest(
    session: Session,
    channel: str,
    *,
    day: date | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    web_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> RunReport:
    """One message per team on ``channel`` (routed to the team, as owner rules are): what
    changed for its services in the day — new findings by severity, KEV-listed findings,
    failed controls, open control tasks. Teams with nothing to report get nothing."""
    now = now or utcnow()
    web_url = (web_url or default_web_url()).rstrip("/")
    day = day or (now - timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
    end = start + timedelta(days=1)
    target = _channel(session, channel)
    cat = _Catalog.load(session)
    team_of = {cid: c.owner for cid, c in cat.components.items() if c.owner}
    newest = _newest_versions(session)
    stats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"new": defaultdict(int), "kev": 0, "failed": 0, "open_tasks": 0, "examples": []}
    )
    for row in session.execute(
        _finding_query()
        .add_columns(FindingEvent.kind)
        .join(FindingEvent, FindingEvent.finding_id == Finding.id)
        .where(FindingEvent.at >= start, FindingEvent.at < end, FindingEvent.kind == "new")
        .order_by(Finding.severity_score.desc().nulls_last(), Finding.id)
    ):
        team = team_of.get(row.component_id)
        if team:
            stats[team]["new"][row.severity or "unknown"] += 1
            if len(stats[team]["examples"]) < 5:
                stats[team]["examples"].append(
                    f"{row.vulnerability} ({row.severity or 'unknown'}) in "
                    f"{row.component} {row.version}"
                )
    for comp_id, n in session.execute(
        select(Component.id, func.count())
        .select_from(Finding)
        .join(KevEntry, KevEntry.cve == Finding.vulnerability)
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .where(Finding.active.is_(True), Finding.state.in_(OPEN_FINDING_STATES))
        .group_by(Component.id)
    ):
        if comp_id in team_of:
            stats[team_of[comp_id]]["kev"] += n
    for comp_id, cv_id, state, status in session.execute(
        select(
            Component.id,
            ControlTask.component_version_id,
            ControlVerification.state,
            ControlTask.status,
        )
        .select_from(ControlTask)
        .join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .outerjoin(
            ControlVerification,
            and_(
                ControlVerification.component_version_id == ControlTask.component_version_id,
                ControlVerification.control_key == ControlTask.control_key,
            ),
        )
        .where(ControlTask.active.is_(True))
    ):
        if comp_id not in team_of or cv_id not in newest:
            continue
        if state == "failed":
            stats[team_of[comp_id]]["failed"] += 1
        if status in ("todo", "in_progress"):
            stats[team_of[comp_id]]["open_tasks"] += 1
    report = RunReport(dry_run)
    items: list[tuple[NotificationRule | None, NotificationChannel, Event, str, str | None]] = []
    for team, s in sorted(stats.items()):
        if not (s["new"] or s["kev"] or s["failed"]):
            continue
        component_id = next(cid for cid, t in team_of.items() if t == team)
        new = ", ".join(
            f"{s['new'][sev]} {sev}" for sev in (*SEVERITIES, "unknown") if s["new"].get(sev)
        )
        key = f"digest:{day.isoformat()}:{team}"
        message = Message(
            event="digest",
            key=key,
            title=f"Daily digest for {team} ({day.isoformat()})",
            text="\n".join(
                [
                    f"New findings: {new or 'none'}",
                    f"Open findings exploited in the wild (KEV): {s['kev']}",
                    f"Controls failing verification: {s['failed']}",
                    f"Open control tasks: {s['open_tasks']}",
                    *s["examples"],
                ]
            ),
            url=f"{web_url}/ui/",
            data={"team": team, "day": day.isoformat()},
        )
        event = Event(key, message, component_id)
        recipients = _recipients("owner", target, event, cat)
        if not recipients:
            report.unroutable.append(f"digest: {team} (no address on {channel})")
        report.events += 1
        items += [(None, target, event, to, t) for to, t in recipients]
    return _queue_and_deliver(session, report, items, now, dry_run, transport)


# ------------------------------------------------------------------------------ delivering


def _url(channel: NotificationChannel) -> str:
    if channel.url:
        return channel.url
    return secret_from_env(channel.url_env or "", f"channel {channel.name}")


def _team_webhook(channel: NotificationChannel, recipient: str, cat: _Catalog) -> str:
    """A team's own Teams webhook: from the catalog now, and only on a host the admin
    allowed for this channel."""
    key = recipient[len(TEAM_WEBHOOK) :]
    component = next((c for c in cat.components.values() if c.key == key), None)
    team = component.owner if component else key
    url = cat.annotation(component, team, TEAMS_ANNOTATION)
    if not url:
        raise OutboundRefused(f"{key} has no {TEAMS_ANNOTATION} annotation any more")
    host = httpx.URL(url).host
    allowed = [str(p) for p in channel.settings.get("allowed_hosts", [])]
    if not any(fnmatchcase(host, pattern) for pattern in allowed):
        raise OutboundRefused(
            f"refused {host}: not among the hosts allowed for channel {channel.name} "
            f"({', '.join(allowed) or 'none'})"
        )
    return url


def _send(
    channel: NotificationChannel,
    delivery: NotificationDelivery,
    allow_private: bool,
    cat: _Catalog,
    transport: httpx.BaseTransport | None,
) -> int:
    message = Message.from_data(delivery.message)
    to = delivery.recipient
    if channel.kind == "webhook":
        secret = (
            secret_from_env(channel.secret_env, f"channel {channel.name}")
            if channel.secret_env
            else None
        )
        return notify.send_webhook(
            _url(channel),
            secret,
            message,
            delivery.team,
            allow_private=allow_private,
            transport=transport,
        )
    if channel.kind == "slack":
        body = orjson.dumps(notify.slack_payload(message, None if to == "*" else to))
        return notify.post_json(
            _url(channel), body, {}, allow_private=allow_private, transport=transport
        )
    if channel.kind == "teams":
        url = _team_webhook(channel, to, cat) if to.startswith(TEAM_WEBHOOK) else _url(channel)
        body = orjson.dumps(notify.teams_payload(message))
        return notify.post_json(url, body, {}, allow_private=allow_private, transport=transport)
    recipients = [str(r) for r in channel.settings.get("recipients", [])] if to == "*" else [to]
    if not recipients:
        raise OutboundRefused(f"channel {channel.name} has no settings.recipients")
    password = (
        secret_from_env(channel.secret_env, f"channel {channel.name}")
        if channel.secret_env
        else None
    )
    return notify.send_email(
        dict(channel.settings), password, message, recipients, allow_private=allow_private
    )


def deliver_pending(
    session: Session,
    report: RunReport,
    *,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Send every due delivery, one commit each (a crash re-sends at most the one in flight)."""
    due = list(
        session.scalars(
            select(NotificationDelivery.id)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.next_attempt_at <= now,
            )
            .order_by(NotificationDelivery.id)
        )
    )
    if not due:
        report.pending = _pending(session)
        return
    channels = {c.id: c for c in session.scalars(select(NotificationChannel))}
    rules = {r.id: r for r in session.scalars(select(NotificationRule))}
    cat = _Catalog.load(session)
    for delivery_id in due:
        delivery = session.get(NotificationDelivery, delivery_id)
        if delivery is None:
            continue
        channel = channels[delivery.channel_id]
        rule = rules.get(delivery.rule_id or 0)
        allow_private = channel.allow_private or bool(rule and rule.allow_private)
        delivery.attempts += 1
        try:
            delivery.response_code = _send(channel, delivery, allow_private, cat, transport)
            delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
            report.sent += 1
        except OutboundRefused as exc:
            delivery.status, delivery.last_error = "refused", str(exc)[:2000]
            report.refused += 1
            report.errors.append(f"{channel.name} {delivery.event_key}: {exc}")
        except (DeliveryError, MeshwardError) as exc:
            status = getattr(exc, "status", None)
            delivery.response_code = status if isinstance(status, int) else None
            delivery.last_error = str(exc)[:2000]
            permanent = bool(getattr(exc, "permanent", False))
            if permanent or delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "dead"
            retry = getattr(exc, "retry_after", None)
            delivery.next_attempt_at = now + timedelta(
                seconds=retry if retry is not None else backoff_seconds(delivery.attempts)
            )
            report.failed += 1
            report.errors.append(f"{channel.name} {delivery.event_key}: {exc}")
        session.commit()
    report.pending = _pending(session)


def _pending(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(NotificationDelivery)
            .where(NotificationDelivery.status == "pending")
        )
        or 0
    )


def list_deliveries(
    session: Session, *, status: str | None = None, offset: int = 0, limit: int | None = 500
) -> list[dict[str, Any]]:
    query = (
        select(NotificationDelivery, NotificationChannel.name, NotificationRule.name)
        .join(NotificationChannel, NotificationChannel.id == NotificationDelivery.channel_id)
        .outerjoin(NotificationRule, NotificationRule.id == NotificationDelivery.rule_id)
        .order_by(NotificationDelivery.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if status is not None:
        query = query.where(NotificationDelivery.status == status)
    return [
        {
            "id": d.id,
            "rule": rule,
            "channel": channel,
            "event": d.event_key,
            "recipient": d.recipient,
            "team": d.team,
            "title": d.message.get("title"),
            "status": d.status,
            "attempts": d.attempts,
            "response_code": d.response_code,
            "last_error": d.last_error,
            "created_at": _iso(d.created_at),
            "sent_at": _iso(d.sent_at),
        }
        for d, channel, rule in session.execute(query)
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
