"""Threat models: the KB in force, evaluation of every model, control tasks and human decisions.

``refresh`` is the one path that turns facts into threats and tasks, in bulk: it evaluates each
threat's rule on each component version's facts (and each link threat on each API link, for
both ends), keeps every row it ever wrote (threats and tasks that stop applying become
inactive, KB-retired ones carry ``retired_in``), never touches a human decision, and starts a
new component version from its predecessor's answers and task decisions. Reads refresh the
versions they show first, so a model is never stale after an SBOM upload, a deployment or a
catalog import.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Engine, case, delete, event, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from meshward.errors import ConflictError, InputError, MeshwardError, NotFoundError
from meshward.kb.conditions import Condition, evaluate, holds
from meshward.kb.loader import KnowledgeBase, check_answer, load_kb
from meshward.kb.schema import Control, Threat
from meshward.services import catalog
from meshward.services.model_facts import (
    Gathered,
    ServiceFacts,
    current_documents,
    gather,
    link_rows,
    predecessor_of,
)
from meshward.services.scan_state import REVIEW_CONTROL, unmapped_versions
from meshward.store import audit, revision
from meshward.store.auth_models import AuditEvent
from meshward.store.models import (
    Application,
    ApplicationVersion,
    Component,
    ComponentVersion,
    Environment,
)
from meshward.store.threat_models import (
    ControlTask,
    KbEntry,
    KbRelease,
    ModelState,
    ModelThreat,
    Platform,
    PlatformMember,
    Survey,
)
from meshward.store.types import utcnow

STATUSES = ("todo", "in_progress", "done", "not_applicable", "risk_accepted")
_FRESH = "meshward.fresh_models"
"""``session.info`` key: version id -> its facts, for versions refreshed in this transaction
since its last change."""


@event.listens_for(Session, "after_flush")
def _forget_fresh(session: Session, _context: Any) -> None:
    """Any change but an audit record may change facts: reads must refresh again."""
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(not isinstance(obj, AuditEvent) for obj in changed):
        session.info.pop(_FRESH, None)
        session.info.pop(_PENDING, None)
        session.info.pop("meshward.retired_titles", None)


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    """Versions found fresh at a revision are known fresh to every later transaction that
    reads at that revision, once this one has committed its model writes."""
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        engine, at, entries = pending
        kept = _known_fresh.get(engine)
        if kept is None or kept[0] != at:
            kept = (at, OrderedDict())
            _known_fresh[engine] = kept
        for cv, entry in entries.items():
            kept[1][cv] = entry
            kept[1].move_to_end(cv)
        while len(kept[1]) > KEPT_FRESH:
            kept[1].popitem(last=False)
    _forget_after_transaction(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_transaction(session: Session, *_: Any) -> None:
    session.info.pop(_FRESH, None)
    session.info.pop(_PENDING, None)
    session.info.pop("meshward.retired_titles", None)


MODEL_INPUTS = (
    "apis",
    "component_versions",
    "components",
    "deployments",
    "domains",
    "environments",
    "kb_releases",
    "occurrences",
    "packages",
    "platform_members",
    "platforms",
    "relations",
    "runtime_facts",
    "sbom_documents",
    "scan_results",
    "scans",
    "surveys",
)
"""Tables a threat model is computed from (tests/services/test_kept_inputs.py checks the
list against the statements ``refresh`` runs)."""
SBOM_INPUTS = ("occurrences", "packages", "sbom_documents")
"""Read only through each version's current SBOM document: instead of their revisions (which
every SBOM upload anywhere moves), kept freshness compares the current documents of the
versions a model's facts were gathered from."""
_KEYED_INPUTS = tuple(t for t in MODEL_INPUTS if t not in SBOM_INPUTS)
_PENDING = "meshward.fresh_pending"
KEPT_FRESH = 5000
"""Versions whose freshness is kept across transactions, per engine (the most recent)."""


@dataclass(frozen=True)
class _Kept:
    facts: ServiceFacts
    documents: dict[int, int]
    """The versions gathered with it (its neighbourhood) -> their current SBOM document, or
    0 for none: shared by the versions gathered together."""


_known_fresh: WeakKeyDictionary[
    Engine, tuple[tuple[revision.Revision, str], OrderedDict[int, _Kept]]
] = WeakKeyDictionary()
"""Per engine: a data revision and KB digest, and the versions whose stored models were
current at them (with their facts). A committed change to a keyed input moves the revision
and empties this; a new SBOM for a version in a kept neighbourhood is seen by its document."""


def _kept_fresh(
    session: Session, at: tuple[revision.Revision, str], wanted: list[int]
) -> dict[int, ServiceFacts] | None:
    """The facts of ``wanted`` when all are known fresh at ``at`` and none of the SBOMs their
    facts came from has been replaced since."""
    kept = _known_fresh.get(session.get_bind())  # type: ignore[arg-type]
    if kept is None or kept[0] != at or not all(cv in kept[1] for cv in wanted):
        return None
    entries = [kept[1][cv] for cv in wanted]
    neighbourhoods = {id(e.documents): e.documents for e in entries}.values()
    current = current_documents(session, {cv for n in neighbourhoods for cv in n})
    if any(current.get(cv, 0) != doc for n in neighbourhoods for cv, doc in n.items()):
        return None
    return {cv: e.facts for cv, e in zip(wanted, entries, strict=True)}


