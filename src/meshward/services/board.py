"""The controls board: every control task of the newest versions (or of an application,
a service, a team), by status and verification state, most urgent first; totals and page
order kept per data revision (``store.revision``), verification states read on every view."""

from __future__ import annotations

import hashlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from threading import Lock
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from meshward.store import revision
from meshward.store.models import (
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Domain,
)
from meshward.store.scan_models import ControlVerification
from meshward.store.threat_models import ControlTask, Platform


@dataclass
class BoardFilter:
    team: str | None = None
    """A component owner (``group:payments-team``)."""
    application: str | None = None
    """Members of the application's latest version, instead of every component's newest."""
    component: str | None = None
    controls: Sequence[str] | None = None
    """Control keys (a priority filter becomes the KB's controls of that priority)."""
    status: Sequence[str] = ()
    verification: Sequence[str] = ()
    domain_ids: set[int] | None = None


@dataclass
class BoardTask:
    id: int
    component_version_id: int
    component: str
    version: str
    domain: str | None
    owner: str | None
    control: str
    status: str
    """The effective status: ``done`` when a platform satisfies the control."""
    platform: str | None
    verification: str
    reason: str | None
    decided_by: str | None
    assignee: str | None
    due_date: str | None


def board_scope(flt: BoardFilter) -> Any:
    """The component versions a board shows, as a subquery: every component's newest
    version, the members of an application's latest version, or every version of one
    component; narrowed by team and domain."""
    query = select(ComponentVersion.id).join(
        Component, Component.id == ComponentVersion.component_id
    )
    if flt.application is not None:
        latest_app = (
            select(ApplicationVersion.id)
            .join(Application, Application.id == ApplicationVersion.application_id)
            .where(Application.key == flt.application)
            .order_by(ApplicationVersion.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = query.join(
            ApplicationVersionMember,
            ApplicationVersionMember.component_version_id == ComponentVersion.id,
        ).where(ApplicationVersionMember.application_version_id == latest_app)
    elif flt.component is None:
        newest = select(func.max(ComponentVersion.id)).group_by(ComponentVersion.component_id)
        query = query.where(ComponentVersion.id.in_(newest))
    if flt.team:
        query = query.where(Component.owner == flt.team)
    if flt.component:
        query = query.where(Component.key == flt.component)
    if flt.domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(flt.domain_ids)))
    return query


BOARD_INPUTS = (
    "application_version_members",
    "application_versions",
    "applications",
    "component_versions",
    "components",
    "control_tasks",
    "domains",
    "platforms",
)
"""Tables the kept board reads come from (verification states are read on every view)."""
BOARD_KEPT = 256
"""Board reads (totals, sizes, page ids) kept per engine at the current data revision."""
_board_kept: WeakKeyDictionary[Any, tuple[revision.Revision, OrderedDict[tuple[Any, ...], Any]]] = (
    WeakKeyDictionary()
)
"""Per engine: a data revision and the board reads made at it, most recently used last. Only
reads of tracked tables are kept: verification states (``control_verifications``, rewritten
by reads, so not tracked) are always read afresh."""
_board_lock = Lock()
_T = TypeVar("_T")
BOARD_OTHERS_KEPT = 2000
"""A page of unverified tasks is kept per the tasks verified otherwise, up to this many (they
are named in the page's query)."""


def _board_key(flt: BoardFilter) -> tuple[Any, ...]:
    return (
        flt.team,
        flt.application,
        flt.component,
        None if flt.controls is None else tuple(sorted(set(flt.controls))),
        tuple(sorted(set(flt.status))),
        tuple(sorted(set(flt.verification))),
        None if flt.domain_ids is None else frozenset(flt.domain_ids),
    )


def _kept(session: Session, key: tuple[Any, ...], read: Callable[[], _T]) -> _T:
    """``read()``, or what it gave earlier at the same data revision: the board's scans of a
    whole estate's tasks then run once per change, not once per view. A transaction that has
    written reads afresh and keeps nothing."""
    rev = revision.current(session, BOARD_INPUTS)
    if rev is None:
        return read()
    engine = session.get_bind()
    with _board_lock:
        kept = _board_kept.get(engine)
        if kept is not None and kept[0] == rev and key in kept[1]:
            kept[1].move_to_end(key)
            value: _T = kept[1][key]
            return value
    value = read()
    with _board_lock:
        kept = _board_kept.get(engine)
        if kept is None or kept[0] < rev:
            kept = (rev, OrderedDict())
            _board_kept[engine] = kept
        if kept[0] == rev:
            kept[1][key] = value
            while len(kept[1]) > BOARD_KEPT:
                kept[1].popitem(last=False)
    return value


def board_size(session: Session, flt: BoardFilter) -> int:
    scope = BoardFilter(
        team=flt.team,
        application=flt.application,
        component=flt.component,
        domain_ids=flt.domain_ids,
    )
    return _kept(
        session,
        ("size", *_board_key(scope)),
        lambda: int(
            session.scalar(select(func.count()).select_from(board_scope(scope).subquery())) or 0
        ),
    )


