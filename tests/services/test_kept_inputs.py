"""What each read kept across transactions depends on, checked against what it really reads.

A kept read is keyed by the data revisions of the tables it declares (``store.revision``); a
table it reads but does not declare would let a change to it go unseen. The demo organisation
(surveys, platforms, deployments, Kubernetes facts, SBOMs, scans, applications) exercises
every read."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from meshward.demo.load import load_demo
from meshward.services import board, impact, model_facts, risk
from meshward.services import threat_models as tm
from meshward.store.db import Store
from meshward.store.models import Application, Component, ComponentVersion

_READ = re.compile(r"\b(?:FROM|JOIN)\s+\"?(\w+)", re.IGNORECASE)
NOT_INPUTS = {"data_revision"}


@pytest.fixture
def demo(store: Store) -> Iterator[Store]:
    with store.session() as s:
        load_demo(s)
    yield store


def _tables_read(store: Store, work: Callable[[Session], Any]) -> set[str]:
    read: set[str] = set()

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            read.update(t.lower() for t in _READ.findall(statement))

    with store.session() as s:
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            work(s)
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
    return read - NOT_INPUTS


def test_threat_model_refresh_reads_only_declared_inputs(demo: Store) -> None:
    def work(s: Session) -> None:
        model_facts._SBOM_FACTS.clear()  # what SBOMs say is kept per document: read it again
        tm.refresh(s, list(s.scalars(select(ComponentVersion.id))))

    read = _tables_read(demo, work)
    assert {"surveys", "platform_members", "deployments", "occurrences", "scans"} <= read
    outputs = {"model_threats", "model_states", "control_tasks", "kb_entries"}
    assert read - outputs <= set(tm.MODEL_INPUTS), sorted(read - outputs - set(tm.MODEL_INPUTS))


def test_service_graph_reads_only_declared_inputs(demo: Store) -> None:
    read = _tables_read(demo, risk.read_service_graph)
    assert read == set(risk.GRAPH_INPUTS)


def test_board_reads_only_declared_inputs(demo: Store) -> None:
    def work(s: Session) -> None:
        app = s.scalars(select(Application.key)).first()
        comp = s.scalars(select(Component)).first()
        assert comp is not None
        for flt in (
            board.BoardFilter(),
            board.BoardFilter(application=app, status=("todo",)),
            board.BoardFilter(team=comp.owner, domain_ids={comp.domain_id or 0}),
            board.BoardFilter(component=comp.key, verification=("unverified", "failed")),
        ):
            board.board_size(s, flt)
            board.board_counts(s, flt)
            board.board_tasks(s, flt, [["C-X"]], offset=0, limit=10)

    read = _tables_read(demo, work)
    fresh = {"control_verifications"}  # verification states are read on every view
    assert "control_tasks" in read
    assert read - fresh <= set(board.BOARD_INPUTS), sorted(read - fresh - set(board.BOARD_INPUTS))


def test_blast_radius_kept_reads_declare_their_inputs(demo: Store) -> None:
    catalog = _tables_read(demo, lambda s: impact._read_catalog(s.connection(), None))
    assert catalog <= set(impact.CATALOG_INPUTS), sorted(catalog - set(impact.CATALOG_INPUTS))
    assert {"component_versions", "deployments", "application_versions"} <= catalog
    graph = _tables_read(demo, lambda s: impact._read_api_graph(s.connection()))
    assert graph == set(impact.GRAPH_INPUTS)
    documents = _tables_read(demo, lambda s: impact._read_documents(s.connection(), None))
    assert documents == set(impact.DOCUMENT_INPUTS)