NEEDS_REASON = frozenset({"not_applicable", "risk_accepted"})
_KB_CACHE: dict[str, KnowledgeBase] = {}


# ------------------------------------------------------------------------------ the KB


def current_kb(session: Session) -> KnowledgeBase:
    """The KB release in force; the first use installs the shipped KB (plus the overlay).
    Releases are cached by digest, so only a new release's content is ever decoded."""
    latest = session.execute(
        select(KbRelease.id, KbRelease.digest).order_by(KbRelease.id.desc()).limit(1)
    ).first()
    if latest is None:
        kb = load_kb()
        install_kb(session, kb)
        return kb
    cached = _KB_CACHE.get(latest.digest)
    if cached is None:
        release = session.get(KbRelease, latest.id)
        assert release is not None
        cached = KnowledgeBase.from_data(release.content, f"KB release {release.version}")
        _KB_CACHE[release.digest] = cached
    return cached


def _entry_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class KbChange:
    kind: str
    key: str
    title: str
    change: str
    """added, retired, changed, reinstated."""
    services: int = 0


@dataclass
class KbUpdate:
    from_version: str | None
    to_version: str
    unchanged: bool
    changes: list[KbChange] = field(default_factory=list)
    services_touched: int = 0
    tasks_added: int = 0
    tasks_retired: int = 0
    threats_added: int = 0
    threats_removed: int = 0
    decisions_kept: int = 0


def install_kb(session: Session, kb: KnowledgeBase) -> KbUpdate:
    """Make ``kb`` the KB in force: record the release, diff its entries against the store's
    (added, changed, retired — never deleted), and re-evaluate every model."""
    latest = session.scalars(select(KbRelease).order_by(KbRelease.id.desc()).limit(1)).first()
    if latest is not None and latest.digest == kb.digest:
        return KbUpdate(latest.version, kb.version, unchanged=True)
    if session.scalar(select(KbRelease.id).where(KbRelease.version == kb.version)) is not None:
        raise ConflictError(
            f"KB version {kb.version} was loaded before with other content; "
            "give the changed KB a new version"
        )
    entries = {(e.kind, e.key): e for e in session.scalars(select(KbEntry))}
    changes: list[KbChange] = []
    fresh: dict[tuple[str, str], Threat | Control] = {
        **{("threat", k): t for k, t in kb.threats.items()},
        **{("control", k): c for k, c in kb.controls.items()},
    }
    for (kind, key), item in fresh.items():
        data = item.model_dump(mode="json", exclude_none=True)
        digest = _entry_digest(data)
        entry = entries.get((kind, key))
        if entry is None:
            session.add(
                KbEntry(
                    kind=kind,
                    key=key,
                    title=item.title,
                    digest=digest,
                    data=data,
                    added_in=kb.version,
                )
            )
            changes.append(KbChange(kind, key, item.title, "added"))
        elif entry.retired_in is not None or entry.digest != digest:
            change = "reinstated" if entry.retired_in is not None else "changed"
            entry.title, entry.digest, entry.data, entry.retired_in = item.title, digest, data, None
            changes.append(KbChange(kind, key, item.title, change))
    for (kind, key), entry in entries.items():
        if (kind, key) not in fresh and entry.retired_in is None:
            entry.retired_in = kb.version
            changes.append(KbChange(kind, key, entry.title, "retired"))
    release = KbRelease(
        version=kb.version,
        digest=kb.digest,
        loaded_by=audit.actor_of(session).name,
        content=kb.to_data(),
    )
    session.add(release)
    session.flush()
    _KB_CACHE[kb.digest] = kb
    before = _active_keys(session)
    result = refresh(session, kb=kb)
    after = _active_keys(session)
    touched: set[int] = set()
    for held in before.keys() | after.keys():
        touched |= before.get(held, set()) ^ after.get(held, set())
    for item_change in changes:
        holders = after if item_change.change != "retired" else before
        comps = holders.get((item_change.kind, item_change.key), set())
        item_change.services = len(comps)
        if item_change.change == "changed":
            touched |= comps
    update_ = KbUpdate(
        from_version=latest.version if latest else None,
        to_version=kb.version,
        unchanged=False,
        changes=sorted(changes, key=lambda c: (c.change, c.kind, c.key)),
        services_touched=len(touched),
        tasks_added=result.tasks_added,
        tasks_retired=result.tasks_retired,
        threats_added=result.threats_added,
        threats_removed=result.threats_removed,
        decisions_kept=result.decisions_kept,
    )
    release.summary = {
        "from": update_.from_version,
        "changes": Counter(c.change for c in changes),
        "services_touched": update_.services_touched,
        "tasks_added": update_.tasks_added,
        "tasks_retired": update_.tasks_retired,
    }
    return update_


