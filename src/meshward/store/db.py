"""Engine, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from meshward.errors import MeshwardError
from meshward.store import (  # noqa: F401
    audit,
    auth_models,
    integration_models,
    revision,
    scan_models,
    threat_models,
)

MIGRATIONS = Path(__file__).with_name("migrations")


def default_database_url() -> str:
    path = Path(user_data_dir("meshward", appauthor=False)) / "meshward.db"
    return f"sqlite:///{path}"


def resolve_database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``MESHWARD_DATABASE_URL``, then a SQLite file in the user's data dir.

    ``postgresql://`` URLs are pointed at psycopg 3, the driver we install."""
    url = explicit or os.environ.get("MESHWARD_DATABASE_URL") or default_database_url()
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[1] if "///" in url else ""
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    revision.install(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")


def ensure_schema(engine: Engine) -> None:
    """Upgrade an empty database (and any SQLite file) by itself; a shared PostgreSQL that is
    behind is left to an explicit ``meshward db upgrade`` so replicas never race a migration."""
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return
    if current is None or engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise MeshwardError(
        f"database schema is at {current}, this meshward needs {head}: run `meshward db upgrade`"
    )


class Store:
    """One database: an engine plus a session factory."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_database_url(url)
        self.engine = make_engine(self.url)
        if migrate:
            ensure_schema(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self._sessions)

    @contextmanager
    def session(self, actor: audit.Actor | None = None) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error, so a
        failed import changes nothing. ``actor`` is who the audit trail names."""
        with self._sessions() as session, session.begin():
            if actor is not None:
                session.info["actor"] = actor
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
