"""Hot bulk paths through the driver (DESIGN.md: executemany of tuples on SQLite, COPY on
PostgreSQL), inside the session's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert plain tuples (values already in their stored form: JSON columns as JSON text,
    times as naive UTC). Several times faster than ORM or Core inserts for 10^4+ rows."""
    if not rows:
        return
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        pg_cursor: Any = dbapi.cursor()
        with pg_cursor, pg_cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cur.close()


def bulk_insert_missing(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    unique: str,
) -> None:
    """Like ``bulk_insert``, skipping rows whose ``unique`` column already exists (another
    upload may have added the same package meanwhile)."""
    if not rows:
        return
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cur: Any = dbapi.cursor()
        with cur:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS _incoming_{table.name} "
                f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cur.execute(f"TRUNCATE _incoming_{table.name}")
            with cur.copy(f"COPY _incoming_{table.name} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _incoming_{table.name} "  # noqa: S608
                f"ON CONFLICT ({unique}) DO NOTHING"
            )
        return
    marks = ", ".join("?" for _ in columns)
    lite = dbapi.cursor()
    try:
        lite.executemany(
            f"INSERT INTO {table.name} ({cols}) VALUES ({marks}) "  # noqa: S608
            f"ON CONFLICT ({unique}) DO NOTHING",
            rows,
        )
    finally:
        lite.close()