def _active_keys(session: Session) -> dict[tuple[str, str], set[int]]:
    """(kind, key) -> component ids whose models hold it actively."""
    out: dict[tuple[str, str], set[int]] = defaultdict(set)
    for key, comp in session.execute(
        select(ModelThreat.threat_key, ComponentVersion.component_id)
        .join(ComponentVersion, ComponentVersion.id == ModelThreat.component_version_id)
        .where(ModelThreat.active.is_(True))
    ):
        out[("threat", key)].add(comp)
    for key, comp in session.execute(
        select(ControlTask.control_key, ComponentVersion.component_id)
        .join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .where(ControlTask.active.is_(True))
    ):
        out[("control", key)].add(comp)
    return out


# ------------------------------------------------------------------------------ evaluation


@dataclass
class RefreshResult:
    versions: int = 0
    evaluated: int = 0
    """Versions whose inputs changed since their last evaluation (the others are skipped)."""
    threats_added: int = 0
    threats_removed: int = 0
    tasks_added: int = 0
    tasks_retired: int = 0
    decisions_kept: int = 0
    gathered: Gathered | None = None


@dataclass(frozen=True)
class _Hit:
    threat: str
    role: str
    peer: int
    why: tuple[str, ...]


def _why(rule: Condition, facts: dict[str, Any]) -> tuple[str, ...] | None:
    """The reasons a rule holds, or None; the trace is built only when it does."""
    if not holds(rule, facts):
        return None
    return tuple(evaluate(rule, facts).reasons())


def evaluate_models(
    kb: KnowledgeBase, gathered: Gathered, only: set[int] | None = None
) -> dict[int, list[_Hit]]:
    """Threats that apply, per component version (``only``: just these), with why (pure: no
    database)."""
    versions = {cv: svc for cv, svc in gathered.services.items() if only is None or cv in only}
    hits: dict[int, list[_Hit]] = {cv: [] for cv in versions}
    service_threats = [t for t in kb.threats.values() if t.scope == "service"]
    link_threats = [t for t in kb.threats.values() if t.scope == "link"]
    for cv, svc in versions.items():
        for threat in service_threats:
            why = _why(threat.applies_when, svc.facts)
            if why is not None:
                hits[cv].append(_Hit(threat.id, "service", 0, why))
    versions_of: dict[int, list[int]] = defaultdict(list)
    for cv, svc in versions.items():
        versions_of[svc.component_id].append(cv)
    for link in gathered.links:
        ends = (
            versions_of.get(link.consumer_component_id, []),
            versions_of.get(link.provider_component_id, []),
        )
        if not ends[0] and not ends[1]:
            continue
        for threat in link_threats:
            why = _why(threat.applies_when, link.facts)
            if why is None:
                continue
            for cv in ends[0]:
                hits[cv].append(_Hit(threat.id, "consumer", link.provider_component_id, why))
            for cv in ends[1]:
                hits[cv].append(_Hit(threat.id, "provider", link.consumer_component_id, why))
    return hits


def _digests(
    kb: KnowledgeBase, gathered: Gathered, ids: list[int], review: set[int]
) -> dict[int, str]:
    """What each version's model depends on, hashed: KB release, facts, its links' facts,
    the platforms that cover it, and whether unmapped scan results need the review control."""
    links_of: dict[int, list[Any]] = defaultdict(list)
    for link in gathered.links:
        links_of[link.consumer_component_id].append(("c", link.provider_component_id, link.facts))
        links_of[link.provider_component_id].append(("p", link.consumer_component_id, link.facts))
    out = {}
    for cv in ids:
        svc = gathered.services[cv]
        payload = [
            kb.digest,
            svc.facts,
            svc.platforms,
            sorted(links_of[svc.component_id], key=lambda x: (x[0], x[1])),
            cv in review,
            svc.inherited_from,
        ]
        out[cv] = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return out


def required_controls(
    kb: KnowledgeBase, svc: ServiceFacts, threats: Iterable[str]
) -> dict[str, list[str]]:
    """control id -> the applying threats it mitigates, for one service."""
    out: dict[str, list[str]] = {}
    for threat in sorted(set(threats)):
        for control in kb.controls_by_threat.get(threat, []):
            if control.applies_when is not None and not holds(control.applies_when, svc.facts):
                continue
            out.setdefault(control.id, []).append(threat)
    return out


