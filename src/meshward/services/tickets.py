"""Ticket sync: control tasks and findings as Jira or GitHub issues, kept in step both ways.

How it stays correct when things break:

* Every ticket has an idempotent key (``meshward:<hash>`` of the tracker, the project and the
  subject), written on the remote issue as a label (and a Jira entity property). A create is
  always preceded, on retry, by a search for that label, so a crash between "created
  remotely" and "recorded locally" finds the issue instead of making a second one.
* What must change remotely is first written to the outbox (``ticket_outbox``) and
  committed; then the outbox is drained. A change that fails waits until its
  ``next_attempt_at`` (exponential backoff with jitter, or the tracker's ``Retry-After``), so the
  remote being down, a rate limit or a restart of meshward loses nothing: the next sync picks
  the queue up. Each remote step is committed as soon as it is made.
* Both ways: a ticket a person closed marks its task done (decided by the tracker), reopened
  reopens it; a task meshward sees failing verification reopens its ticket with the evidence
  as a comment. A vulnerability ticket a person closed stays closed until the set of affected
  services changes.

Sync commits as it goes, so it takes a session outside ``Store.session()``'s single
transaction: :func:`durable_session`.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from meshward.errors import ConflictError, MeshwardError, NotFoundError
from meshward.integrations.interface import (
    Bullets,
    Code,
    Document,
    Draft,
    Heading,
    Link,
    Paragraph,
    RemoteIssue,
    State,
    Tracker,
    TrackerError,
)
from meshward.integrations.registry import AUTH_KINDS, ENV_NAME, KINDS, tracker_for
from meshward.integrations.safety import check_url
from meshward.kb.schema import CodeSample, Control
from meshward.services import threat_models as tm
from meshward.services import verification
from meshward.services.model_facts import gather
from meshward.store import audit
from meshward.store.db import Store
from meshward.store.integration_models import TicketLink, TicketOutbox, TicketTarget
from meshward.store.models import (
    Advisory,
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Finding,
    Package,
)
from meshward.store.threat_models import ControlTask
from meshward.store.types import utcnow

GROUPINGS = ("control_service", "vulnerability_application")
PRIORITIES = ("critical", "high", "medium", "low")
OPEN_STATUSES = frozenset({"todo", "in_progress"})
OPEN_FINDING_STATES = ("open", "in_triage", "exploitable")
MANAGED_LABEL = "meshward"
MAX_ATTEMPTS = 8
"""A change refused this many times (not a rate limit or an outage) is given up: ``dead``."""
BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0
CHUNK = 900


# ------------------------------------------------------------------------------ sessions


@contextmanager
def durable_session(store: Store, actor: audit.Actor | None = None) -> Iterator[Session]:
    """An audited session that may commit part-way (each remote step is recorded as soon as it
    is made); what is left uncommitted is committed at the end, or rolled back on error."""
    factory = sessionmaker(store.engine, expire_on_commit=False)
    audit.install(factory)
    with factory() as session:
        if actor is not None:
            session.info["actor"] = actor
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 30 s, 60 s, 2 min ... capped at 6 h, each drawn from
    the upper half of its window so retries of many changes spread out."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


# ------------------------------------------------------------------------------ targets


def _target_view(t: TicketTarget) -> dict[str, Any]:
    return {
        "name": t.name,
        "kind": t.kind,
        "base_url": t.base_url,
        "project": t.project,
        "api_version": t.api_version if t.kind == "jira" else None,
        "auth_kind": t.auth_kind,
        "auth_user": t.auth_user,
        "secret_env": t.secret_env,
        "grouping": t.grouping,
        "labels": list(t.labels),
        "min_priority": t.min_priority,
        "issue_type": t.issue_type,
        "web_url": t.web_url,
        "allow_private": t.allow_private,
        "enabled": t.enabled,
        "last_sync_at": _iso(t.last_sync_at),
    }


def add_target(
    session: Session,
    name: str,
    kind: str,
    base_url: str,
    project: str,
    *,
    secret_env: str,
    auth_kind: str = "bearer",
    auth_user: str | None = None,
    api_version: str = "3",
    grouping: str = "control_service",
    labels: Iterable[str] = (),
    min_priority: str | None = None,
    issue_type: str = "Task",
    done_transition: str = "Done",
    reopen_transition: str = "To Do",
    web_url: str = "http://127.0.0.1:8000",
    allow_private: bool = False,
) -> dict[str, Any]:
    """Configure a tracker (or change one): the only destinations ticket sync may reach."""
    if kind not in KINDS:
        raise MeshwardError(f"tracker kind must be one of: {', '.join(KINDS)}")
    if auth_kind not in AUTH_KINDS[kind]:
        raise MeshwardError(f"{kind} auth must be one of: {', '.join(AUTH_KINDS[kind])}")
    if auth_kind == "basic" and not auth_user:
        raise MeshwardError("basic auth (Jira Cloud) needs the account email (--user)")
    if not ENV_NAME.match(secret_env):
        raise MeshwardError(
            f"--secret-env takes the NAME of an environment variable, not {secret_env[:3]}…"
        )
    if grouping not in GROUPINGS:
        raise MeshwardError(f"grouping must be one of: {', '.join(GROUPINGS)}")
    if min_priority is not None and min_priority not in PRIORITIES:
        raise MeshwardError(f"min priority must be one of: {', '.join(PRIORITIES)}")
    if kind == "jira" and api_version not in ("2", "3"):
        raise MeshwardError("Jira REST API version is 2 or 3")
    if kind == "github" and project.count("/") != 1:
        raise MeshwardError(f"a GitHub repository is OWNER/REPO, not {project!r}")
    bad = [label for label in labels if not label or any(c.isspace() for c in label)]
    if bad:
        raise MeshwardError(f"labels cannot be empty or contain spaces: {bad!r}")
    check_url(base_url, allow_private=allow_private)
    target = session.scalars(select(TicketTarget).where(TicketTarget.name == name)).first()
    if target is None:
        target = TicketTarget(name=name, created_by=audit.actor_of(session).name)
        session.add(target)
    target.kind, target.base_url, target.project = kind, base_url.rstrip("/"), project
    target.auth_kind, target.auth_user, target.secret_env = auth_kind, auth_user, secret_env
    target.api_version, target.grouping, target.labels = api_version, grouping, list(labels)
    target.min_priority, target.issue_type = min_priority, issue_type
    target.done_transition, target.reopen_transition = done_transition, reopen_transition
    target.web_url, target.allow_private = web_url.rstrip("/"), allow_private
    session.flush()
    audit.record(session, "ticket_target.save", "ticket_target", name, after=_target_view(target))
    return _target_view(target)


def get_target(session: Session, name: str) -> TicketTarget:
    target = session.scalars(select(TicketTarget).where(TicketTarget.name == name)).first()
    if target is None:
        raise NotFoundError(f"no ticket target named {name!r}")
    return target


def list_targets(session: Session) -> list[dict[str, Any]]:
    return [
        _target_view(t) for t in session.scalars(select(TicketTarget).order_by(TicketTarget.name))
    ]


def remove_target(session: Session, name: str) -> None:
    """Forget a tracker, its links and its queue (the remote tickets stay as they are)."""
    target = get_target(session, name)
    session.delete(target)
    session.flush()
    audit.record(session, "ticket_target.remove", "ticket_target", name)


# ------------------------------------------------------------------------------ what should exist


@dataclass
class Wanted:
    """One ticket as meshward wants it now."""

    key: str
    subject_kind: str
    subject: str
    draft: Draft
    state: State
    component_id: int | None = None
    application_id: int | None = None
    control_key: str | None = None
    vulnerability: str | None = None
    task_id: int | None = None
    task_status: str | None = None
    failing: bool = False
    evidence: Document | None = None
    evidence_hash: str | None = None


def ticket_key(target: TicketTarget, *subject: str) -> str:
    """Stable across renames of the target and re-adding it: the tracker, the project and
    the subject make the key."""
    raw = "\x1f".join((target.kind, target.base_url.rstrip("/").lower(), target.project, *subject))
    return f"{MANAGED_LABEL}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


def _hash(draft: Draft) -> str:
    data = {"t": draft.title, "b": draft.body.to_data(), "l": list(draft.labels)}
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _labels(target: TicketTarget, key: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    seen: dict[str, None] = dict.fromkeys([*target.labels, MANAGED_LABEL, key, *extra])
    return tuple(seen)


def _ui(target: TicketTarget, *parts: str) -> str:
    return target.web_url + "/" + "/".join(quote(p, safe="") for p in parts)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def _newest_versions(session: Session) -> dict[int, int]:
    """component id -> its newest component version id: a service's ticket follows the
    service from version to version."""
    return {
        a: b
        for a, b in session.execute(
            select(ComponentVersion.component_id, func.max(ComponentVersion.id)).group_by(
                ComponentVersion.component_id
            )
        )
    }


def _pick_sample(
    control: Control, languages: list[str], frameworks: list[str]
) -> CodeSample | None:
    """The sample for the service's language and framework, else its language; any sample
    only when nothing is known of the service's language."""
    samples = control.code_samples
    ranked = sorted(
        (s for s in samples if s.language in languages),
        key=lambda s: (s.framework not in frameworks, s.framework is not None),
    )
    if ranked:
        return ranked[0]
    return samples[0] if samples and not languages else None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def evidence_lines(evidence: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in evidence:
        kind = item.get("kind")
        if kind == "scan":
            ids = ", ".join(f"#{i}" for i in item.get("result_ids", [])[:10])
            lines.append(
                f"{item['tool']} scan #{item['scan_id']} ({item.get('at')}): "
                f"{item['count']} result(s) {ids}"
            )
        elif kind == "finding":
            lines.append(f"meshward SCA: {item['count']} open finding(s)")
        elif kind == "manual" and not item.get("passed"):
            lines.append(
                f"manual test by {item.get('tester')} ({item.get('at')}): failed"
                + (f": {item['notes']}" if item.get("notes") else "")
            )
    return lines


def _control_wanted(session: Session, target: TicketTarget) -> dict[str, Wanted]:
    kb = tm.current_kb(session)
    newest = _newest_versions(session)
    cv_ids = sorted(newest.values())
    if not cv_ids:
        return {}
    tm.refresh(session, cv_ids, kb=kb)
    evidence = verification.control_evidence(session, cv_ids)
    facts = gather(session, kb, cv_ids).services
    components = {c.id: c for c in session.scalars(select(Component))}
    versions: dict[int, ComponentVersion] = {}
    tasks: list[ControlTask] = []
    for chunk in _chunks(cv_ids):
        versions.update(
            {
                cv.id: cv
                for cv in session.scalars(
                    select(ComponentVersion).where(ComponentVersion.id.in_(chunk))
                )
            }
        )
        tasks += session.scalars(
            select(ControlTask).where(
                ControlTask.component_version_id.in_(chunk), ControlTask.active.is_(True)
            )
        )
    rank = PRIORITIES.index(target.min_priority) if target.min_priority else len(PRIORITIES)
    wanted: dict[str, Wanted] = {}
    for task in tasks:
        control = kb.controls.get(task.control_key)
        if control is None or PRIORITIES.index(control.priority) > rank:
            continue
        cv = versions[task.component_version_id]
        comp = components[cv.component_id]
        status = tm.effective_status(task)
        state_info = evidence.get((cv.id, task.control_key), {})
        failing = state_info.get("state") == "failed" and task.platform_id is None
        lines = evidence_lines(state_info.get("evidence", [])) if failing else []
        svc = facts.get(cv.id)
        languages = _strings(svc.survey.answers.get("language")) if svc else []
        if not languages and svc:
            languages = _strings(svc.facts.get("sbom.languages"))
        frameworks = _strings(svc.facts.get("sbom.frameworks")) if svc else []
        key = ticket_key(target, "control", comp.key, task.control_key)
        page = _ui(target, "ui", "components", comp.name, "versions", cv.version)
        blocks: list[Any] = [
            Paragraph(control.description.strip()),
            Bullets(
                (
                    f"Service: {comp.key} (version {cv.version})",
                    f"Owner: {comp.owner or 'unknown'}",
                    f"Control: {control.id}, priority {control.priority}",
                    f"Mitigates: {', '.join(control.mitigates)}",
                    *([f"ASVS: {', '.join(control.asvs)}"] if control.asvs else []),
                )
            ),
        ]
        sample = _pick_sample(control, languages, frameworks)
        if sample is not None:
            where = sample.language + (f" / {sample.framework}" if sample.framework else "")
            blocks += [Heading(f"Code sample ({where})"), Code(sample.code, sample.language)]
        if control.test_plan:
            blocks += [Heading("Test plan"), Bullets(tuple(control.test_plan))]
        blocks += [
            Heading("Verification"),
            Paragraph(f"State: {state_info.get('state', 'unverified')}"),
        ]
        if lines:
            blocks.append(Bullets(tuple(lines)))
        blocks += [
            Link(f"meshward: {comp.name} {cv.version}", page),
            Link(
                f"Control {control.id} in the knowledge base",
                _ui(target, "ui", "kb", "controls", control.id),
            ),
            Link(
                "API: verification evidence",
                _ui(
                    target,
                    "api",
                    "v1",
                    "components",
                    comp.name,
                    "versions",
                    cv.version,
                    "verification",
                ),
            ),
            Paragraph(
                f"Managed by meshward ({key}): closing this ticket marks the control done; "
                "a failing verification reopens it."
            ),
        ]
        reopen_for_failure = failing and status == "done"
        evidence_doc = (
            Document(
                (
                    Heading("Verification failed"),
                    Paragraph(
                        f"meshward sees control {control.id} failing for {comp.key} {cv.version}:"
                    ),
                    Bullets(tuple(lines) or ("failed (see meshward)",)),
                    Link("Evidence in meshward", page),
                )
            )
            if failing
            else None
        )
        wanted[key] = Wanted(
            key=key,
            subject_kind="control",
            subject=f"{comp.key} {control.id}",
            draft=Draft(
                f"{control.title} ({comp.name})",
                Document(tuple(blocks)),
                _labels(target, key),
            ),
            state="open" if status in OPEN_STATUSES or reopen_for_failure else "closed",
            component_id=comp.id,
            control_key=control.id,
            task_id=task.id,
            task_status=status,
            failing=failing,
            evidence=evidence_doc,
            evidence_hash=_digest(lines) if failing else None,
        )
    return wanted


def _digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _vulnerability_wanted(session: Session, target: TicketTarget) -> dict[str, Wanted]:
    latest = (
        select(ApplicationVersion.application_id, func.max(ApplicationVersion.seq).label("seq"))
        .group_by(ApplicationVersion.application_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Application.id,
            Application.name,
            Application.key,
            Finding.vulnerability,
            Finding.severity,
            Finding.fixed_version,
            Component.name,
            ComponentVersion.version,
            Package.purl,
        )
        .join(latest, latest.c.application_id == Application.id)
        .join(
            ApplicationVersion,
            (ApplicationVersion.application_id == Application.id)
            & (ApplicationVersion.seq == latest.c.seq),
        )
        .join(
            ApplicationVersionMember,
            ApplicationVersionMember.application_version_id == ApplicationVersion.id,
        )
        .join(
            Finding, Finding.component_version_id == ApplicationVersionMember.component_version_id
        )
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == Finding.package_id)
        .where(Finding.active.is_(True), Finding.state.in_(OPEN_FINDING_STATES))
    ).all()
    groups: dict[tuple[int, str, str, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row[0], row[1], row[2], row[3])].append(row)
    summaries: dict[str, str] = {}
    for vuln, summary in session.execute(
        select(Advisory.vulnerability, Advisory.summary).where(
            Advisory.vulnerability.in_(sorted({g[3] for g in groups}))
        )
    ):
        if summary and vuln not in summaries:
            summaries[vuln] = summary
    wanted: dict[str, Wanted] = {}
    for (app_id, app_name, app_key, vuln), hits in groups.items():
        severity = _worst(h[4] for h in hits)
        affected = sorted(
            {
                f"{comp} {version}: {purl}" + (f" (fixed in {fixed})" if fixed else "")
                for *_, fixed, comp, version, purl in hits
            }
        )
        key = ticket_key(target, "vulnerability", app_key, vuln)
        blocks = (
            Paragraph(summaries.get(vuln, vuln)),
            Bullets((f"Application: {app_name}", f"Severity: {severity or 'unknown'}")),
            Heading("Affected services"),
            Bullets(tuple(affected)),
            Link(f"{vuln} in meshward", _ui(target, "ui", "advisories", vuln)),
            Link(f"{app_name} in meshward", _ui(target, "ui", "apps", app_name)),
            Link("API: blast radius", f"{target.web_url}/api/v1/blast-radius?q={quote(vuln)}"),
            Paragraph(
                f"Managed by meshward ({key}): it closes when no service of {app_name} is "
                "affected any more (upgraded, or analysed as not affected)."
            ),
        )
        wanted[key] = Wanted(
            key=key,
            subject_kind="vulnerability",
            subject=f"{app_key} {vuln}",
            draft=Draft(
                f"{vuln} in {app_name}" + (f" ({severity})" if severity else ""),
                Document(blocks),
                _labels(target, key),
            ),
            state="open",
            application_id=app_id,
            vulnerability=vuln,
            evidence=Document((Heading("Still affected"), Bullets(tuple(affected)), blocks[4])),
            evidence_hash=_digest(affected),
        )
    return wanted


