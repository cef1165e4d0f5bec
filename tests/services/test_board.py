"""The controls board's reads (``board.board_counts``, ``board_tasks``, ``board_size``) give
what the plain queries give (one LEFT JOIN of every task to its verification, one CASE sort),
under every kind of filter, and stay right across changes although they keep what they read
per data revision: a tracked change is seen at once, and verification states (an untracked
table) are always read afresh."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from meshward.demo.load import load_demo
from meshward.services import board as controls_board
from meshward.services import threat_models as tm
from meshward.store import revision
from meshward.store.db import Store
from meshward.store.models import Component, ComponentVersion, Domain
from meshward.store.scan_models import ControlVerification
from meshward.store.threat_models import ControlTask

PRIORITIES = ("critical", "high", "medium", "low")
VERIFICATION = ("verified", "partially_verified", "failed", "unverified")

# ---------------------------------------------------------------- the plain queries


def _reference_query(columns: Sequence[Any], flt: controls_board.BoardFilter) -> Any:
    query = (
        select(*columns)
        .select_from(ControlTask)
        .outerjoin(
            ControlVerification,
            and_(
                ControlVerification.component_version_id == ControlTask.component_version_id,
                ControlVerification.control_key == ControlTask.control_key,
            ),
        )
        .where(
            ControlTask.component_version_id.in_(controls_board.board_scope(flt)),
            ControlTask.active.is_(True),
        )
    )
    status = case((ControlTask.platform_id.is_not(None), "done"), else_=ControlTask.status)
    if flt.controls is not None:
        query = query.where(ControlTask.control_key.in_(sorted(flt.controls)))
    if flt.status:
        query = query.where(status.in_(list(flt.status)))
    if flt.verification:
        state = func.coalesce(ControlVerification.state, "unverified")
        query = query.where(state.in_(list(flt.verification)))
    return query


def reference_counts(
    session: Session, flt: controls_board.BoardFilter
) -> dict[tuple[str, str], int]:
    status = case((ControlTask.platform_id.is_not(None), "done"), else_=ControlTask.status)
    state = func.coalesce(ControlVerification.state, "unverified")
    query = _reference_query([status, state, func.count()], flt).group_by(status, state)
    return {(a, b): int(n) for a, b, n in session.execute(query)}


def reference_ids(
    session: Session,
    flt: controls_board.BoardFilter,
    ranks: Sequence[Sequence[str]],
    offset: int,
    limit: int,
) -> list[int]:
    whens = [(ControlTask.control_key.in_(sorted(keys)), i) for i, keys in enumerate(ranks) if keys]
    order = [case(*whens, else_=len(ranks))] if whens else []
    query = (
        _reference_query([ControlTask.id], flt)
        .join(ComponentVersion, ComponentVersion.id == ControlTask.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .order_by(*order, Component.name, ComponentVersion.id.desc(), ControlTask.control_key)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def reference_size(session: Session, flt: controls_board.BoardFilter) -> int:
    return int(
        session.scalar(select(func.count()).select_from(controls_board.board_scope(flt).subquery()))
    )


# ---------------------------------------------------------------- the estate


def _ranks(session: Session) -> list[list[str]]:
    kb = tm.current_kb(session)
    return [[k for k, c in kb.controls.items() if c.priority == p] for p in PRIORITIES]


@pytest.fixture
def board(store: Store) -> Iterator[Store]:
    """The demo estate with every status, platform-satisfied and retired tasks, tasks whose
    control the KB does not know, and verification rows in every state (also for versions
    and controls the board does not show)."""
    with store.session() as s:
        load_demo(s)
    with store.session() as s:
        tasks = s.scalars(select(ControlTask).order_by(ControlTask.id)).all()
        statuses = ("in_progress", "done", "not_applicable", "risk_accepted")
        for n, task in enumerate(tasks):
            if n % 3 == 0:
                task.status = statuses[(n // 3) % len(statuses)]
                task.reason = "decided in the test"
            if n % 11 == 5:
                task.active = False
            if n % 37 == 7:
                task.control_key = f"C-UNKNOWN-{n}"
            if n % 4 == 1 or n % 37 == 7:
                s.add(
                    ControlVerification(
                        component_version_id=task.component_version_id,
                        control_key=task.control_key,
                        state=VERIFICATION[(n // 4) % len(VERIFICATION)],
                        evidence=[],
                    )
                )
        cv = tasks[0].component_version_id
        s.add(ControlVerification(component_version_id=cv, control_key="C-NO-TASK", state="failed"))
    yield store


def _filters(session: Session) -> list[controls_board.BoardFilter]:
    ranks = _ranks(session)
    team = controls_board.teams(session, None)[0]
    commerce = session.scalar(select(Domain.id).where(Domain.path == "acme.commerce"))
    scopes = [
        controls_board.BoardFilter(),
        controls_board.BoardFilter(team=team),
        controls_board.BoardFilter(application="system:default/webshop"),
        controls_board.BoardFilter(component="component:default/checkout"),
        controls_board.BoardFilter(controls=ranks[0] + ranks[2]),
        controls_board.BoardFilter(domain_ids={commerce}),
        controls_board.BoardFilter(domain_ids=set()),
    ]
    statuses: list[tuple[str, ...]] = [(), ("todo",), ("done", "not_applicable")]
    states: list[tuple[str, ...]] = [
        (),
        ("unverified",),
        ("failed",),
        ("verified", "partially_verified"),
        ("failed", "unverified"),
    ]
    out = []
    for scope, status, state in itertools.product(scopes, statuses, states):
        out.append(
            controls_board.BoardFilter(
                team=scope.team,
                application=scope.application,
                component=scope.component,
                controls=scope.controls,
                status=list(status),
                verification=list(state),
                domain_ids=scope.domain_ids,
            )
        )
    return out


def _assert_board_as_plain_queries(session: Session) -> None:
    ranks = _ranks(session)
    for flt in _filters(session):
        assert controls_board.board_counts(session, flt) == reference_counts(session, flt), flt
        assert controls_board.board_size(session, flt) == reference_size(session, flt), flt
        total = sum(reference_counts(session, flt).values())
        for offset in sorted({0, 5, max(total - 3, 0), total + 2}):
            got = [
                t.id
                for t in controls_board.board_tasks(session, flt, ranks, offset=offset, limit=8)
            ]
            assert got == reference_ids(session, flt, ranks, offset, 8), (flt, offset)


# ---------------------------------------------------------------- the tests


def test_board_reads_agree_with_the_plain_queries_under_every_filter(board: Store) -> None:
    with board.session() as s:
        everything = reference_counts(s, controls_board.BoardFilter())
        states = {state for _, state in everything}
        statuses = {status for status, _ in everything}
        assert states == set(VERIFICATION) and statuses >= set(tm.STATUSES)
        _assert_board_as_plain_queries(s)
    with board.session() as s:  # the same again, now from what the first pass kept
        _assert_board_as_plain_queries(s)


def test_unverified_pages_beyond_the_kept_size_are_read_each_time(
    board: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controls_board, "BOARD_OTHERS_KEPT", 3)
    with board.session() as s:
        _assert_board_as_plain_queries(s)


def test_pages_follow_the_first_rank_a_control_is_in_and_put_unranked_controls_last(
    board: Store,
) -> None:
    with board.session() as s:
        ranks = _ranks(s)
        overlapping = [ranks[1][:5], ranks[0] + ranks[1][:5], [], ranks[2]]
        flt = controls_board.BoardFilter()
        total = sum(reference_counts(s, flt).values())
        for rank_set in (overlapping, [], [[]], ranks[::-1]):
            for offset in (0, 40, total - 30):
                got = controls_board.board_tasks(s, flt, rank_set, offset=offset, limit=60)
                assert [t.id for t in got] == reference_ids(s, flt, rank_set, offset, 60)
        last = controls_board.board_tasks(s, flt, ranks, offset=total - 10, limit=10)
        assert any(t.control.startswith("C-UNKNOWN-") for t in last)


def _some_task(session: Session, **where: Any) -> ControlTask:
    newest = controls_board.board_scope(controls_board.BoardFilter())
    query = select(ControlTask).where(
        ControlTask.component_version_id.in_(newest),
        ControlTask.active.is_(True),
        ControlTask.platform_id.is_(None),
        *(getattr(ControlTask, k) == v for k, v in where.items()),
    )
    task = session.scalars(query.order_by(ControlTask.id).limit(1)).first()
    assert task is not None
    return task


def test_a_tracked_change_is_seen_by_the_next_view(board: Store) -> None:
    flt = controls_board.BoardFilter(status=["todo"])
    with board.session() as s:
        ranks = _ranks(s)
        before = controls_board.board_counts(s, flt)
        first_page = [t.id for t in controls_board.board_tasks(s, flt, ranks, offset=0, limit=20)]
        task = _some_task(s, id=first_page[0])
        key = s.scalar(
            select(Component.key)
            .join(ComponentVersion, ComponentVersion.component_id == Component.id)
            .where(ComponentVersion.id == task.component_version_id)
        )
        version = s.scalar(
            select(ComponentVersion.version).where(ComponentVersion.id == task.component_version_id)
        )
        at = revision.current(s)
    with board.session() as s:
        tm.set_control(s, key, version, task.control_key, status="in_progress")
    with board.session() as s:
        assert revision.current(s) != at
        after = controls_board.board_counts(s, flt)
        assert after == reference_counts(s, flt)
        assert sum(after.values()) == sum(before.values()) - 1
        page = [t.id for t in controls_board.board_tasks(s, flt, ranks, offset=0, limit=20)]
        assert page == reference_ids(s, flt, ranks, 0, 20) and task.id not in page
        assert controls_board.board_counts(s, controls_board.BoardFilter()) == reference_counts(
            s, controls_board.BoardFilter()
        )


def test_verification_states_are_read_afresh_though_they_move_no_revision(board: Store) -> None:
    failed = controls_board.BoardFilter(verification=["failed"])
    unverified = controls_board.BoardFilter(verification=["unverified", "verified"])
    with board.session() as s:
        ranks = _ranks(s)
        for flt in (controls_board.BoardFilter(), failed, unverified):
            controls_board.board_counts(s, flt)
            controls_board.board_tasks(s, flt, ranks, offset=0, limit=30)
        shown_first = controls_board.board_tasks(s, unverified, ranks, offset=0, limit=30)[0]
        task = s.get_one(ControlTask, shown_first.id)
        has_row = s.scalar(
            select(func.count()).where(
                ControlVerification.component_version_id == task.component_version_id,
                ControlVerification.control_key == task.control_key,
            )
        )
        at = revision.current(s)
    with board.session() as s:
        if has_row:
            s.execute(
                update(ControlVerification)
                .where(
                    ControlVerification.component_version_id == task.component_version_id,
                    ControlVerification.control_key == task.control_key,
                )
                .values(state="failed")
            )
        else:
            s.add(
                ControlVerification(
                    component_version_id=task.component_version_id,
                    control_key=task.control_key,
                    state="failed",
                    evidence=[],
                )
            )
    with board.session() as s:
        assert revision.current(s) == at  # control_verifications is not tracked
        for flt in (controls_board.BoardFilter(), failed, unverified):
            assert controls_board.board_counts(s, flt) == reference_counts(s, flt), flt
            got = [t.id for t in controls_board.board_tasks(s, flt, ranks, offset=0, limit=30)]
            assert got == reference_ids(s, flt, ranks, 0, 30), flt
        shown = controls_board.board_tasks(s, failed, ranks, offset=0, limit=1000)
        assert task.id in {t.id for t in shown}
        shown = controls_board.board_tasks(s, unverified, ranks, offset=0, limit=30)
        assert task.id not in {t.id for t in shown}


class _Undone(Exception):
    """Rolls a test's transaction back."""


def test_a_transaction_that_has_written_reads_its_own_changes_and_keeps_nothing(
    board: Store,
) -> None:
    flt = controls_board.BoardFilter()
    with board.session() as s:
        ranks = _ranks(s)
        controls_board.board_counts(s, flt)
        controls_board.board_tasks(s, flt, ranks, offset=0, limit=10)
    with pytest.raises(_Undone), board.session() as s:
        task = _some_task(s, status="todo")
        s.execute(update(ControlTask).where(ControlTask.id == task.id).values(status="done"))
        assert revision.current(s) is None
        assert controls_board.board_counts(s, flt) == reference_counts(s, flt)
        assert controls_board.board_size(s, flt) == reference_size(s, flt)
        got = [t.id for t in controls_board.board_tasks(s, flt, ranks, offset=0, limit=10)]
        assert got == reference_ids(s, flt, ranks, 0, 10)
        raise _Undone
    with board.session() as s:  # what the rolled-back transaction saw was not kept
        assert controls_board.board_counts(s, flt) == reference_counts(s, flt)
        got = [t.id for t in controls_board.board_tasks(s, flt, ranks, offset=0, limit=10)]
        assert got == reference_ids(s, flt, ranks, 0, 10)