def effective_status_sql() -> Any:
    return case((ControlTask.platform_id.is_not(None), "done"), else_=ControlTask.status)


def _verification_state() -> Any:
    return func.coalesce(ControlVerification.state, "unverified")


def _verification_join(query: Any) -> Any:
    return query.outerjoin(
        ControlVerification,
        and_(
            ControlVerification.component_version_id == ControlTask.component_version_id,
            ControlVerification.control_key == ControlTask.control_key,
        ),
    )


def _task_conditions(flt: BoardFilter) -> list[Any]:
    """What picks the board's tasks under ``flt``, verification aside."""
    where: list[Any] = [
        ControlTask.component_version_id.in_(board_scope(flt)),
        ControlTask.active.is_(True),
    ]
    if flt.controls is not None:
        where.append(ControlTask.control_key.in_(sorted(flt.controls)))
    if flt.status:
        # the effective status, spelled out on the columns: an index can seek a status, and
        # PostgreSQL estimates these rows (a CASE it takes for a few hundred of 600,000)
        statuses = sorted(set(flt.status))
        if "done" in statuses:
            where.append(
                or_(ControlTask.platform_id.is_not(None), ControlTask.status.in_(statuses))
            )
        else:
            where.extend((ControlTask.platform_id.is_(None), ControlTask.status.in_(statuses)))
    return where


def _from_verifications(columns: Sequence[Any], flt: BoardFilter) -> Any:
    """The board's tasks under ``flt`` that have a verification row, starting from those rows
    (few: most tasks have none) and looking each task up by its version and control. The
    scope and controls are asked of the verification row, the status of the task found; and
    ``+ 0`` and ``+ ''`` keep SQLite from carrying them over the join's equalities to an
    index of the tasks, which it would then prefer: a walk of every task on the board."""
    query = (
        select(*columns)
        .select_from(ControlVerification)
        .join(
            ControlTask,
            and_(
                ControlTask.component_version_id == ControlVerification.component_version_id + 0,
                ControlTask.control_key == ControlVerification.control_key + "",
            ),
        )
        .where(
            ControlVerification.component_version_id.in_(board_scope(flt)),
            ControlTask.active.is_(True),
        )
    )
    if flt.controls is not None:
        query = query.where(ControlVerification.control_key.in_(sorted(flt.controls)))
    if flt.status:
        query = query.where(effective_status_sql().in_(sorted(set(flt.status))))
    return query


def _board_query(columns: Sequence[Any], flt: BoardFilter) -> Any:
    """The board's tasks under ``flt``. Verification states are never joined to every task
    (most tasks have no verification row, and the join costs a lookup per task): a filter
    without ``unverified`` needs a verification row, so the query starts from those rows; one
    with it wants every task but those whose row has another state, and those are few."""
    query = select(*columns).select_from(ControlTask).where(*_task_conditions(flt))
    if not flt.verification:
        return query
    wanted = list(flt.verification)
    if "unverified" not in wanted:
        return _from_verifications(columns, flt).where(ControlVerification.state.in_(wanted))
    return query.where(ControlTask.id.not_in(_verified_otherwise(flt).correlate(None)))


def _verified_otherwise(flt: BoardFilter) -> Any:
    """The ids of the board's tasks whose verification row has a state ``flt`` does not
    want: what a filter that wants unverified tasks leaves out."""
    return _from_verifications([ControlTask.id], replace(flt, verification=())).where(
        ControlVerification.state.not_in(list(flt.verification))
    )


def board_counts(session: Session, flt: BoardFilter) -> dict[tuple[str, str], int]:
    """(effective status, verification state) -> tasks: the board's columns. Two cheap
    queries instead of a join per task: the verification rows that are not ``unverified``
    by status and state, starting from those rows (few: most tasks have none); and, when
    unverified tasks are wanted, the tasks by status (a scan of every task on the board,
    kept per data revision) less the verified ones."""
    status = effective_status_sql()
    wanted = set(flt.verification)
    base = replace(flt, verification=())
    checked = (
        _from_verifications([status, ControlVerification.state, func.count()], base)
        .where(ControlVerification.state != "unverified")
        .group_by(status, ControlVerification.state)
    )
    if wanted and "unverified" not in wanted:
        checked = checked.where(ControlVerification.state.in_(sorted(wanted)))
    out: dict[tuple[str, str], int] = {}
    verified: dict[str, int] = defaultdict(int)
    for a, b, n in session.execute(checked):
        verified[a] += int(n)
        if not wanted or b in wanted:
            out[(a, b)] = int(n)
    if wanted and "unverified" not in wanted:
        return out
    totals = _kept(
        session,
        ("totals", *_board_key(base)),
        lambda: {
            str(a): int(n)
            for a, n in session.execute(_board_query([status, func.count()], base).group_by(status))
        },
    )
    for a, n in totals.items():
        if n - verified[a] > 0:
            out[(a, "unverified")] = n - verified[a]
    return out