def _worst(severities: Iterable[str | None]) -> str | None:
    known = [s for s in severities if s in PRIORITIES]
    return min(known, key=PRIORITIES.index) if known else None


# ------------------------------------------------------------------------------ the plan


@dataclass
class SyncReport:
    target: str
    dry_run: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    """Planned (dry run) or done: create, update, close, reopen, comment, adopt, task_done,
    task_reopened."""
    pending: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a["action"] == action)

    def to_dict(self) -> dict[str, Any]:
        counts = {
            a: self.count(a)
            for a in (
                "create",
                "update",
                "close",
                "reopen",
                "comment",
                "adopt",
                "task_done",
                "task_reopened",
            )
        }
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "counts": counts,
            "actions": self.actions,
            "pending": self.pending,
            "dead": self.dead,
            "errors": self.errors,
        }


def _payload(
    w: Wanted, action: str, state: State | None, comment: Document | None
) -> dict[str, Any]:
    return {
        "action": action,
        "subject_kind": w.subject_kind,
        "subject": w.subject,
        "component_id": w.component_id,
        "application_id": w.application_id,
        "control_key": w.control_key,
        "vulnerability": w.vulnerability,
        "title": w.draft.title,
        "body": w.draft.body.to_data(),
        "labels": list(w.draft.labels),
        "hash": _hash(w.draft),
        "state": state,
        "comment": comment.to_data() if comment else None,
        "evidence_hash": w.evidence_hash,
    }