def refresh(
    session: Session, cv_ids: Iterable[int] | None = None, *, kb: KnowledgeBase | None = None
) -> RefreshResult:
    """Re-evaluate the models of ``cv_ids`` (None: all) and write the differences in bulk."""
    kb = kb or current_kb(session)
    wanted = None if cv_ids is None else sorted(set(cv_ids))
    fresh: dict[int, ServiceFacts] = session.info.get(_FRESH, {})
    if wanted is not None and all(cv in fresh for cv in wanted):
        return RefreshResult(versions=len(wanted))
    rev = revision.current(session, _KEYED_INPUTS) if wanted is not None else None
    if rev is not None and wanted is not None:
        known = _kept_fresh(session, (rev, kb.digest), wanted)
        if known is not None:
            session.info.setdefault(_FRESH, {}).update(known)
            return RefreshResult(versions=len(wanted))
    gathered = gather(session, kb, wanted)
    targets = set(gathered.services) if wanted is None else set(wanted) & set(gathered.services)
    result = RefreshResult(versions=len(targets), gathered=gathered)
    if not targets:
        return result
    ids = sorted(targets)
    review = unmapped_versions(session, ids) if REVIEW_CONTROL in kb.controls else set()
    digests = _digests(kb, gathered, ids, review)
    stored_digests: dict[int, str] = {}
    for chunk in _chunks(ids):
        query = select(ModelState.component_version_id, ModelState.digest)
        for cv, digest in session.execute(query.where(ModelState.component_version_id.in_(chunk))):
            stored_digests[cv] = digest
    session.info.setdefault(_FRESH, {}).update({cv: gathered.services[cv] for cv in targets})
    if rev is not None:
        documents = {cv: gathered.documents.get(cv, 0) for cv in gathered.services}
        kept = {cv: _Kept(gathered.services[cv], documents) for cv in targets}
        session.info[_PENDING] = (session.get_bind(), (rev, kb.digest), kept)
    ids = [cv for cv in ids if stored_digests.get(cv) != digests[cv]]
    result.evaluated = len(ids)
    if not ids:
        return result
    hits = evaluate_models(kb, gathered, set(ids))
    now = utcnow()

    # inherited survey answers become the new version's own starting point
    new_surveys = [
        {
            "component_version_id": cv,
            "answers": gathered.services[cv].stored,
            "inherited_from_id": gathered.services[cv].inherited_from,
            "updated_by": "inherited",
            "updated_at": now,
        }
        for cv in ids
        if gathered.services[cv].inherited_from is not None
    ]
    if new_surveys:
        session.execute(insert(Survey), new_surveys)

    existing_threats: dict[tuple[int, str, int, str], Any] = {}
    for chunk in _chunks(ids):
        for row in session.execute(
            select(
                ModelThreat.id,
                ModelThreat.component_version_id,
                ModelThreat.threat_key,
                ModelThreat.peer_component_id,
                ModelThreat.role,
                ModelThreat.active,
                ModelThreat.why,
            ).where(ModelThreat.component_version_id.in_(chunk))
        ):
            existing_threats[(row[1], row[2], row[3], row[4])] = row
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple[int, str, int, str]] = set()
    for cv in ids:
        for hit in hits[cv]:
            key = (cv, hit.threat, hit.peer, hit.role)
            if key in seen:
                continue
            seen.add(key)
            threat = kb.threats[hit.threat]
            known = existing_threats.get(key)
            if known is None:
                inserts.append(
                    {
                        "component_version_id": cv,
                        "threat_key": hit.threat,
                        "role": hit.role,
                        "peer_component_id": hit.peer,
                        "active": True,
                        "why": list(hit.why),
                        "likelihood": threat.likelihood,
                        "impact": threat.impact,
                        "first_seen": now,
                        "changed_at": now,
                    }
                )
                result.threats_added += 1
            elif not known.active or list(known.why) != list(hit.why):
                updates.append(
                    {
                        "id": known.id,
                        "active": True,
                        "why": list(hit.why),
                        "likelihood": threat.likelihood,
                        "impact": threat.impact,
                        "changed_at": now,
                    }
                )
                result.threats_added += 0 if known.active else 1
    for key, row in existing_threats.items():
        if key not in seen and row.active:
            updates.append({"id": row.id, "active": False, "changed_at": now})
            result.threats_removed += 1
    if inserts:
        session.execute(insert(ModelThreat), inserts)
    if updates:
        session.execute(update(ModelThreat), updates)

    _refresh_tasks(session, kb, gathered, hits, ids, now, result, review)
    for chunk in _chunks(ids):
        session.execute(delete(ModelState).where(ModelState.component_version_id.in_(chunk)))
    session.execute(
        insert(ModelState),
        [{"component_version_id": cv, "digest": digests[cv], "evaluated_at": now} for cv in ids],
    )
    if result.threats_added or result.threats_removed or result.tasks_added or result.tasks_retired:
        audit.record(
            session,
            "threat_model.refresh",
            "threat_model",
            f"{len(ids)} component versions",
            after={
                "kb": kb.version,
                "threats_added": result.threats_added,
                "threats_removed": result.threats_removed,
                "tasks_added": result.tasks_added,
                "tasks_retired": result.tasks_retired,
            },
        )
    session.flush()
    return result


