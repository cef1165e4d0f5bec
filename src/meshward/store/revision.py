"""Data revisions: counters that committed changes move on, one per table.

Reads that are costly and whose inputs change rarely (the facts behind a threat model, the
catalog behind a blast radius) are kept per engine, tagged with the revisions of the tables
they read, and used again while those stand. Any process may write (CLI, API workers, a
pipeline): the counters live in the database (``data_revision``, migration 0010), so every
process sees every other's changes. Per table, so that what changes all day (findings under
triage and matching, tickets, audit) does not throw away what depends on the catalog only.

How they move: every statement that writes (``INSERT``, ``UPDATE``, ``DELETE``, ``TRUNCATE``,
also the driver-level bulk paths of ``store.bulk``) notes its table on its connection unless
the table is bookkeeping or output (``UNTRACKED``); the commit of a connection with notes adds
one to each noted table's counter in the same transaction, just before the database commits
it (in name order, so two commits never wait on each other crosswise), so the row locks are
held only for the commit itself. A rollback forgets the notes. A transaction that has written
one of the tables a read depends on gets no revision (``current`` gives None): its own
uncommitted changes must not be served from, nor stored into, a cache other transactions
share.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

Revision = tuple[int, ...]

UNTRACKED = frozenset(
    {
        # bookkeeping: written by reads, sign-ins and deliveries, read by no cached view
        "alembic_version",
        "audit_events",
        "api_tokens",
        "ticket_outbox",
        "ticket_links",
        "notification_deliveries",
        # outputs: derived from the inputs the caches are keyed on, rewritten by the reads
        # that bring them up to date (a threat-model refresh writes these on a page view)
        "model_threats",
        "model_states",
        "control_verifications",
        "risk_snapshots",
        "data_revision",
    }
)
"""Tables whose writes move no counter. Anything else does: a new table is tracked until
someone shows it feeds no cached read."""

UNKNOWN = "*"
"""Noted for a write whose table could not be told: every revision includes it."""

_HEAD = re.compile(r"\s*(INSERT|REPLACE|UPDATE|DELETE|TRUNCATE|WITH)\b", re.IGNORECASE)
_TARGET = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
    r"\s+\"?(\w+)",
    re.IGNORECASE,
)
_TRUNCATE = re.compile(
    r"\s*TRUNCATE\s+(?:TABLE\s+)?(.*?)(?:\s+(?:RESTART|CONTINUE|CASCADE|RESTRICT)\b|$)",
    re.IGNORECASE | re.DOTALL,
)
_NOTES = "meshward.revision_notes"
_MIGRATING = "meshward.migrating"
_READ = text("SELECT name, value FROM data_revision")
_BUMP = {
    "sqlite": "INSERT INTO data_revision (name, value) VALUES (?, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = data_revision.value + 1",
    "postgresql": "INSERT INTO data_revision (name, value) VALUES (%s, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = data_revision.value + 1",
}


def mark(conn: Connection, table: str) -> None:
    """A write to ``table`` on ``conn`` that SQLAlchemy does not see (driver-level bulk)."""
    if table not in UNTRACKED:
        conn.info.setdefault(_NOTES, set()).add(table)


def written(statement: str) -> list[str]:
    """The tables a statement writes ([] for a read; [UNKNOWN] when it cannot be told)."""
    head = _HEAD.match(statement)
    if head is None:
        return []
    if head.group(1).upper() == "TRUNCATE":
        found = _TRUNCATE.match(statement)
        names = found.group(1) if found else ""
        tables = [n.strip().strip('"').lower() for n in names.split(",") if n.strip()]
        return tables or [UNKNOWN]
    tables = [t.lower() for t in _TARGET.findall(statement)]
    if head.group(1).upper() == "WITH":
        return tables
    return tables or [UNKNOWN]


def _before_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if conn.info.get(_MIGRATING):
        return
    for table in written(statement):
        mark(conn, table)


def _commit(conn: Connection) -> None:
    notes = conn.info.pop(_NOTES, None)
    if notes and not conn.info.get(_MIGRATING):
        _move(conn, notes)


def _move(conn: Connection, tables: Iterable[str]) -> None:
    """Add one to each table's counter, in name order, through the driver (no events)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.executemany(_BUMP[conn.dialect.name], [(t,) for t in sorted(set(tables))])
    finally:
        cur.close()