_RESOLVED = "meshward: no service is affected by {} any more; closing."


def _note(text: str) -> Document:
    return Document((Paragraph(text),))


def _plan(
    session: Session,
    target: TicketTarget,
    wanted: dict[str, Wanted],
    remote: dict[str, RemoteIssue] | None,
    report: SyncReport,
    *,
    dry_run: bool,
) -> dict[str, dict[str, Any]]:
    """The outbox entries to write (by key), and the local effects of remote changes."""
    links = {
        link.key: link
        for link in session.scalars(select(TicketLink).where(TicketLink.target_id == target.id))
    }
    tasks = {
        t.id: t
        for chunk in _chunks(w.task_id for w in wanted.values() if w.task_id)
        for t in session.scalars(select(ControlTask).where(ControlTask.id.in_(chunk)))
    }
    tracker_name = f"{target.kind}:{target.name}"
    ops: dict[str, dict[str, Any]] = {}

    def act(action: str, w: Wanted | TicketLink, ticket: str | None = None) -> None:
        report.actions.append(
            {"action": action, "key": w.key, "subject": w.subject, "ticket": ticket}
        )

    def set_task(w: Wanted, status: str, reason: str) -> None:
        task = tasks.get(w.task_id or 0)
        if task is None or task.status == status:
            return
        act("task_done" if status == "done" else "task_reopened", w)
        if dry_run:
            return
        task.status, task.reason = status, reason
        task.decided_by, task.decided_at, task.updated_at = tracker_name, utcnow(), utcnow()

    for key, w in wanted.items():
        link = links.get(key)
        issue = remote.get(key) if remote is not None else None
        if link is None and issue is not None:  # made before, never recorded: a crash
            act("adopt", w, issue.key)
            link = _new_link(target, w, issue)
            if not dry_run:
                session.add(link)
        if link is None:
            if w.state == "open":
                act("create", w)
                ops[key] = _payload(w, "create", "open", None)
            continue
        observed = issue.state if issue is not None else link.remote_status
        state: State | None = None
        comment: Document | None = None
        if observed != link.remote_status:  # a person changed it in the tracker
            if not dry_run:
                link.remote_status = observed
            if observed == "closed" and w.failing:
                state, comment = "open", w.evidence
                set_task(w, "todo", f"reopened: verification failed (closed in {link.remote_key})")
            elif observed == "closed":
                if not dry_run:
                    link.local_state, link.evidence_hash = "closed", w.evidence_hash
                set_task(w, "done", f"closed in {link.remote_key}")
            else:
                if not dry_run:
                    link.local_state = "open"
                if w.task_status not in OPEN_STATUSES:
                    set_task(w, "todo", f"reopened in {link.remote_key}")
        elif w.failing and w.evidence_hash != link.evidence_hash:
            comment = w.evidence
            if w.task_status == "done" or link.local_state == "closed":
                state = "open"
                set_task(w, "todo", "reopened: verification failed")
        elif w.state != link.local_state:
            human_closed = (
                w.subject_kind == "vulnerability"
                and w.state == "open"
                and w.evidence_hash == link.evidence_hash
            )
            if not human_closed:
                state = w.state
                if w.subject_kind == "vulnerability":
                    comment = w.evidence if state == "open" else _note(_RESOLVED.format(w.subject))
                else:
                    verb = "closing" if state == "closed" else "reopening"
                    comment = _note(f"meshward: {w.subject} is {w.task_status}; {verb}.")
        if state is not None:
            act("reopen" if state == "open" else "close", w, link.remote_key)
        elif comment is not None:
            act("comment", w, link.remote_key)
        changed = _hash(w.draft) != link.pushed_hash
        if changed:
            act("update", w, link.remote_key)
        if state is not None or comment is not None or changed:
            action = "comment" if comment is not None else "update"
            if state is not None:
                action = "reopen" if state == "open" else "close"
            ops[key] = _payload(w, action, state, comment)
    for key, link in links.items():
        if key in wanted or link.local_state == "closed":
            continue
        act("close", link, link.remote_key)
        ops[key] = {
            "action": "close",
            "subject_kind": link.subject_kind,
            "subject": link.subject,
            "state": "closed",
            "comment": _note(
                f"meshward: {link.subject} no longer needs this ticket; closing."
            ).to_data(),
            "hash": link.pushed_hash,
            "evidence_hash": link.evidence_hash,
        }
    return ops