def _refresh_tasks(
    session: Session,
    kb: KnowledgeBase,
    gathered: Gathered,
    hits: dict[int, list[_Hit]],
    ids: list[int],
    now: datetime,
    result: RefreshResult,
    review: set[int],
) -> None:
    existing: dict[tuple[int, str], Any] = {}
    for chunk in _chunks(ids):
        for row in session.execute(
            select(
                ControlTask.id,
                ControlTask.component_version_id,
                ControlTask.control_key,
                ControlTask.active,
                ControlTask.retired_in,
                ControlTask.platform_id,
                ControlTask.status,
            ).where(ControlTask.component_version_id.in_(chunk))
        ):
            existing[(row[1], row[2])] = row
    by_version: dict[int, dict[str, Any]] = defaultdict(dict)
    for (task_cv, control_key), row in existing.items():
        by_version[task_cv][control_key] = row
    predecessor_tasks = _predecessor_tasks(
        session, gathered, [cv for cv in ids if cv not in by_version]
    )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for cv in ids:
        svc = gathered.services[cv]
        needed = required_controls(kb, svc, (h.threat for h in hits[cv]))
        if cv in review:
            needed.setdefault(REVIEW_CONTROL, [])
        for control_key in needed:
            control = kb.controls[control_key]
            platform = (
                svc.platforms.get(control.platform_capability)
                if control.platform_capability
                else None
            )
            task = existing.get((cv, control_key))
            if task is None:
                data: dict[str, Any] = {
                    "component_version_id": cv,
                    "control_key": control_key,
                    "status": "todo",
                    "active": True,
                    "platform_id": platform,
                    "created_at": now,
                    "updated_at": now,
                }
                earlier = predecessor_tasks.get((cv, control_key))
                if earlier is not None:
                    data.update(earlier)
                    result.decisions_kept += 1
                inserts.append(data)
                result.tasks_added += 1
            elif not task.active or task.retired_in is not None or task.platform_id != platform:
                if not task.active:
                    result.tasks_added += 1
                if task.status != "todo":
                    result.decisions_kept += 1
                updates.append(
                    {
                        "id": task.id,
                        "active": True,
                        "retired_in": None,
                        "platform_id": platform,
                        "updated_at": now,
                    }
                )
        for control_key, row in by_version.get(cv, {}).items():
            if control_key in needed or not row.active:
                continue
            retired = control_key not in kb.controls
            updates.append(
                {
                    "id": row.id,
                    "active": False,
                    "retired_in": kb.version if retired else None,
                    "updated_at": now,
                }
            )
            result.tasks_retired += 1
            if row.status != "todo":
                result.decisions_kept += 1
    if inserts:
        session.execute(insert(ControlTask), inserts)
    if updates:
        session.execute(update(ControlTask), updates)


def _predecessor_tasks(
    session: Session, gathered: Gathered, fresh: list[int]
) -> dict[tuple[int, str], dict[str, Any]]:
    """Decisions a version with no tasks yet starts from: its predecessor's non-default task
    states."""
    if not fresh:
        return {}
    components = {gathered.services[cv].component_id for cv in fresh}
    versions: dict[int, list[int]] = defaultdict(list)
    for cv_id, comp in session.execute(
        select(ComponentVersion.id, ComponentVersion.component_id)
        .where(ComponentVersion.component_id.in_(sorted(components)))
        .order_by(ComponentVersion.id)
    ):
        versions[comp].append(cv_id)
    previous: dict[int, int] = {}
    for cv in fresh:
        earlier = [v for v in versions[gathered.services[cv].component_id] if v < cv]
        if earlier:
            previous[cv] = earlier[-1]
    if not previous:
        return {}
    out: dict[tuple[int, str], dict[str, Any]] = {}
    by_prior: dict[int, list[int]] = defaultdict(list)
    for cv, prior in previous.items():
        by_prior[prior].append(cv)
    for chunk in _chunks(sorted(by_prior)):
        for task in session.scalars(
            select(ControlTask).where(
                ControlTask.component_version_id.in_(chunk), ControlTask.status != "todo"
            )
        ):
            for cv in by_prior[task.component_version_id]:
                out[(cv, task.control_key)] = {
                    "status": task.status,
                    "reason": task.reason,
                    "decided_by": task.decided_by,
                    "decided_at": task.decided_at,
                    "assignee": task.assignee,
                    "due_date": task.due_date,
                    "inherited_from_id": task.id,
                }
    return out


def _chunks(ids: list[int], size: int = 900) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# ------------------------------------------------------------------------------ people's input


def _version(session: Session, component: str, version: str) -> ComponentVersion:
    return catalog.get_component_version(session, component, version)


def answer_survey(
    session: Session,
    component: str,
    version: str,
    answers: dict[str, Any],
    *,
    source: str = "answers",
    replace: bool = False,
) -> dict[str, Any]:
    """Store a person's answers (merged into earlier ones unless ``replace``); every answer is
    checked against the KB's questions first, and nothing is stored if one is wrong."""
    kb = current_kb(session)
    cv = _version(session, component, version)
    if not isinstance(answers, dict):
        raise InputError(source, None, "answers are a mapping of question id to answer")
    problems = []
    for qid, value in answers.items():
        question = kb.questions.get(qid)
        if question is None:
            problems.append(InputError(source, qid, "no such question in the survey"))
            continue
        if value is None:
            continue  # an explicit null removes an answer
        why = check_answer(question, value)
        if why is not None:
            problems.append(InputError(source, qid, why))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(first.source, first.place, first.message + more)
    survey = session.scalars(select(Survey).where(Survey.component_version_id == cv.id)).first()
    if survey is None:
        prior = predecessor_of(session, cv)
        inherited = (
            session.scalars(select(Survey).where(Survey.component_version_id == prior)).first()
            if prior
            else None
        )
        survey = Survey(
            component_version_id=cv.id,
            answers=dict(inherited.answers) if inherited else {},
            inherited_from_id=prior if inherited else None,
        )
        session.add(survey)
    merged = {} if replace else dict(survey.answers or {})
    for qid, value in answers.items():
        if value is None:
            merged.pop(qid, None)
        else:
            merged[qid] = value
    survey.answers = merged
    survey.updated_by = audit.actor_of(session).name
    survey.updated_at = utcnow()
    session.flush()
    refresh(session, _versions_affected(session, cv))
    return survey_view(session, component, version)