def board_tasks(
    session: Session,
    flt: BoardFilter,
    ranks: Sequence[Sequence[str]],
    *,
    offset: int,
    limit: int,
) -> list[BoardTask]:
    """One page of the board's tasks, most urgent first: by the group of ``ranks`` its control
    is in (the KB's controls by priority), then service, newest version and control;
    ``limit`` + 1 rows when there are more. The page's ids are chosen first over narrow rows
    (a sort of every task on the board: kept per data revision unless verification states
    are filtered on), then only they are read whole. (A CASE over each control key would test
    every key on each of the 150,000 tasks of a 5,000-service estate; one IN list per rank is
    a lookup each, and the largest list is tried first.)"""
    groups: list[tuple[list[str], int]] = []
    seen: set[str] = set()
    for i, keys in enumerate(ranks):
        own = sorted(set(keys) - seen)  # a key in two ranks counts in the first, as in a CASE
        seen.update(own)
        if own:
            groups.append((own, i))
    groups.sort(key=lambda group: -len(group[0]))  # disjoint: the order of the tests is free
    whens = [(ControlTask.control_key.in_(keys), i) for keys, i in groups]
    order = case(*whens, else_=len(ranks)) if whens else None
    ordering = [
        *([order] if order is not None else []),
        Component.name,
        ComponentVersion.id.desc(),
        ControlTask.control_key,
    ]

    def page_ids(tasks: Any) -> Callable[[], tuple[int, ...]]:
        page = (
            tasks.join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
            .join(Component, Component.id == ComponentVersion.component_id)
            .order_by(*ordering)
            .offset(offset)
            .limit(limit)
        )
        return lambda: tuple(session.scalars(page))

    key = ("page", *_board_key(flt), tuple((i, tuple(keys)) for keys, i in groups), offset, limit)
    if not flt.verification:
        ids = _kept(session, key, page_ids(_board_query([ControlTask.id], flt)))
    elif "unverified" in flt.verification:
        # every task but the few verified otherwise: read those afresh, and the page (a sort
        # of every task) is then kept per revision and that set of tasks
        others = sorted(session.scalars(_verified_otherwise(flt)))
        if len(others) > BOARD_OTHERS_KEPT:
            ids = page_ids(_board_query([ControlTask.id], flt))()
        else:
            tasks = select(ControlTask.id).where(*_task_conditions(flt))
            if others:
                tasks = tasks.where(ControlTask.id.not_in(others))
            digest = hashlib.blake2b(repr(others).encode(), digest_size=16).digest()
            ids = _kept(session, (*key, digest), page_ids(tasks))
    else:  # only verified tasks: the query starts from their (few) verification rows
        ids = page_ids(_board_query([ControlTask.id], flt))()
    if not ids:
        return []
    query = _verification_join(
        select(
            ControlTask,
            Component.name,
            ComponentVersion.version,
            Domain.path,
            Component.owner,
            Platform.name,
            _verification_state(),
        ).select_from(ControlTask)
    )
    query = (
        query.join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .outerjoin(Domain, Domain.id == Component.domain_id)
        .outerjoin(Platform, Platform.id == ControlTask.platform_id)
        .where(ControlTask.id.in_(ids))
        .order_by(*ordering)
    )
    return [
        BoardTask(
            task.id,
            task.component_version_id,
            name,
            version,
            path,
            owner,
            task.control_key,
            "done" if platform else task.status,
            platform,
            state,
            task.reason,
            task.decided_by,
            task.assignee,
            task.due_date.isoformat() if task.due_date else None,
        )
        for task, name, version, path, owner, platform, state in session.execute(query)
    ]


@dataclass
class TaskRef:
    id: int
    component: str
    """The component's key, as the threat-model services take it."""
    version: str
    control: str
    domain: str | None


def task_refs(session: Session, ids: Sequence[int]) -> list[TaskRef]:
    """What a bulk change names by task id, in one query: whose it is and where it lives."""
    rows = session.execute(
        select(
            ControlTask.id,
            Component.key,
            ComponentVersion.version,
            ControlTask.control_key,
            Domain.path,
        )
        .join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .outerjoin(Domain, Domain.id == Component.domain_id)
        .where(ControlTask.id.in_(sorted(set(ids))))
        .order_by(ControlTask.id)
    ).all()
    return [TaskRef(*row) for row in rows]


def task_ids(session: Session, cv_id: int) -> dict[str, int]:
    """Control key -> task id for one version: what the page's task forms post."""
    return {
        key: tid
        for key, tid in session.execute(
            select(ControlTask.control_key, ControlTask.id).where(
                ControlTask.component_version_id == cv_id
            )
        )
    }


def component_keys(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(
        session.execute(select(Component.id, Component.key).where(Component.id.in_(wanted))).all()
    )


def teams(session: Session, domain_ids: set[int] | None) -> list[str]:
    """Component owners the caller may see: the board's team filter."""
    query = select(Component.owner).where(Component.owner.is_not(None)).distinct()
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    return sorted(o for o in session.scalars(query) if o)