def _new_link(target: TicketTarget, w: Wanted, issue: RemoteIssue) -> TicketLink:
    return TicketLink(
        target_id=target.id,
        key=w.key,
        subject_kind=w.subject_kind,
        subject=w.subject,
        component_id=w.component_id,
        application_id=w.application_id,
        control_key=w.control_key,
        vulnerability=w.vulnerability,
        remote_id=issue.id,
        remote_key=issue.key,
        remote_url=issue.url,
        remote_status=issue.state,
        local_state=issue.state,
    )


def _enqueue(
    session: Session, target: TicketTarget, ops: dict[str, dict[str, Any]], now: datetime
) -> None:
    """One pending entry per ticket: a newer plan replaces the payload, keeping the entry's
    attempts and schedule (a failing remote is not hammered by re-planning)."""
    existing = {
        op.key: op
        for op in session.scalars(select(TicketOutbox).where(TicketOutbox.target_id == target.id))
    }
    for key, payload in ops.items():
        op = existing.get(key)
        if op is None:
            session.add(
                TicketOutbox(
                    target_id=target.id,
                    key=key,
                    kind=payload["action"],
                    payload=payload,
                    next_attempt_at=now,
                )
            )
            continue
        if op.kind == "create" and not session.scalar(
            select(TicketLink.id).where(TicketLink.target_id == target.id, TicketLink.key == key)
        ):
            payload = {**payload, "action": "create"}
        op.kind, op.payload = payload["action"], payload
        if op.status == "dead":
            op.status, op.attempts = "pending", 0