def stored_answers(session: Session, component: str, version: str) -> dict[str, Any] | None:
    """What people answered for this version (None: nothing yet, not even inherited)."""
    cv = _version(session, component, version)
    return session.scalar(select(Survey.answers).where(Survey.component_version_id == cv.id))


def count_active(session: Session) -> dict[str, int]:
    return {
        "threats": session.scalar(
            select(func.count()).select_from(ModelThreat).where(ModelThreat.active.is_(True))
        )
        or 0,
        "tasks": session.scalar(
            select(func.count()).select_from(ControlTask).where(ControlTask.active.is_(True))
        )
        or 0,
    }


def _versions_affected(session: Session, cv: ComponentVersion) -> list[int]:
    """The version itself, and every version of components linked to it (link threats read
    both ends' answers) — in practice a handful of rows."""
    own = session.get(Component, cv.component_id)
    assert own is not None
    ends = {k for row in link_rows(session, {own.key}) for k in row[:2]}
    peers = set(session.scalars(select(Component.id).where(Component.key.in_(sorted(ends)))))
    peers.add(cv.component_id)
    return list(
        session.scalars(select(ComponentVersion.id).where(ComponentVersion.component_id.in_(peers)))
    )


def set_control(
    session: Session,
    component: str,
    version: str,
    control_key: str,
    *,
    status: str | None = None,
    reason: str | None = None,
    assignee: str | None = None,
    due_date: date | None = None,
    clear_assignee: bool = False,
    clear_due: bool = False,
) -> dict[str, Any]:
    """A human decision on a control task; not applicable and risk accepted need a reason and
    record who decided."""
    cv = _version(session, component, version)
    refresh(session, [cv.id])
    task = session.scalars(
        select(ControlTask).where(
            ControlTask.component_version_id == cv.id, ControlTask.control_key == control_key
        )
    ).first()
    if task is None:
        raise NotFoundError(
            f"control {control_key} is not in the threat model of {component}@{version}"
        )
    if status is not None:
        if status not in STATUSES:
            raise MeshwardError(f"status must be one of: {', '.join(STATUSES)}")
        if status in NEEDS_REASON and not (reason and reason.strip()):
            raise MeshwardError(f"status {status} needs a reason (--reason)")
        task.status = status
        task.reason = reason.strip() if reason else None
        task.decided_by = audit.actor_of(session).name
        task.decided_at = utcnow()
    elif reason is not None:
        task.reason = reason.strip()
    if assignee is not None or clear_assignee:
        task.assignee = None if clear_assignee else assignee
    if due_date is not None or clear_due:
        task.due_date = None if clear_due else due_date
    task.updated_at = utcnow()
    session.flush()
    return task_view(session, current_kb(session), task, cv)


# ------------------------------------------------------------------------------ platforms


def declare_platform(
    session: Session,
    name: str,
    capabilities: list[str],
    *,
    component: str | None = None,
    environment: str | None = None,
    namespace: str | None = None,
    members: list[str] | None = None,
    description: str | None = None,
    source: str = "declared",
) -> dict[str, Any]:
    """Create or change a shared platform; every model it covers is re-evaluated."""
    from meshward.kb.facts import PLATFORM_CAPABILITIES

    unknown = sorted(set(capabilities) - PLATFORM_CAPABILITIES)
    if unknown:
        raise MeshwardError(
            f"unknown capability {', '.join(unknown)}; "
            f"known: {', '.join(sorted(PLATFORM_CAPABILITIES))}"
        )
    platform = session.scalars(select(Platform).where(Platform.name == name)).first()
    if platform is None:
        platform = Platform(name=name, source=source)
        session.add(platform)
    platform.capabilities = sorted(set(capabilities))
    platform.component_id = catalog.get_component(session, component).id if component else None
    platform.environment_id = (
        catalog.get_environment(session, environment).id if environment else None
    )
    platform.namespace = namespace
    platform.description = description
    session.flush()
    if members is not None:
        wanted = {catalog.get_component(session, m).id for m in members}
        have = set(
            session.scalars(
                select(PlatformMember.component_id).where(PlatformMember.platform_id == platform.id)
            )
        )
        for comp in wanted - have:
            session.add(PlatformMember(platform_id=platform.id, component_id=comp))
        for comp in have - wanted:
            member = session.get(PlatformMember, (platform.id, comp))
            if member is not None:
                session.delete(member)
        session.flush()
    refresh(session)
    return platform_view(session, platform)


def remove_platform(session: Session, name: str) -> None:
    """Remove a platform: the controls it satisfied reopen (their own status shows again)."""
    platform = session.scalars(select(Platform).where(Platform.name == name)).first()
    if platform is None:
        raise NotFoundError(f"no platform named {name!r}")
    session.delete(platform)
    session.flush()
    refresh(session)


