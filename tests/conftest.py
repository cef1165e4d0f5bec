"""Shared fixtures. ``shared_data`` points at ../shared/data and skips cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


# ---------------------------------------------------------------- databases
#
# The suite runs on SQLite by default and on PostgreSQL when MESHWARD_TEST_DATABASE_URL is set
# (``.ci/run`` does both). SQLite: one migrated template file, copied for each test.
# PostgreSQL: one migrated schema per run, emptied with TRUNCATE before each test.

import os  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from meshward.store.db import Store, make_engine, resolve_database_url, upgrade  # noqa: E402
from meshward.store.models import Base  # noqa: E402

PG_URL = os.environ.get("MESHWARD_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        # one schema per test run, so concurrent runs on the same database never collide
        schema = f"meshward_test_{os.getpid()}"
        admin = make_engine(resolve_database_url(PG_URL))
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{resolve_database_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    yield str(path)


def empty_postgres(url: str) -> None:
    """Every table emptied but ``data_revision``, which keeps counting across tests: a
    revision is never seen twice, so nothing cached by one test can answer another."""
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "data_revision")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db_url(_template_db: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test."""
    if PG_URL:
        empty_postgres(_template_db)
        return _template_db
    target = tmp_path / "meshward.db"
    shutil.copyfile(_template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def session(store: Store) -> Iterator[Session]:
    with store.session() as s:
        yield s


@pytest.fixture(scope="session")
def cyclonedx16_validator(shared_data: Path) -> object:
    """The official CycloneDX 1.6 JSON schema (with the SPDX and JSF schemas it refers to)."""
    import json

    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = shared_data / "sboms" / "cyclonedx" / "schema"

    def retrieve(uri: str) -> object:
        return json.loads((schemas / uri.rsplit("/", 1)[-1]).read_text())

    schema = json.loads((schemas / "bom-1.6.schema.json").read_text())
    return jsonschema_rs.validator_for(schema, retriever=retrieve)