# ------------------------------------------------------------------------------ doing it


def _execute(
    session: Session,
    tracker: Tracker,
    target: TicketTarget,
    op: TicketOutbox,
    report: SyncReport,
    now: datetime,
) -> None:
    payload = dict(op.payload)
    link = session.scalars(
        select(TicketLink).where(TicketLink.target_id == target.id, TicketLink.key == op.key)
    ).first()
    draft = (
        Draft(payload["title"], Document.from_data(payload["body"]), tuple(payload["labels"]))
        if "title" in payload
        else None
    )
    entry = {"key": op.key, "subject": payload.get("subject")}
    if link is None:
        if draft is None:
            session.delete(op)
            session.commit()
            return
        # a retry searches first (the failed try may have created it); a first try follows
        # this sync's listing, which already showed there is none
        issue = tracker.find(op.key) if op.attempts else None
        if issue is None:
            issue = tracker.create(draft, op.key)
            report.actions.append({"action": "create", **entry, "ticket": issue.key})
            pushed: str | None = payload["hash"]
        else:
            report.actions.append({"action": "adopt", **entry, "ticket": issue.key})
            pushed = None
        wanted = Wanted(
            key=op.key,
            subject_kind=payload["subject_kind"],
            subject=payload["subject"],
            draft=draft,
            state="open",
            component_id=payload.get("component_id"),
            application_id=payload.get("application_id"),
            control_key=payload.get("control_key"),
            vulnerability=payload.get("vulnerability"),
        )
        link = _new_link(target, wanted, issue)
        link.pushed_hash = pushed
        link.local_state = "open"
        if payload.get("evidence_hash") and payload.get("state") == "open":
            link.evidence_hash = payload["evidence_hash"]
        session.add(link)
        session.commit()  # recorded before anything else can fail
        if pushed is not None:
            tracker.tag(issue, op.key)
    issue = RemoteIssue(link.remote_id, link.remote_key, link.remote_url, link.remote_status)  # type: ignore[arg-type]
    entry["ticket"] = link.remote_key
    if payload.get("comment") and not payload.get("commented"):
        tracker.comment(issue, Document.from_data(payload["comment"]))
        payload["commented"] = True
        op.payload = payload
        if payload.get("evidence_hash"):
            link.evidence_hash = payload["evidence_hash"]
        report.actions.append({"action": "comment", **entry})
        session.commit()
    state = payload.get("state")
    if state and state != link.remote_status:
        tracker.set_state(issue, state)
        report.actions.append({"action": "reopen" if state == "open" else "close", **entry})
    if state:
        link.remote_status = link.local_state = state
    if draft is not None and payload["hash"] != link.pushed_hash:
        tracker.update(issue, draft)
        link.pushed_hash = payload["hash"]
        report.actions.append({"action": "update", **entry})
    link.synced_at = now
    session.delete(op)
    session.commit()