def platform_view(session: Session, platform: Platform) -> dict[str, Any]:
    members = session.scalars(
        select(Component.key)
        .join(PlatformMember, PlatformMember.component_id == Component.id)
        .where(PlatformMember.platform_id == platform.id)
        .order_by(Component.key)
    ).all()
    env = session.get(Environment, platform.environment_id) if platform.environment_id else None
    comp = session.get(Component, platform.component_id) if platform.component_id else None
    covered = session.scalar(
        select(ControlTask.id).where(ControlTask.platform_id == platform.id).limit(1)
    )
    return {
        "name": platform.name,
        "capabilities": list(platform.capabilities),
        "component": comp.key if comp else None,
        "environment": env.name if env else None,
        "namespace": platform.namespace,
        "members": list(members),
        "source": platform.source,
        "description": platform.description,
        "satisfies_tasks": covered is not None,
    }


def list_platforms(session: Session) -> list[dict[str, Any]]:
    return [
        platform_view(session, p) for p in session.scalars(select(Platform).order_by(Platform.name))
    ]


# ------------------------------------------------------------------------------ views


def effective_status(task: ControlTask) -> str:
    """What the control's state is: a covering platform makes it done, whatever was decided."""
    if task.platform_id is not None:
        return "done"
    return task.status


def task_view(
    session: Session,
    kb: KnowledgeBase,
    task: ControlTask,
    cv: ComponentVersion,
    platforms: dict[int, str] | None = None,
) -> dict[str, Any]:
    control = kb.controls.get(task.control_key)
    if platforms is None:
        platforms = {a: b for a, b in session.execute(select(Platform.id, Platform.name))}
    title = control.title if control else _retired_titles(session).get(task.control_key)
    return {
        "control": task.control_key,
        "title": title or task.control_key,
        "priority": control.priority if control else None,
        "status": task.status,
        "effective_status": effective_status(task),
        "satisfied_by_platform": platforms.get(task.platform_id) if task.platform_id else None,
        "reason": task.reason,
        "decided_by": task.decided_by,
        "decided_at": task.decided_at,
        "assignee": task.assignee,
        "due_date": task.due_date,
        "active": task.active,
        "retired_in": task.retired_in,
        "inherited": task.inherited_from_id is not None,
        "mitigates": list(control.mitigates) if control else [],
    }


def _retired_titles(session: Session) -> dict[str, str]:
    """Titles of controls the KB in force no longer has, read once per transaction."""
    titles: dict[str, str] | None = session.info.get("meshward.retired_titles")
    if titles is None:
        rows = session.execute(
            select(KbEntry.key, KbEntry.title).where(
                KbEntry.kind == "control", KbEntry.retired_in.is_not(None)
            )
        )
        titles = {key: title for key, title in rows}
        session.info["meshward.retired_titles"] = titles
    return titles


def survey_view(session: Session, component: str, version: str) -> dict[str, Any]:
    kb = current_kb(session)
    cv = _version(session, component, version)
    refresh(session, [cv.id], kb=kb)
    svc = session.info[_FRESH][cv.id]
    questions = []
    for qid in svc.survey.shown:
        q = kb.questions[qid]
        questions.append(
            {
                "id": qid,
                "text": q.text,
                "type": q.type,
                "options": [o.value for o in q.options],
                "answer": svc.survey.answers.get(qid),
                "source": svc.survey.provenance.get(qid),
                "help": q.help,
            }
        )
    return {
        "component": svc.component_key,
        "version": cv.version,
        "kb_version": kb.version,
        "questions": questions,
        "answered": sum(1 for q in questions if q["source"] in ("answered", "inherited")),
        "prefilled": sum(
            1 for q in questions if q["source"] in ("prefilled", "implied", "default")
        ),
        "unanswered": list(svc.survey.unanswered),
        "facts": {k: v for k, v in sorted(svc.facts.items()) if not k.startswith("survey.")},
    }


def threat_model(session: Session, component: str, version: str) -> dict[str, Any]:
    """The whole model of one component version: threats with why, link threats with the
    other end, control tasks with their state."""
    kb = current_kb(session)
    cv = _version(session, component, version)
    refresh(session, [cv.id], kb=kb)
    names = {a: b for a, b in session.execute(select(Component.id, Component.key))}
    threats = []
    for row in session.scalars(
        select(ModelThreat)
        .where(ModelThreat.component_version_id == cv.id, ModelThreat.active.is_(True))
        .order_by(ModelThreat.role, ModelThreat.threat_key, ModelThreat.peer_component_id)
    ):
        threat = kb.threats.get(row.threat_key)
        threats.append(
            {
                "threat": row.threat_key,
                "title": threat.title if threat else row.threat_key,
                "stride": threat.stride if threat else None,
                "scope": "link" if row.role != "service" else "service",
                "role": row.role,
                "peer": names.get(row.peer_component_id) if row.peer_component_id else None,
                "cwe": [f"CWE-{c}" for c in threat.cwe] if threat else [],
                "likelihood": row.likelihood,
                "impact": row.impact,
                "why": list(row.why),
            }
        )
    platforms = {a: b for a, b in session.execute(select(Platform.id, Platform.name))}
    tasks = [
        task_view(session, kb, task, cv, platforms)
        for task in session.scalars(
            select(ControlTask)
            .where(ControlTask.component_version_id == cv.id)
            .order_by(ControlTask.active.desc(), ControlTask.control_key)
        )
    ]
    return {
        "component": names[cv.component_id],
        "version": cv.version,
        "kb_version": kb.version,
        "threats": threats,
        "controls": tasks,
    }