def move(engine: Engine, tables: Iterable[str]) -> None:
    """What a committed write to ``tables`` does to every kept read, without the write
    (``bench/web.py --after-write``)."""
    with engine.begin() as conn:
        _move(conn, tables)


def _forget(conn: Connection, *_: Any) -> None:
    conn.info.pop(_NOTES, None)


def _reset(_dbapi: Any, record: Any, _state: Any) -> None:
    record.info.pop(_NOTES, None)


def install(engine: Engine) -> None:
    """Track writes on ``engine`` (``store.db.make_engine`` does this for every engine)."""
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine.pool, "reset", _reset)


def read_counters(session: Session) -> dict[str, int]:
    """Every table's committed counter as this transaction reads it now: one read for a call
    that looks up several kept values (``Kept.get(..., counters=...)``)."""
    return {name: int(value) for name, value in session.connection().execute(_READ)}


def current(
    session: Session,
    tables: Iterable[str] | None = None,
    counters: Mapping[str, int] | None = None,
) -> Revision | None:
    """The committed revision of ``tables`` (None: of every table) this transaction reads
    at (from ``counters`` when given, else read now), or None when it has written one of
    them (cached reads must then be computed afresh and not kept). Counters only grow, so
    equal revisions mean nothing changed."""
    conn = session.connection()
    notes: set[str] = conn.info.get(_NOTES) or set()
    wanted = None if tables is None else (*tables, UNKNOWN)
    if notes if wanted is None else notes.intersection(wanted):
        return None
    values = read_counters(session) if counters is None else counters
    if wanted is None:
        return (sum(values.values()),)
    return tuple(int(values.get(t, 0)) for t in wanted)


_T = TypeVar("_T")


class Kept(Generic[_T]):
    """One value per engine, read again when the revision of ``tables`` has moved. A
    transaction that has written one of them reads its own and keeps nothing; a value is kept
    only if no commit to them landed while it was read (each statement of a READ COMMITTED
    transaction sees the latest data: what is kept under a revision is what it holds)."""

    def __init__(self, tables: Iterable[str]) -> None:
        self.tables = tuple(tables)
        self._by_engine: WeakKeyDictionary[Any, tuple[Revision, _T | None]] = WeakKeyDictionary()

    def get(
        self,
        session: Session,
        read: Callable[[], _T],
        counters: Mapping[str, int] | None = None,
    ) -> _T:
        """The kept value, or ``read()`` (kept when it may be). ``counters``: as
        ``read_counters`` gave them earlier in this call (else they are read now)."""
        at = current(session, self.tables, counters)
        if at is not None:
            kept = self._by_engine.get(session.get_bind())
            if kept is not None and kept[0] == at and kept[1] is not None:
                return kept[1]
        return self._read(session, at, read)

    def settled(
        self,
        session: Session,
        read: Callable[[], _T],
        counters: Mapping[str, int] | None = None,
    ) -> _T | None:
        """Like ``get``, but None (the caller reads only the part it needs) in a transaction
        that has written one of ``tables`` and on the first call at a revision: the whole is
        read on the second, so where writes come faster than reads it is never read in vain."""
        at = current(session, self.tables, counters)
        if at is None:
            return None
        engine = session.get_bind()
        kept = self._by_engine.get(engine)
        if kept is None or kept[0] != at:
            self._by_engine[engine] = (at, None)
            return None
        return kept[1] if kept[1] is not None else self._read(session, at, read)

    def _read(self, session: Session, at: Revision | None, read: Callable[[], _T]) -> _T:
        value = read()
        if at is not None and current(session, self.tables) == at:
            self._by_engine[session.get_bind()] = (at, value)
        return value

    def value(self, engine: Any) -> _T | None:
        """What is kept for ``engine`` (tests and benchmarks look)."""
        kept = self._by_engine.get(engine)
        return None if kept is None else kept[1]

    def values(self) -> list[_T]:
        """Every engine's kept value."""
        return [value for _, value in self._by_engine.values() if value is not None]

    def clear(self) -> None:
        self._by_engine.clear()


def migrating(conn: Connection, on: bool) -> None:
    """Migrations write before ``data_revision`` exists: their writes are not tracked."""
    if on:
        conn.info[_MIGRATING] = True
    else:
        conn.info.pop(_MIGRATING, None)
