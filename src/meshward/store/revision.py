"""The data revision: one counter that every committed change to the estate's data moves on.

Reads that are costly and whose inputs change rarely (the facts behind a threat model, the
catalog behind a blast radius) are kept per engine, tagged with the revision they were read
at, and used again while the revision stands. Any process may write (CLI, API workers, a
pipeline): the counter lives in the database (``data_revision``, migration 0010), so every
process sees every other's changes.

How it moves: every statement that writes (``INSERT``, ``UPDATE``, ``DELETE``, ``TRUNCATE``,
also the driver-level bulk paths of ``store.bulk``) marks its connection unless its table is
pure bookkeeping or output (``UNTRACKED``); the commit of a marked connection adds one to the
counter in the same transaction, just before the database commits it, so the row lock is held
only for the commit itself. A rollback forgets the mark. A transaction that has written
reads no revision (``current`` gives None): its own uncommitted changes must not be served
from, nor stored into, a cache that other transactions share.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

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
"""Tables whose writes do not move the revision. Anything else does: a new table is tracked
until someone shows it feeds no cached read."""

_WRITE = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM"
    r"|TRUNCATE(?:\s+TABLE)?)\s+\"?(\w+)",
    re.IGNORECASE,
)
_DIRTY = "meshward.revision_dirty"
_MIGRATING = "meshward.migrating"
_BUMP = "UPDATE data_revision SET value = value + 1 WHERE id = 1"
_READ = text("SELECT value FROM data_revision WHERE id = 1")


def mark(conn: Connection, table: str) -> None:
    """A write to ``table`` on ``conn`` that SQLAlchemy does not see (driver-level bulk)."""
    if table not in UNTRACKED:
        conn.info[_DIRTY] = True


def _before_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if conn.info.get(_DIRTY) or conn.info.get(_MIGRATING):
        return
    head = statement[:200]
    found = _WRITE.match(head)
    if found is not None:
        mark(conn, found.group(1).lower())
    elif head.lstrip()[:4].upper() == "WITH" and re.search(
        r"\b(INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE
    ):
        conn.info[_DIRTY] = True


def _commit(conn: Connection) -> None:
    if not conn.info.pop(_DIRTY, False) or conn.info.get(_MIGRATING):
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.execute(_BUMP)
    finally:
        cur.close()


def _forget(conn: Connection, *_: Any) -> None:
    conn.info.pop(_DIRTY, None)


def _reset(_dbapi: Any, record: Any, _state: Any) -> None:
    record.info.pop(_DIRTY, None)


def install(engine: Engine) -> None:
    """Track writes on ``engine`` (``store.db.make_engine`` does this for every engine)."""
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine.pool, "reset", _reset)


def current(session: Session) -> int | None:
    """The committed revision this transaction reads at, or None when it has written
    (cached reads must then be computed afresh and not kept)."""
    conn = session.connection()
    if conn.info.get(_DIRTY):
        return None
    value = conn.execute(_READ).scalar()
    return None if value is None else int(value)


def migrating(conn: Connection, on: bool) -> None:
    """Migrations write before ``data_revision`` exists: their writes are not tracked."""
    if on:
        conn.info[_MIGRATING] = True
    else:
        conn.info.pop(_MIGRATING, None)