def list_controls(
    session: Session,
    *,
    application: str | None = None,
    component: str | None = None,
    version: str | None = None,
    status: str | None = None,
    include_inactive: bool = False,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Control tasks across the estate (or an application's latest version, or a component),
    one row per component version and control, ordered and paged in SQL."""
    kb = current_kb(session)
    query = (
        select(ControlTask, ComponentVersion, Component.key)
        .join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
    )
    query = _scoped(session, query, kb, application, component, version, domain_ids)
    if not include_inactive:
        query = query.where(ControlTask.active.is_(True))
    if status is not None:
        effective = case((ControlTask.platform_id.is_not(None), "done"), else_=ControlTask.status)
        query = query.where(effective == status)
    query = query.order_by(Component.key, ComponentVersion.version, ControlTask.control_key)
    platforms = {a: b for a, b in session.execute(select(Platform.id, Platform.name))}
    return [
        {"component": key, "version": cv.version, **task_view(session, kb, task, cv, platforms)}
        for task, cv, key in session.execute(query.offset(offset).limit(limit))
    ]


def _scoped(
    session: Session,
    query: Any,
    kb: KnowledgeBase,
    application: str | None,
    component: str | None,
    version: str | None,
    domain_ids: set[int] | None,
) -> Any:
    """An application's or a component's versions (refreshed first), or the whole estate
    as stored (``meshward threats refresh`` brings it up to date), within ``domain_ids``."""
    if application is not None or component is not None:
        cv_ids = _scope_versions(session, application, component, version, domain_ids)
        refresh(session, cv_ids, kb=kb)
        return query.where(ComponentVersion.id.in_(cv_ids))
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    return query


def list_threats(
    session: Session,
    *,
    application: str | None = None,
    component: str | None = None,
    version: str | None = None,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Active threats per component version (link threats with the other end), ordered and
    paged in SQL."""
    kb = current_kb(session)
    peer = aliased(Component)
    query = (
        select(ModelThreat, ComponentVersion.version, Component.key, peer.key)
        .join(ComponentVersion, ComponentVersion.id == ModelThreat.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .outerjoin(peer, peer.id == ModelThreat.peer_component_id)
        .where(ModelThreat.active.is_(True))
    )
    query = _scoped(session, query, kb, application, component, version, domain_ids)
    query = query.order_by(
        Component.key, ComponentVersion.version, ModelThreat.threat_key, peer.key, ModelThreat.role
    )
    rows = []
    for row, cv_version, key, peer_key in session.execute(query.offset(offset).limit(limit)):
        threat = kb.threats.get(row.threat_key)
        rows.append(
            {
                "component": key,
                "version": cv_version,
                "threat": row.threat_key,
                "title": threat.title if threat else row.threat_key,
                "stride": threat.stride if threat else None,
                "role": row.role,
                "peer": peer_key,
                "risk": row.likelihood * row.impact,
                "why": list(row.why),
            }
        )
    return rows


def app_members(
    session: Session, application: str, version: str | None = None
) -> tuple[Application, ApplicationVersion, dict[int, int]]:
    """An application, its version (the latest when none is named) and its members
    (component id -> component version id)."""
    app = catalog.get_application(session, application)
    if version is None:
        av = catalog._latest_app_version(session, app)
    else:
        av = session.scalars(
            select(ApplicationVersion).where(
                ApplicationVersion.application_id == app.id, ApplicationVersion.version == version
            )
        ).first()
    if av is None:
        raise NotFoundError(f"application {application} has no version {version or 'yet'}")
    return app, av, catalog._members(session, av.id)


def _scope_versions(
    session: Session,
    application: str | None,
    component: str | None,
    version: str | None,
    domain_ids: set[int] | None,
) -> list[int]:
    if application is not None:
        ids = set(app_members(session, application)[2].values())
    elif component is not None:
        comp = catalog.get_component(session, component)
        query = select(ComponentVersion.id).where(ComponentVersion.component_id == comp.id)
        if version is not None:
            query = query.where(ComponentVersion.version == version)
        ids = set(session.scalars(query))
        if version is not None and not ids:
            raise NotFoundError(f"{component} has no version {version}")
    else:
        ids = set(session.scalars(select(ComponentVersion.id)))
    if domain_ids is not None and ids:
        visible = set(
            session.scalars(
                select(ComponentVersion.id)
                .join(Component, Component.id == ComponentVersion.component_id)
                .where(Component.domain_id.in_(sorted(domain_ids)))
            )
        )
        ids &= visible
    return sorted(ids)
