"""The data revision moves on every committed change, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, update

from meshward.services import catalog
from meshward.store import audit, revision
from meshward.store.bulk import bulk_insert
from meshward.store.db import Store
from meshward.store.models import Domain, Environment


def _rev(store: Store) -> int:
    with store.session() as s:
        value = revision.current(s)
    assert value is not None
    return value


def test_a_committed_write_moves_the_revision_once(store: Store) -> None:
    before = _rev(store)
    with store.session() as s:
        s.add(Domain(key="domain:default/a", name="a", path="a"))
        s.flush()
        s.execute(update(Domain).values(name="b"))
    assert _rev(store) == before + 1
    with store.session() as s:
        s.execute(delete(Domain))
    assert _rev(store) == before + 2


def test_reads_and_untracked_tables_leave_it(store: Store) -> None:
    before = _rev(store)
    with store.session() as s:
        s.scalars(select(Domain)).all()
        audit.record(s, "test.read", "domain", "a")
    assert _rev(store) == before


def test_a_rollback_leaves_it_and_forgets_the_write(store: Store) -> None:
    before = _rev(store)
    with pytest.raises(RuntimeError), store.session() as s:
        s.execute(insert(Environment).values(name="prod", production=True))
        raise RuntimeError("fail the import")
    assert _rev(store) == before
    with store.session():
        pass
    assert _rev(store) == before


def test_a_transaction_that_has_written_reads_no_revision(store: Store) -> None:
    with store.session() as s:
        assert revision.current(s) is not None
        catalog.ensure_environment(s, "staging")
        s.flush()
        assert revision.current(s) is None


def test_driver_level_bulk_writes_count(store: Store) -> None:
    before = _rev(store)
    with store.session() as s:
        bulk_insert(s, Environment.__table__, ["name", "production"], [("qa", False)])  # type: ignore[arg-type]
    assert _rev(store) == before + 1


def test_another_process_sees_the_change(db_url: str, store: Store) -> None:
    other = Store(db_url)
    try:
        before = _rev(other)
        with store.session() as s:
            catalog.ensure_environment(s, "prod")
        assert _rev(other) == before + 1
    finally:
        other.dispose()
