"""The data revision moves on every committed change, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, update

from meshward.services import catalog
from meshward.store import audit, revision
from meshward.store.bulk import bulk_insert
from meshward.store.db import Store
from meshward.store.models import Domain, Environment


def _rev(store: Store, *tables: str) -> int:
    with store.session() as s:
        value = revision.current(s, tables or None)
    assert value is not None
    return sum(value)


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
        assert revision.current(s, ["environments", "components"]) is None
        assert revision.current(s, ["components"]) is not None  # not written here


def test_each_table_counts_on_its_own(store: Store) -> None:
    envs, domains = _rev(store, "environments"), _rev(store, "domains")
    with store.session() as s:
        catalog.ensure_environment(s, "prod")
    assert _rev(store, "environments") == envs + 1
    assert _rev(store, "domains") == domains
    assert _rev(store, "environments", "domains") == envs + domains + 1


@pytest.mark.parametrize(
    ("statement", "tables"),
    [
        ("SELECT * FROM components", []),
        ('INSERT INTO "components" (key) VALUES (?)', ["components"]),
        ("INSERT OR IGNORE INTO packages VALUES (1)", ["packages"]),
        ("update findings set state = 'x'", ["findings"]),
        ("DELETE FROM surveys WHERE id = 1", ["surveys"]),
        ("TRUNCATE domains, components RESTART IDENTITY CASCADE", ["domains", "components"]),
        ("TRUNCATE TABLE deployments", ["deployments"]),
        ("WITH x AS (SELECT 1) SELECT * FROM x", []),
        ("WITH x AS (SELECT 1) INSERT INTO scans SELECT * FROM x", ["scans"]),
        ("INSERT", [revision.UNKNOWN]),
    ],
)
def test_written_tables_are_told_from_the_statement(statement: str, tables: list[str]) -> None:
    assert revision.written(statement) == tables


def test_an_unknown_write_moves_every_revision(store: Store) -> None:
    before = _rev(store, "components")
    with store.session() as s:
        revision.mark(s.connection(), revision.UNKNOWN)
    assert _rev(store, "components") == before + 1


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


def test_kept_values_follow_their_tables(store: Store) -> None:
    reads: list[int] = []
    kept: revision.Kept[int] = revision.Kept(["environments"])

    def read() -> int:
        reads.append(1)
        return len(reads)

    with store.session() as s:
        assert kept.get(s, read) == 1
    with store.session() as s:
        assert kept.get(s, read) == 1  # kept
        s.add(Domain(key="domain:default/x", name="x", path="x"))  # another table
    with store.session() as s:
        assert kept.get(s, read) == 1
        catalog.ensure_environment(s, "prod")
        s.flush()
        assert kept.get(s, read) == 2  # its own uncommitted write: read afresh, not kept
    assert kept.value(store.engine) == 1
    with store.session() as s:
        assert kept.get(s, read) == 3  # the committed write moved the revision
        assert kept.get(s, read) == 3