def _postpone(session: Session, target: TicketTarget, until: datetime) -> None:
    session.execute(
        update(TicketOutbox)
        .where(
            TicketOutbox.target_id == target.id,
            TicketOutbox.status == "pending",
            TicketOutbox.next_attempt_at < until,
        )
        .values(next_attempt_at=until)
    )


def _drain(
    session: Session, tracker: Tracker, target: TicketTarget, report: SyncReport, now: datetime
) -> None:
    due = list(
        session.scalars(
            select(TicketOutbox.id)
            .where(
                TicketOutbox.target_id == target.id,
                TicketOutbox.status == "pending",
                TicketOutbox.next_attempt_at <= now,
            )
            .order_by(TicketOutbox.id)
        )
    )
    for op_id in due:
        op = session.get(TicketOutbox, op_id)
        if op is None:
            continue
        try:
            _execute(session, tracker, target, op, report, now)
        except TrackerError as exc:
            session.rollback()
            op = session.get(TicketOutbox, op_id)
            if op is None:
                continue
            op.attempts += 1
            op.last_error = str(exc)[:2000]
            delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(op.attempts)
            op.next_attempt_at = now + timedelta(seconds=delay)
            if not exc.transient and op.attempts >= MAX_ATTEMPTS:
                op.status = "dead"
            report.errors.append(f"{op.key}: {exc}")
            if exc.retry_after is not None:  # rate limited: nothing else goes before then
                _postpone(session, target, op.next_attempt_at)
            session.commit()
            if exc.transient:  # down or limited: the rest waits for the next sync
                return


def sync_tickets(
    session: Session,
    target: TicketTarget,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SyncReport:
    """Bring the tracker in step with meshward (and meshward with what people did in the
    tracker). Commits as it goes: use a :func:`durable_session`."""
    now = now or utcnow()
    report = SyncReport(target.name, dry_run)
    if not target.enabled:
        raise ConflictError(f"ticket target {target.name} is disabled")
    tracker = tracker_for(target, transport=transport)
    try:
        wanted = (
            _control_wanted(session, target)
            if target.grouping == "control_service"
            else _vulnerability_wanted(session, target)
        )
        remote: dict[str, RemoteIssue] | None
        limited: float | None = None
        try:
            remote = {}
            for issue in tracker.list_managed(MANAGED_LABEL):
                for label in issue.labels:
                    if label.startswith(f"{MANAGED_LABEL}:"):
                        remote.setdefault(label, issue)
        except TrackerError as exc:
            remote, limited = None, exc.retry_after
            report.errors.append(f"remote state not read: {exc}")
        ops = _plan(session, target, wanted, remote, report, dry_run=dry_run)
        if dry_run:
            session.rollback()
            report.pending = len(ops)
            return report
        _enqueue(session, target, ops, now)
        if limited is not None:
            session.flush()
            _postpone(session, target, now + timedelta(seconds=limited))
        target.last_sync_at = now
        session.commit()
        report.actions = [
            a for a in report.actions if a["action"] in ("task_done", "task_reopened", "adopt")
        ]
        if remote is not None or not report.errors:
            _drain(session, tracker, target, report, now)
        counts = dict(
            session.execute(
                select(TicketOutbox.status, func.count())
                .where(TicketOutbox.target_id == target.id)
                .group_by(TicketOutbox.status)
            ).all()
        )
        report.pending, report.dead = counts.get("pending", 0), counts.get("dead", 0)
        audit.record(
            session,
            "ticket_target.sync",
            "ticket_target",
            target.name,
            after={**report.to_dict()["counts"], "pending": report.pending, "dead": report.dead},
        )
        session.commit()
        return report
    finally:
        close = getattr(tracker, "http", None)
        if close is not None:
            close.close()


def sync_all(
    session: Session,
    *,
    name: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[SyncReport]:
    query = select(TicketTarget).where(TicketTarget.enabled.is_(True)).order_by(TicketTarget.name)
    targets = [get_target(session, name)] if name else list(session.scalars(query))
    return [
        sync_tickets(session, t, dry_run=dry_run, now=now, transport=transport) for t in targets
    ]


# ------------------------------------------------------------------------------ reads


def list_links(
    session: Session,
    *,
    target: str | None = None,
    component_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = 500,
) -> list[dict[str, Any]]:
    query = (
        select(TicketLink, TicketTarget.name)
        .join(TicketTarget, TicketTarget.id == TicketLink.target_id)
        .order_by(TicketLink.id)
        .offset(offset)
        .limit(limit)
    )
    if target is not None:
        query = query.where(TicketTarget.name == target)
    if component_ids is not None:
        query = query.where(TicketLink.component_id.in_(sorted(component_ids)))
    return [
        {
            "target": name,
            "key": link.key,
            "subject_kind": link.subject_kind,
            "subject": link.subject,
            "control": link.control_key,
            "vulnerability": link.vulnerability,
            "ticket": link.remote_key,
            "url": link.remote_url,
            "remote_status": link.remote_status,
            "local_state": link.local_state,
            "synced_at": _iso(link.synced_at),
        }
        for link, name in session.execute(query)
    ]


def list_outbox(session: Session, target: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(TicketOutbox, TicketTarget.name)
        .join(TicketTarget, TicketTarget.id == TicketOutbox.target_id)
        .order_by(TicketOutbox.id)
    )
    if target is not None:
        query = query.where(TicketTarget.name == target)
    return [
        {
            "target": name,
            "key": op.key,
            "kind": op.kind,
            "subject": op.payload.get("subject"),
            "status": op.status,
            "attempts": op.attempts,
            "next_attempt_at": _iso(op.next_attempt_at),
            "last_error": op.last_error,
        }
        for op, name in session.execute(query)
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
